"""Discriminator heads on token maps: spectral-normalised 1D convs, projection-conditioned."""

import contextlib
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .._typing import Float, Tensor, check_shape
from .local_batchnorm import LocalBatchNorm

__all__ = ["DiscriminatorHead", "MultiHeadDiscriminator"]


class _CircularConv1d(nn.Module):
    # spectral-normalised conv1d over tokens with circular padding; unlike torch's circular
    # padding mode it wraps any number of times, so maps shorter than the kernel work too
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, **factory: object) -> None:
        super().__init__()
        self.pad = kernel_size // 2
        self.conv = spectral_norm(nn.Conv1d(in_channels, out_channels, kernel_size, **factory), n_power_iterations=1)

    def forward(self, x: Tensor) -> Tensor:
        # the spectral-norm power iteration runs in the parameters' dtype, outside any autocast;
        # only the convolution itself follows the ambient autocast
        with torch.autocast(x.device.type, enabled=False):
            weight = self.conv.weight
        if self.pad:
            n = x.shape[-1]
            x = x.index_select(2, torch.arange(-self.pad, n + self.pad, device=x.device).remainder(n))
        return F.conv1d(x, weight, self.conv.bias)


class _ConvNormAct(nn.Sequential):
    def __init__(self, channels: int, kernel_size: int, virtual_batch: int, **factory: object) -> None:
        super().__init__(
            _CircularConv1d(channels, channels, kernel_size, **factory),
            LocalBatchNorm(channels, virtual_batch=virtual_batch, **factory),
            nn.LeakyReLU(0.2),
        )


