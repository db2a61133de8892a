"""ToRGB: the 1x1 modulated convolution from features to an image."""

import torch
from torch import nn

from .._typing import Float, Tensor
from .equalized import bias_act
from .layers import ModulatedLayer
from .modulation import ModulationKind

__all__ = ["ToRGB"]


class ToRGB(ModulatedLayer):
    r"""Map features to an image with a 1x1 modulated convolution, without demodulation.

    $$\text{rgb} = \operatorname{clamp}\Big(V \star \big(\tfrac{1}{\sqrt C}\, s \odot x\big) + b,
    \ \pm c\Big), \qquad s = M(w)$$

    with $V$ initialised to $0.1\,\mathcal N(0, 1)$, $C$ the input channels and $M$ the style
    modulation.

    Args:
        in_channels: Feature channels $C$.
        w_dim: Width of the latent $w$.
        out_channels: Image channels.
        modulation: `"polynomial"` or `"affine"`.
        conv_clamp: Clamp $c$; `None` for no clamp.
        device: Device of the parameters.
        dtype: Dtype of the parameters.
    """

    def __init__(
        self,
        in_channels: int,
        w_dim: int,
        *,
        out_channels: int = 3,
        modulation: ModulationKind = "polynomial",
        conv_clamp: float | None = 256.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        # A 1x1 conv without demodulation multiplies the styles by 1 / sqrt(in_channels).
        super().__init__(
            in_channels, out_channels, w_dim, kernel_size=1, demodulate=False,
            modulation=modulation, conv_clamp=conv_clamp, device=device, dtype=dtype,
        )
        with torch.no_grad():
            self.conv.weight.mul_(0.1)
        self.bias = nn.Parameter(torch.zeros(out_channels, device=device, dtype=dtype))

    def forward(
        self,
        x: Float[Tensor, "b {self.in_channels} h w"],
        w: Float[Tensor, "b {self.w_dim}"],
    ) -> Float[Tensor, "b {self.out_channels} h w"]:
        y = self.modulated(x, w)
        return bias_act(y, self.bias.to(y.dtype), clamp=self.conv_clamp)
