"""Per-pixel noise injection with a learned strength."""

from typing import Literal

import torch
from torch import nn

from .._typing import Float, Tensor, check_shape

__all__ = ["NoiseMode", "NoiseInjection"]

NoiseMode = Literal["random", "const", "none"]


class NoiseInjection(nn.Module):
    r"""Add per-pixel Gaussian noise scaled by a learned scalar strength.

    $$y_{b,c,i,j} = x_{b,c,i,j} + \alpha\, n_{b,i,j}, \qquad n \sim \mathcal N(0, 1)$$

    The noise is shared by all channels of a sample; the strength $\alpha$ starts at 0, so the
    layer is the identity at initialisation. Modes: `"random"` draws fresh noise per call,
    `"const"` uses a fixed noise image (a persistent buffer, saved with the weights; needs
    `resolution`) for every sample, `"none"` returns the input unchanged.

    Args:
        resolution: Side of the fixed noise image for `"const"` mode; `None` disables that mode.
        device: Device of the parameter and buffer.
        dtype: Dtype of the parameter and buffer.
    """

    noise_const: Tensor | None

    def __init__(
        self,
        *,
        resolution: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if resolution is not None and resolution < 1:
            raise ValueError(f"resolution must be >= 1 or None, got {resolution}")
        self.resolution = resolution
        self.strength = nn.Parameter(torch.zeros((), device=device, dtype=dtype))
        if resolution is None:
            self.register_buffer("noise_const", None)
        else:
            self.register_buffer(
                "noise_const", torch.randn(resolution, resolution, device=device, dtype=dtype)
            )

    def forward(
        self, x: Float[Tensor, "b c h w"], *, mode: NoiseMode = "random"
    ) -> Float[Tensor, "b c h w"]:
        check_shape("x", x, (None, None, None, None))
        if mode == "none":
            return x
        if mode == "random":
            b, _, h, w = x.shape
            noise = torch.randn(b, 1, h, w, device=x.device, dtype=x.dtype)
        elif mode == "const":
            if self.noise_const is None:
                raise ValueError("mode='const' needs a NoiseInjection built with a resolution")
            if tuple(x.shape[2:]) != (self.resolution, self.resolution):
                raise ValueError(
                    f"x has spatial size {list(x.shape[2:])}, expected "
                    f"[{self.resolution}, {self.resolution}] for mode='const'"
                )
            noise = self.noise_const.to(x.dtype)
        else:
            raise ValueError(f"mode must be 'random', 'const' or 'none', got {mode!r}")
        return x + noise * self.strength.to(x.dtype)

    def extra_repr(self) -> str:
        return f"resolution={self.resolution}"