class DiscriminatorHead(nn.Module):
    """One discriminator head: a logit per token of one feature map, conditioned on ``c``.

    With $h = \\phi_1(x)$ and $\\phi_k$ = [spectral-normalised conv1d of kernel $k$ (circular
    padding) → local batch norm → LeakyReLU(0.2)],
    $$ h' = \\frac{\\phi_K(h) + h}{\\sqrt 2}, \\qquad o = W_{\\text{out}} h' \\in \\mathbb{R}^{m \\times n}, $$
    $$ \\text{logit}_t = \\frac{1}{\\sqrt m} \\sum_{j=1}^{m} o_{j,t}\\, (A c + a)_j $$
    with $m$ = ``cmap_dim`` (projection conditioning). Unconditional (``c_dim == 0``): the output
    conv has one channel, $\\text{logit}_t = o_{1,t}$. Every conv has one power iteration of
    spectral normalisation per training-mode call. Circular padding and per-token operations make
    the head equivariant to circular shifts of the tokens.

    With ``compute_dtype`` set (e.g. ``torch.bfloat16``) the convolutions and the projection run
    under autocast to that dtype, while the spectral normalisation, the batch-norm statistics,
    the activations between convs and the returned logits stay in the parameters' dtype: the
    convolutions run at the lower precision's speed where the hardware has it (GPUs, CPUs with
    bf16 instructions; `benchmarks/bench_discriminator.py` times it).

    With ``tokens`` set (beyond StyleGAN-T), a learned embedding $p_t$ per token position is added
    after the first conv, $h_t = \\phi_1(x)_t + p_t$, so the head can tell *where* a token is, not
    only what it shows: a caption that names a position can then be checked token by token. The
    head is then no longer equivariant to token shifts, and it takes maps of exactly ``tokens``
    tokens.

    Args:
        channels: Width of the token features.
        c_dim: Width of the conditioning vector (0: unconditional).
        cmap_dim: Width $m$ of the projection.
        kernel_size: Odd kernel of the residual conv (circular padding).
        virtual_batch: Group size of the local batch norm.
        compute_dtype: Dtype the convs compute in (none: the parameters' dtype, or the ambient
            autocast's).
        tokens: Token count of the maps, for learned position embeddings (none: no position
            embeddings, any token count, shift-equivariant).
        device: Device of the parameters.
        dtype: Dtype of the parameters.
    """

    def __init__(
        self,
        channels: int,
        c_dim: int,
        *,
        cmap_dim: int = 64,
        kernel_size: int = 9,
        virtual_batch: int = 8,
        compute_dtype: torch.dtype | None = None,
        tokens: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
        if channels < 1 or c_dim < 0 or cmap_dim < 1:
            raise ValueError(f"need channels >= 1, c_dim >= 0, cmap_dim >= 1; got {channels}, {c_dim}, {cmap_dim}")
        factory = dict(device=device, dtype=dtype)
        if compute_dtype is not None and not compute_dtype.is_floating_point:
            raise ValueError(f"compute_dtype must be a floating-point dtype, got {compute_dtype}")
        self.channels, self.c_dim, self.cmap_dim = channels, c_dim, cmap_dim
        self.compute_dtype = compute_dtype
        self.stem = _ConvNormAct(channels, 1, virtual_batch, **factory)
        self.residual = _ConvNormAct(channels, kernel_size, virtual_batch, **factory)
        self.out = _CircularConv1d(channels, cmap_dim if c_dim > 0 else 1, 1, **factory)
        self.cmapper = nn.Linear(c_dim, cmap_dim, **factory) if c_dim > 0 else None
        if tokens is not None and tokens < 1:
            raise ValueError(f"tokens must be positive (or None for no position embeddings), got {tokens}")
        self.tokens = tokens
        self.position = (nn.Parameter(0.02 * torch.randn(channels, tokens, **factory))
                         if tokens is not None else None)

    def forward(
        self, x: Float[Tensor, "b n {self.channels}"], c: Float[Tensor, "b {self.c_dim}"] | None = None
    ) -> Float[Tensor, "b n"]:
        """Per-token logits of the token map ``x`` under condition ``c``.

        Args:
            x: Token features, one row per token.
            c: Conditioning vectors; may be omitted when ``c_dim == 0``.
        """
        check_shape("x", x, (None, self.tokens, self.channels))
        if self.cmapper is not None:
            if c is None:
                raise ValueError(f"c is required: this head is conditioned on c_dim={self.c_dim}")
            check_shape("c", c, (x.shape[0], self.c_dim))
        dtype = self.out.conv.bias.dtype
        autocast = (torch.autocast(x.device.type, dtype=self.compute_dtype)
                    if self.compute_dtype is not None else contextlib.nullcontext())
        with autocast:
            h = self.stem(x.transpose(1, 2))
            if self.position is not None:
                h = h + self.position
            h = (self.residual(h) + h) * (1 / math.sqrt(2))
            out = self.out(h)
            if self.cmapper is None:
                return out[:, 0].to(dtype)
            cmap = self.cmapper(c)
            logits = torch.einsum("bmn,bm->bn", out, cmap) * (1 / math.sqrt(self.cmap_dim))
        return logits.to(dtype)


class MultiHeadDiscriminator(nn.Module):
    """One [`DiscriminatorHead`][ganblocks.discriminator.heads.DiscriminatorHead] per feature map; logits concatenated.

    $$ \\text{logits} = [\\text{head}_1(f_1, c), \\dots, \\text{head}_K(f_K, c)] \\in
       \\mathbb{R}^{b \\times \\sum_i n_i} $$
    With five maps of 196 tokens (DINO ViT-S/16) that is 980 logits per image.

    Args:
        channels: Width of each feature map, one head per entry.
        c_dim: Width of the conditioning vector (0: unconditional).
        cmap_dim: Width of each head's projection.
        kernel_size: Odd kernel of the residual convs.
        virtual_batch: Group size of the local batch norms.
        compute_dtype: Dtype the heads' convs compute in (e.g. ``torch.bfloat16``; none: the
            parameters' dtype, or the ambient autocast's). Logits are returned in the parameters'
            dtype either way.
        tokens: Token count of every map (one int) or of each map, for learned position
            embeddings in the heads (none: off, the faithful shift-equivariant heads).
        device: Device of the parameters.
        dtype: Dtype of the parameters.
    """

    def __init__(
        self,
        channels: Sequence[int],
        c_dim: int,
        *,
        cmap_dim: int = 64,
        kernel_size: int = 9,
        virtual_batch: int = 8,
        compute_dtype: torch.dtype | None = None,
        tokens: int | Sequence[int] | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if not channels:
            raise ValueError("channels must name at least one feature map")
        self.channels = tuple(int(ch) for ch in channels)
        self.c_dim = c_dim
        if tokens is None or isinstance(tokens, int):
            per_map: Sequence[int | None] = [tokens] * len(self.channels)
        else:
            per_map = [int(n) for n in tokens]
            if len(per_map) != len(self.channels):
                raise ValueError(f"tokens names {len(per_map)} maps but channels names {len(self.channels)}")
        self.heads = nn.ModuleList(
            DiscriminatorHead(
                ch, c_dim, cmap_dim=cmap_dim, kernel_size=kernel_size, virtual_batch=virtual_batch,
                compute_dtype=compute_dtype, tokens=n, device=device, dtype=dtype,
            )
            for ch, n in zip(self.channels, per_map)
        )

    def forward(
        self, features: Sequence[Float[Tensor, "b _ _"]], c: Float[Tensor, "b {self.c_dim}"] | None = None
    ) -> Float[Tensor, "b _"]:
        """Logits of every token of every map, map after map.

        Args:
            features: ``len(channels)`` token maps ``[b, n_i, channels_i]``.
            c: Conditioning vectors; may be omitted when ``c_dim == 0``.
        """
        if len(features) != len(self.heads):
            raise ValueError(f"expected {len(self.heads)} feature maps, got {len(features)}")
        first = features[0]
        batch = first.shape[0] if isinstance(first, Tensor) and first.ndim else None
        for i, (f, ch) in enumerate(zip(features, self.channels)):
            check_shape(f"features[{i}]", f, (batch, None, ch))
        return torch.cat([head(f, c) for head, f in zip(self.heads, features)], dim=1)
