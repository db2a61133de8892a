"""The functional core of the generator's attention blocks: masked attention and 2D positions.

`attention` is scaled dot-product attention with an optional key mask and an optional additive
per-key bias, computed either by `torch.nn.functional.scaled_dot_product_attention` (fused
kernels where the device has them) or by an explicit softmax (the reference the tests compare
against). `grid_positions` gives every pixel of an `h x w` feature map Fourier features of its
coordinates, so that a query knows where it is.
"""

import math
from typing import Literal

import torch
import torch.nn.functional as F

from .._typing import Bool, Float, Tensor, check_shape

__all__ = ["AttentionImpl", "attention", "grid_positions", "check_token_mask"]

AttentionImpl = Literal["sdpa", "math"]


def attention(
    q: Float[Tensor, "b heads nq d"],
    k: Float[Tensor, "b heads nk d"],
    v: Float[Tensor, "b heads nk dv"],
    *,
    mask: Bool[Tensor, "b nk"] | None = None,
    bias: Float[Tensor, "b heads 1 nk"] | None = None,
    impl: AttentionImpl = "sdpa",
) -> Float[Tensor, "b heads nq dv"]:
    r"""Attention of every query over the keys, with masked-out keys and an additive key bias.

    $$ \operatorname{attn}(Q, K, V)_i = \sum_j \operatorname{softmax}_j\!\Big(
       \frac{q_i \cdot k_j}{\sqrt d} + \beta_j + \log m_j\Big) v_j $$
    with $m_j \in \{0, 1\}$ the key mask ($\log 0 = -\infty$) and $\beta$ the bias.

    Args:
        q: Queries.
        k: Keys.
        v: Values.
        mask: `True` for keys that take part; every row needs at least one.
        bias: Added to the logits of each key (e.g. $-\lVert k_j \rVert^2 / \sqrt d$ for
            L2-distance attention).
        impl: `"sdpa"` (PyTorch's fused attention) or `"math"` (explicit softmax).
    """
    add: Tensor | None = bias
    if mask is not None:
        keep = mask[:, None, None, :]
        if add is None and impl == "sdpa":
            add = keep  # a boolean mask: True takes part
        else:
            base = add if add is not None else torch.zeros((), dtype=q.dtype, device=q.device)
            add = torch.where(keep, base, torch.full((), float("-inf"), dtype=base.dtype, device=q.device))
    if impl == "sdpa":
        return F.scaled_dot_product_attention(q, k, v, attn_mask=add)
    if impl != "math":
        raise ValueError(f"impl must be 'sdpa' or 'math', got {impl!r}")
    logits = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    if add is not None:
        logits = logits + add
    weights = torch.softmax(logits.to(torch.promote_types(logits.dtype, torch.float32)), dim=-1)
    return weights.to(v.dtype) @ v


def grid_positions(
    height: int, width: int, num_frequencies: int, *,
    shift: Float[Tensor, "b 2"] | None = None,
    device: torch.device | str | None = None, dtype: torch.dtype | None = None,
) -> Float[Tensor, "*b hw f"]:
    r"""Fourier features of the pixel centres of an `height x width` grid, row by row.

    With coordinates $u, v \in (-1, 1)$ of each pixel centre and frequencies
    $\omega_k = \pi 2^k$, $k < F$: $[\sin \omega_k u, \cos \omega_k u, \sin \omega_k v,
    \cos \omega_k v]_k$, $4F$ features per pixel. The same relative place gets the same
    features at every resolution.

    `shift` $\delta = (\delta_x, \delta_y)$ per sample, in image sides, gives every pixel the
    features of the place $\delta$ further on, $(u + 2\delta_x, v + 2\delta_y)$: what a layer
    draws at a place then appears $\delta$ earlier, the translation `FourierFeatures` applies to
    the synthesis input for the same `shift`. The result is then `[b, hw, 4F]`.
    """
    if height < 1 or width < 1 or num_frequencies < 1:
        raise ValueError(
            f"need a non-empty grid and >= 1 frequency, got {height}x{width}, {num_frequencies}")
    freqs = math.pi * 2.0 ** torch.arange(num_frequencies, device=device, dtype=torch.float32)
    ys = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) / height * 2 - 1
    xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width * 2 - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    gy, gx = gy.reshape(-1, 1), gx.reshape(-1, 1)
    if shift is not None:
        check_shape("shift", shift, (None, 2))
        delta = 2.0 * shift.to(device=gx.device, dtype=torch.float32)
        gx, gy = gx + delta[:, None, None, 0], gy + delta[:, None, None, 1]
    angles = torch.cat([gy * freqs, gx * freqs], dim=-1)
    feats = torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(-2)
    return feats.to(dtype or torch.get_default_dtype())


def check_token_mask(tokens: Tensor, mask: Tensor, *, text_dim: int, rows: bool = True) -> None:
    """Raise a `ValueError` naming the argument when text tokens or their mask are malformed.

    `rows=False` skips the check that every caption has a valid token: it reads the mask's
    values (a device synchronisation), so a network checks it once rather than in every layer.
    """
    if not isinstance(tokens, Tensor) or tokens.ndim != 3 or tokens.shape[-1] != text_dim:
        shape = list(tokens.shape) if isinstance(tokens, Tensor) else type(tokens).__name__
        raise ValueError(f"tokens has shape {shape}, expected [b, n, {text_dim}] (text_dim={text_dim})")
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool or tuple(mask.shape) != tuple(tokens.shape[:2]):
        shape = (list(mask.shape), str(mask.dtype)) if isinstance(mask, Tensor) else type(mask).__name__
        raise ValueError(
            f"mask is {shape}, expected a bool tensor of shape {list(tokens.shape[:2])} "
            "(True for the caption's real tokens)")
    if not rows or torch.compiler.is_compiling():  # a data-dependent check would break the graph
        return
    empty = ~mask.any(dim=1)
    if bool(empty.any()):
        rows = empty.nonzero().flatten().tolist()
        raise ValueError(f"mask has no valid token for caption(s) {rows}: every caption needs at least one")
