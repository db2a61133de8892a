"""Self-attention over the pixels of a low-resolution feature map, with stabilised logits.

GigaGAN interleaves self-attention with the convolutions at low resolutions, where one pixel's
receptive field does not yet span the image: two objects of a caption can then be placed with
respect to each other. Plain dot-product attention lets the logits grow with the weights (the
softmax saturates, gradients vanish or explode); `SpatialSelfAttention` bounds them, by
normalising queries and keys (`"qk_norm"`, the default) or with GigaGAN's L2-distance logits and
tied query/key weights (`"l2"`, Lipschitz by construction).
"""

import math
from typing import Literal

import torch
from einops import rearrange
from torch import nn

from .._typing import Float, Tensor, check_shape
from .attention import AttentionImpl, attention, grid_positions

__all__ = ["SpatialSelfAttention", "AttentionLogits"]

AttentionLogits = Literal["qk_norm", "l2", "dot"]


class SpatialSelfAttention(nn.Module):
    r"""Every pixel attends to every pixel of the same feature map; layer-scaled residual.

    $$ u = \operatorname{RMS}(x_{ij}) + W_p\, \phi(i, j), \qquad
       x \leftarrow x + \gamma \odot W_o \operatorname{attn}(q, k, v), $$
    with $v = W_v u$ and the logits, per head, by `logits`:

    - `"qk_norm"`: $\ell_{ij} = \langle \hat q_i, \hat k_j \rangle / \sqrt d$ with
      $\hat q = g_q \odot \operatorname{RMS}(W_q u)$, $\hat k = g_k \odot \operatorname{RMS}(W_k u)$:
      $|\ell| \le \lVert g_q \rVert \lVert g_k \rVert / \sqrt d$ whatever the weights do.
    - `"l2"`: $\ell_{ij} = -\lVert q_i - k_j \rVert^2 / \sqrt d$ with tied $W_q = W_k$
      (Kim et al., 2021: Lipschitz, unlike the dot product).
    - `"dot"`: $\ell_{ij} = \langle q_i, k_j \rangle / \sqrt d$ (unbounded, for comparison).

    $\phi$ is the pixel's Fourier position (`grid_positions`); $\gamma$ starts at
    `layer_scale_init` (0: exactly the identity).

    Args:
        channels: Channels of the feature map.
        num_heads: Attention heads.
        head_dim: Width of each head (default: `channels // num_heads`, at least 16).
        logits: `"qk_norm"`, `"l2"` or `"dot"`.
        layer_scale_init: Initial value of every entry of $\gamma$.
        num_frequencies: Frequencies $F$ of the position encoding.
        impl: `"sdpa"` (`scaled_dot_product_attention`) or `"math"` (explicit softmax).
        device: Device of the parameters.
        dtype: Dtype of the parameters.
    """

    def __init__(
        self,
        channels: int,
        *,
        num_heads: int = 4,
        head_dim: int | None = None,
        logits: AttentionLogits = "qk_norm",
        layer_scale_init: float = 1e-2,
        num_frequencies: int = 4,
        impl: AttentionImpl = "sdpa",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if channels < 1 or num_heads < 1:
            raise ValueError(f"channels and num_heads must be positive, got {channels}, {num_heads}")
        if logits not in ("qk_norm", "l2", "dot"):
            raise ValueError(f"logits must be 'qk_norm', 'l2' or 'dot', got {logits!r}")
        if impl not in ("sdpa", "math"):
            raise ValueError(f"impl must be 'sdpa' or 'math', got {impl!r}")
        factory = {"device": device, "dtype": dtype}
        self.channels = channels
        self.num_heads = num_heads
        self.head_dim = head_dim or max(channels // num_heads, 16)
        self.logits: AttentionLogits = logits
        self.num_frequencies = num_frequencies
        self.impl: AttentionImpl = impl
        inner = self.num_heads * self.head_dim
        self.norm = nn.RMSNorm(channels, **factory)
        self.pos = nn.Linear(4 * num_frequencies, channels, bias=False, **factory)
        self.to_q = nn.Linear(channels, inner, bias=False, **factory)
        self.to_k = None if logits == "l2" else nn.Linear(channels, inner, bias=False, **factory)
        self.to_v = nn.Linear(channels, inner, bias=False, **factory)
        self.q_norm = nn.RMSNorm(self.head_dim, **factory) if logits == "qk_norm" else None
        self.k_norm = nn.RMSNorm(self.head_dim, **factory) if logits == "qk_norm" else None
        self.to_out = nn.Linear(inner, channels, bias=False, **factory)
        self.gamma = nn.Parameter(torch.full((channels,), float(layer_scale_init), **factory))
        with torch.no_grad():
            self.pos.weight.normal_(0.0, 1.0 / math.sqrt(4 * num_frequencies))

    def forward(
        self, x: Float[Tensor, "b {self.channels} h w"], *, shift: Float[Tensor, "b 2"] | None = None
    ) -> Float[Tensor, "b {self.channels} h w"]:
        """Add the pixels' self-attention output to `x`; `shift` translates the position encoding
        per sample, in image sides (see `grid_positions`)."""
        check_shape("x", x, (None, self.channels, None, None))
        height, width = x.shape[-2:]
        where = grid_positions(height, width, self.num_frequencies, shift=shift, device=x.device,
                               dtype=self.pos.weight.dtype)
        u = self.norm(rearrange(x, "b c h w -> b (h w) c")) + self.pos(where)
        heads = lambda t: rearrange(t, "b n (g d) -> b g n d", g=self.num_heads)  # noqa: E731
        q, v = heads(self.to_q(u)), heads(self.to_v(u))
        bias = None
        if self.logits == "l2":  # -|q-k|^2 = 2 q.k - |k|^2 - |q|^2; the last term cancels in softmax
            k = q
            wide = k.to(torch.promote_types(k.dtype, torch.float32))  # float64 stays float64
            bias = -wide.square().sum(-1)[:, :, None, :].to(q.dtype) / math.sqrt(self.head_dim)
            q = 2 * q
        else:
            assert self.to_k is not None
            k = heads(self.to_k(u))
            if self.q_norm is not None and self.k_norm is not None:
                q, k = self.q_norm(q), self.k_norm(k)
        out = attention(q, k, v, bias=bias, impl=self.impl)
        out = self.to_out(rearrange(out, "b g n d -> b n (g d)"))
        return x + self.gamma[:, None, None] * rearrange(out, "b (h w) c -> b c h w", h=height, w=width)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, num_heads={self.num_heads}, head_dim={self.head_dim}, logits={self.logits!r}"
