"""Separable Gaussian blur of images, with reflected or zero borders."""

import math
from typing import Literal

import torch
import torch.nn.functional as F

from .._typing import Float, Tensor, check_shape

__all__ = ["gaussian_blur", "blur_kernel"]


def blur_kernel(sigma: float, *, device: torch.device | str | None = None,
                dtype: torch.dtype | None = None) -> Float[Tensor, " k"]:
    """The normalised 1D kernel $f(t) \\propto 2^{-(t/\\sigma)^2}$, $|t| \\le \\lfloor 3\\sigma \\rfloor$.

    ``sigma <= 0`` gives the identity kernel ``[1]``.
    """
    if sigma <= 0:
        return torch.ones(1, device=device, dtype=dtype)
    radius = math.floor(3 * sigma)
    t = torch.arange(-radius, radius + 1, device=device, dtype=torch.float64)
    f = torch.exp2(-((t / sigma) ** 2))
    return (f / f.sum()).to(dtype or torch.get_default_dtype())


def _reflect_index(n: int, radius: int, device: torch.device) -> Tensor:
    # indices of a reflect-padded axis ("d c b | a b c d | c b a"), for any radius
    i = torch.arange(-radius, n + radius, device=device)
    if n == 1:
        return torch.zeros_like(i)
    period = 2 * (n - 1)
    m = torch.remainder(i, period)
    return torch.where(m >= n, period - m, m)


def gaussian_blur(
    x: Float[Tensor, "b c h w"],
    sigma: float,
    *,
    padding: Literal["reflect", "zeros"] = "reflect",
) -> Float[Tensor, "b c h w"]:
    """Blur each channel of ``x`` with a separable Gaussian $f(t) = 2^{-(t/\\sigma)^2}$.

    $$ y = k \\ast_h (k \\ast_w x), \\qquad
       k_t = \\frac{2^{-(t/\\sigma)^2}}{\\sum_{|s| \\le r} 2^{-(s/\\sigma)^2}}, \\quad
       |t| \\le r = \\lfloor 3\\sigma \\rfloor . $$
    The output has the input's size. ``padding="reflect"`` mirrors the image at its border
    (also when the kernel is wider than the image: the reflection repeats), so a constant image
    stays constant; ``"zeros"`` pads with 0 (mid-grey for images in $[-1, 1]$), which pulls
    the border towards grey. ``sigma <= 0`` (or a radius of 0)
    returns ``x`` itself. Differentiable w.r.t. ``x``.

    Args:
        x: Images.
        sigma: Width $\\sigma$ of the Gaussian in pixels.
        padding: How the border is extended.
    """
    check_shape("x", x, (None, None, None, None))
    if padding not in ("reflect", "zeros"):
        raise ValueError(f"padding must be 'reflect' or 'zeros', got {padding!r}")
    kernel = blur_kernel(sigma, device=x.device, dtype=x.dtype)
    radius = kernel.numel() // 2
    if radius == 0:
        return x
    b, c, h, w = x.shape
    y = x.reshape(b * c, 1, h, w)
    if padding == "reflect":
        y = y.index_select(3, _reflect_index(w, radius, x.device))
        y = F.conv2d(y, kernel.view(1, 1, 1, -1))
        y = y.index_select(2, _reflect_index(h, radius, x.device))
        y = F.conv2d(y, kernel.view(1, 1, -1, 1))
    else:
        y = F.conv2d(y, kernel.view(1, 1, 1, -1), padding=(0, radius))
        y = F.conv2d(y, kernel.view(1, 1, -1, 1), padding=(radius, 0))
    return y.reshape(b, c, h, w)
