"""The residual generator layer of StyleGAN-T: GroupNorm, StyleConv, layer scale, skip."""

import math

import torch
from torch import nn

from .._typing import Float, Tensor, check_shape
from .layers import StyleConv
from .modulation import ModulationKind
from .noise import NoiseMode

__all__ = ["ResidualGenBlock"]


class ResidualGenBlock(nn.Module):
    r"""Residual modulated layer with group normalisation and a per-channel layer scale.

    $$\hat x = \operatorname{GroupNorm}(x), \qquad y = \operatorname{StyleConv}(\hat x, w),
    \qquad \text{out} = \sqrt 2\,(\gamma \odot y + \hat x)$$

    The StyleConv uses activation gain 1 ($\sqrt 2 \cdot \sqrt{1/2}$); the layer scale
    $\gamma$ starts at `layer_scale_init`, so the block starts close to the normalisation alone.

    Args:
        channels: Input and output channels; a multiple of `num_groups`.
        w_dim: Width of the latent $w$.
        kernel_size: Odd kernel size of the StyleConv.
        num_groups: Groups of the GroupNorm (affine).
        layer_scale_init: Initial value of every entry of $\gamma$.
        modulation: `"polynomial"` or `"affine"`.
        use_noise: Whether the StyleConv adds noise.
        resolution: Spatial side, for the fixed noise of `noise_mode="const"`.
        conv_clamp: Clamp of the StyleConv; `None` for no clamp.
        device: Device of the parameters.
        dtype: Dtype of the parameters.
    """

    def __init__(
        self,
        channels: int,
        w_dim: int,
        *,
        kernel_size: int = 3,
        num_groups: int = 32,
        layer_scale_init: float = 1e-5,
        modulation: ModulationKind = "polynomial",
        use_noise: bool = True,
        resolution: int | None = None,
        conv_clamp: float | None = 256.0 * math.sqrt(0.5),
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if num_groups < 1 or channels % num_groups != 0:
            raise ValueError(
                f"channels ({channels}) must be a multiple of num_groups ({num_groups})"
            )
        factory = {"device": device, "dtype": dtype}
        self.channels = channels
        self.w_dim = w_dim
        self.norm = nn.GroupNorm(num_groups, channels, **factory)
        self.conv = StyleConv(
            channels, channels, w_dim, kernel_size=kernel_size, resolution=resolution,
            modulation=modulation, use_noise=use_noise, activation_gain=1.0,
            conv_clamp=conv_clamp, **factory,
        )
        self.gamma = nn.Parameter(torch.full((channels,), layer_scale_init, **factory))

    def forward(
        self,
        x: Float[Tensor, "b {self.channels} h w"],
        w: Float[Tensor, "b {self.w_dim}"],
        *,
        noise_mode: NoiseMode = "random",
    ) -> Float[Tensor, "b {self.channels} h w"]:
        check_shape("x", x, (None, self.channels, None, None))
        check_shape("w", w, (x.shape[0], self.w_dim))
        x_hat = self.norm(x)
        y = self.conv(x_hat, w, noise_mode=noise_mode)
        return (self.gamma.to(y.dtype).reshape(1, -1, 1, 1) * y + x_hat) * math.sqrt(2.0)
