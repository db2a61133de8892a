"""StyleConv: the generator's basic layer (modulation, modulated conv, noise, bias, activation)."""

import math

import torch
from torch import nn

from .._typing import Float, Tensor, check_shape
from .equalized import bias_act
from .modconv import ModulatedConv
from .modulation import ModulationKind, create_modulation
from .noise import NoiseInjection, NoiseMode
from ..ops.upfirdn import FIR_TAPS

__all__ = ["ModulatedLayer", "StyleConv"]


class ModulatedLayer(nn.Module):
    r"""What `StyleConv` and `ToRGB` share: styles $s = M(w)$ and a `ModulatedConv` of $x$ by them.

    Subclasses add what follows the convolution (noise, bias, activation) after this
    `__init__`, and call `modulated` in `forward`.

    Args:
        in_channels: Input channels (the number of styles).
        out_channels: Output channels.
        w_dim: Width of the latent $w$.
        kernel_size: Odd kernel size.
        demodulate: Whether the convolution demodulates (see `ModulatedConv`).
        up: 1, or 2 for a 2x upsampling layer.
        up_taps: Filter taps after an upsampling conv (see `ModulatedConv`).
        modulation: `"polynomial"` or `"affine"`.
        conv_clamp: Clamp of the layer's output; `None` for no clamp.
        device: Device of the parameters.
        dtype: Dtype of the parameters.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        *,
        kernel_size: int,
        demodulate: bool,
        up: int = 1,
        up_taps: tuple[float, ...] = FIR_TAPS,
        modulation: ModulationKind = "polynomial",
        conv_clamp: float | None = 256.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.w_dim = w_dim
        self.conv_clamp = conv_clamp
        self.modulation = create_modulation(modulation, w_dim, in_channels, device=device, dtype=dtype)
        self.conv = ModulatedConv(
            in_channels, out_channels, kernel_size, demodulate=demodulate, up=up, up_taps=up_taps,
            device=device, dtype=dtype,
        )

    def modulated(
        self,
        x: Float[Tensor, "b {self.in_channels} h w"],
        w: Float[Tensor, "b {self.w_dim}"],
    ) -> Float[Tensor, "b {self.out_channels} h2 w2"]:
        """The modulated convolution of `x` by the styles of `w`."""
        check_shape("x", x, (None, self.in_channels, None, None))
        check_shape("w", w, (x.shape[0], self.w_dim))
        return self.conv(x, self.modulation(w))


class StyleConv(ModulatedLayer):
    r"""One synthesis layer: styles from $w$, modulated conv, noise, bias, leaky ReLU, clamp.

    $$s = M(w), \qquad y = \operatorname{clamp}\Big(g \cdot \operatorname{lrelu}_{0.2}\big(
    \operatorname{demod}(W, s) \star x + \alpha n + b\big),\ \pm c\Big)$$

    with $M$ the style modulation (polynomial by default), $g$ the activation gain ($\sqrt 2$;
    1 inside the residual pairs) and $c$ the clamp (a safety for low precision).

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        w_dim: Width of the latent $w$.
        kernel_size: Odd kernel size.
        up: 1, or 2 for a 2x upsampling layer.
        resolution: Output side, for the fixed noise of `noise_mode="const"`; `None` disables it.
        modulation: `"polynomial"` or `"affine"`.
        use_noise: Whether to add noise.
        activation_gain: Gain $g$ after the leaky ReLU.
        conv_clamp: Clamp $c$; `None` for no clamp.
        up_taps: Filter taps after an upsampling conv (see `ModulatedConv`).
        device: Device of the parameters.
        dtype: Dtype of the parameters.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        *,
        kernel_size: int = 3,
        up: int = 1,
        resolution: int | None = None,
        modulation: ModulationKind = "polynomial",
        use_noise: bool = True,
        activation_gain: float = math.sqrt(2.0),
        conv_clamp: float | None = 256.0,
        up_taps: tuple[float, ...] = FIR_TAPS,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            in_channels, out_channels, w_dim, kernel_size=kernel_size, demodulate=True, up=up,
            up_taps=up_taps, modulation=modulation, conv_clamp=conv_clamp, device=device, dtype=dtype,
        )
        factory = {"device": device, "dtype": dtype}
        self.activation_gain = activation_gain
        self.noise = NoiseInjection(resolution=resolution, **factory) if use_noise else None
        self.bias = nn.Parameter(torch.zeros(out_channels, **factory))

    def forward(
        self,
        x: Float[Tensor, "b {self.in_channels} h w"],
        w: Float[Tensor, "b {self.w_dim}"],
        *,
        noise_mode: NoiseMode = "random",
    ) -> Float[Tensor, "b {self.out_channels} h2 w2"]:
        y = self.modulated(x, w)
        if self.noise is not None:
            y = self.noise(y, mode=noise_mode)
        return bias_act(
            y, self.bias.to(y.dtype), activation="lrelu", gain=self.activation_gain,
            clamp=self.conv_clamp,
        )
