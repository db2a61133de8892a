"""A small trainable critic on RGB pixels, projection-conditioned (beyond StyleGAN-T)."""

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .._typing import Float, Tensor, check_shape

__all__ = ["PixelDiscriminator"]


def _sn_conv(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, **factory: object) -> nn.Conv2d:
    padding = (kernel_size - stride) // 2 if stride > 1 else kernel_size // 2
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, **factory)
    return spectral_norm(conv, n_power_iterations=1)


class PixelDiscriminator(nn.Module):
    """A trainable convolutional critic that looks at the pixels themselves.

    StyleGAN-T's discriminator judges the tokens of a *frozen* feature network. When that network
    resolves fine detail poorly (a small ViT with 4-pixel patches sees a 6-pixel triangle as one or
    two tokens), nothing pushes the generator towards crisp outlines. This critic is trained from
    scratch on the pixels (as GigaGAN's discriminator is) and is meant to run beside the feature
    discriminator, with its own weight in the loss.

    A first 4×4 conv of stride 2 $W_{\\text{rgb}}$ halves the side; then
    $\\phi$ = [3×3 conv → LeakyReLU(0.2) → 2×2 average pooling] halves it until the map is
    ``out_resolution`` wide (the width doubling with each halving, up to ``channels``, at least
    16); one more 3×3 conv and LeakyReLU $\\psi$, and a learned position embedding $p$, added after
    the last nonlinearity: a learned per-location offset of the logit and, through the projection,
    of the caption's term (where the caption wants an object can differ by location):
    $$ h = \\psi\\big(\\phi^{L-1}(\\operatorname{lrelu}(W_{\\text{rgb}} * x))\\big) + p, \\qquad
       \\text{logit}_i = w^\\top h_i + \\frac{1}{\\sqrt m}\\,(P h_i)^\\top (A c + a) $$
    for each location $i$ of the final map, with $m$ = ``cmap_dim``. Unconditional (``c_dim == 0``):
    only the first term. Every conv and linear map is spectral-normalised (one power iteration per
    training-mode call).

    Args:
        resolution: Side of the input images (a power of two, at least ``out_resolution``).
        c_dim: Width of the conditioning vector (0: unconditional).
        channels: Width of the convs at the final map.
        out_resolution: Side of the logit map; ``out_resolution ** 2`` logits per image.
        cmap_dim: Width $m$ of the projection.
        device: Device of the parameters.
        dtype: Dtype of the parameters.
    """

    def __init__(
        self,
        resolution: int,
        c_dim: int,
        *,
        channels: int = 64,
        out_resolution: int = 4,
        cmap_dim: int = 64,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("resolution", resolution), ("out_resolution", out_resolution)):
            if value < 1 or value & (value - 1):
                raise ValueError(f"{name} must be a power of two, got {value}")
        if out_resolution > resolution:
            raise ValueError(f"out_resolution ({out_resolution}) must not exceed resolution ({resolution})")
        if channels < 1 or c_dim < 0 or cmap_dim < 1:
            raise ValueError(f"need channels >= 1, c_dim >= 0, cmap_dim >= 1; got {channels}, {c_dim}, {cmap_dim}")
        factory = dict(device=device, dtype=dtype)
        self.resolution, self.c_dim, self.cmap_dim = resolution, c_dim, cmap_dim
        self.out_resolution = out_resolution
        self.num_logits = out_resolution**2
        levels = int(math.log2(resolution // out_resolution))
        # the width doubles with every halving of the side, up to `channels` at the final map; the
        # first conv (4x4, stride 2) halves the side at once: the critic's cost stays small
        widths = [max(channels >> (levels - i), min(16, channels)) for i in range(1, levels + 1)] or [channels]
        self.from_rgb = (_sn_conv(3, widths[0], 4, stride=2, **factory) if levels
                         else _sn_conv(3, widths[0], 1, **factory))
        self.down = nn.ModuleList(_sn_conv(widths[i], widths[i + 1], 3, **factory) for i in range(levels - 1))
        self.final = _sn_conv(channels, channels, 3, **factory)
        self.position = nn.Parameter(torch.zeros(channels, out_resolution, out_resolution, **factory))
        self.out = _sn_conv(channels, 1, 1, **factory)
        self.project = _sn_conv(channels, cmap_dim, 1, **factory) if c_dim > 0 else None
        self.cmapper = spectral_norm(nn.Linear(c_dim, cmap_dim, **factory)) if c_dim > 0 else None

    def forward(
        self,
        images: Float[Tensor, "b 3 {self.resolution} {self.resolution}"],
        c: Float[Tensor, "b {self.c_dim}"] | None = None,
    ) -> Float[Tensor, "b {self.num_logits}"]:
        """One logit per location of the final map, for ``images`` in $[-1, 1]$ under ``c``.

        Args:
            images: RGB images of side ``resolution``.
            c: Conditioning vectors; may be omitted when ``c_dim == 0``.
        """
        check_shape("images", images, (None, 3, self.resolution, self.resolution))
        if self.cmapper is not None:
            if c is None:
                raise ValueError(f"c is required: this critic is conditioned on c_dim={self.c_dim}")
            check_shape("c", c, (images.shape[0], self.c_dim))
        h = F.leaky_relu(self.from_rgb(images), 0.2)
        for conv in self.down:
            h = F.avg_pool2d(F.leaky_relu(conv(h), 0.2), 2)
        h = F.leaky_relu(self.final(h), 0.2) + self.position
        logits = self.out(h).flatten(1)
        if self.project is not None and self.cmapper is not None and c is not None:
            cmap = self.cmapper(c)
            logits = logits + torch.einsum("bmn,bm->bn", self.project(h).flatten(2), cmap) / math.sqrt(self.cmap_dim)
        return logits
