"""Cross-attention from a feature map to the caption's word tokens (token-level text conditioning).

StyleGAN-T conditions every layer on one pooled text vector, which behaves like a bag of words:
"a blue cube on a red cube" and its swap are nearly the same vector. GigaGAN (Kang et al.,
CVPR 2023) lets each pixel of the generator's feature maps attend to the text *tokens* instead.
`TextCrossAttention` is that layer: queries from the pre-normalised feature map plus a 2D
position encoding, keys and values from the tokens, padding masked out, the result added back
through a per-channel layer scale.
"""

import math

import torch
from einops import rearrange
from torch import nn

from .._typing import Bool, Float, Tensor, check_shape
from .attention import AttentionImpl, attention, check_token_mask, grid_positions

__all__ = ["TextCrossAttention"]


class TextCrossAttention(nn.Module):
    r"""Every pixel attends to the caption's tokens; the result is added back, layer-scaled.

    $$ q = W_q\big(\operatorname{RMS}(x_{ij}) + W_p\, \phi(i, j)\big), \quad
       k = W_k \operatorname{RMS}(t), \quad v = W_v \operatorname{RMS}(t), $$
    $$ x_{ij} \leftarrow x_{ij} + \gamma \odot W_o \operatorname{attn}(q, k, v; m), $$
    with $\phi$ the Fourier features of the pixel's place (`grid_positions`), $m$ the token mask
    (padding takes no part), one attention per head, and the per-channel layer scale $\gamma$
    starting at `layer_scale_init` ($0$: exactly the identity, so the block can be added to a
    trained generator). The tokens carry no position encoding of their own: the text encoder's
    features already depend on word order, and permuting valid tokens with their mask leaves
    the output unchanged.

    Args:
        channels: Channels of the feature map.
        text_dim: Width of the text tokens.
        num_heads: Attention heads.
        head_dim: Width of each head (default: `channels // num_heads`, at least 16).
        layer_scale_init: Initial value of every entry of $\gamma$.
        num_frequencies: Frequencies $F$ of the position encoding ($4F$ features per pixel).
        impl: `"sdpa"` (`scaled_dot_product_attention`) or `"math"` (explicit softmax).
        device: Device of the parameters.
        dtype: Dtype of the parameters.
    """

    def __init__(
        self,
        channels: int,
        text_dim: int,
        *,
        num_heads: int = 4,
        head_dim: int | None = None,
        layer_scale_init: float = 1e-2,
        num_frequencies: int = 4,
        impl: AttentionImpl = "sdpa",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if channels < 1 or text_dim < 1 or num_heads < 1:
            raise ValueError(
                f"channels, text_dim and num_heads must be positive, got {channels}, {text_dim}, {num_heads}")
        if impl not in ("sdpa", "math"):
            raise ValueError(f"impl must be 'sdpa' or 'math', got {impl!r}")
        factory = {"device": device, "dtype": dtype}
        self.channels = channels
        self.text_dim = text_dim
        self.num_heads = num_heads
        self.head_dim = head_dim or max(channels // num_heads, 16)
        self.num_frequencies = num_frequencies
        self.impl: AttentionImpl = impl
        inner = self.num_heads * self.head_dim
        self.norm = nn.RMSNorm(channels, **factory)
        self.text_norm = nn.RMSNorm(text_dim, **factory)
        self.pos = nn.Linear(4 * num_frequencies, channels, bias=False, **factory)
        self.to_q = nn.Linear(channels, inner, bias=False, **factory)
        self.to_k = nn.Linear(text_dim, inner, bias=False, **factory)
        self.to_v = nn.Linear(text_dim, inner, bias=False, **factory)
        self.to_out = nn.Linear(inner, channels, bias=False, **factory)
        self.gamma = nn.Parameter(torch.full((channels,), float(layer_scale_init), **factory))
        with torch.no_grad():
            self.pos.weight.normal_(0.0, 1.0 / math.sqrt(4 * num_frequencies))

    def forward(
        self,
        x: Float[Tensor, "b {self.channels} h w"],
        tokens: Float[Tensor, "b n {self.text_dim}"],
        mask: Bool[Tensor, "b n"],
        *,
        check_mask: bool = True,
        shift: Float[Tensor, "b 2"] | None = None,
    ) -> Float[Tensor, "b {self.channels} h w"]:
        """Add the tokens' attention output to `x`.

        Args:
            x: Feature map.
            tokens: Per-token text features (e.g. `TextEncoding.tokens`).
            mask: `True` for the caption's real tokens; each caption needs one at least.
            check_mask: Check that every caption has a valid token (a device synchronisation;
                a caller that checked already passes `False`).
            shift: Per-sample translation of the position encoding, in image sides (see
                `grid_positions`): where the attention puts a word moves by $-\\delta$.
        """
        check_shape("x", x, (None, self.channels, None, None))
        check_token_mask(tokens, mask, text_dim=self.text_dim, rows=check_mask)
        if tokens.shape[0] != x.shape[0]:
            raise ValueError(f"tokens has batch {tokens.shape[0]}, x has {x.shape[0]}: pass one caption per image")
        height, width = x.shape[-2:]
        seq = rearrange(x, "b c h w -> b (h w) c")
        where = grid_positions(height, width, self.num_frequencies, shift=shift, device=x.device,
                               dtype=self.pos.weight.dtype)
        q = self.to_q(self.norm(seq) + self.pos(where))
        text = self.text_norm(tokens)
        q, k, v = (rearrange(t, "b n (g d) -> b g n d", g=self.num_heads)
                   for t in (q, self.to_k(text), self.to_v(text)))
        out = attention(q, k, v, mask=mask, impl=self.impl)
        out = self.to_out(rearrange(out, "b g n d -> b n (g d)"))
        out = rearrange(out, "b (h w) c -> b c h w", h=height, w=width)
        return x + self.gamma[:, None, None] * out

    def extra_repr(self) -> str:
        return (f"channels={self.channels}, text_dim={self.text_dim}, num_heads={self.num_heads}, "
                f"head_dim={self.head_dim}")
