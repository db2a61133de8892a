r"""Sub-pixel translation of a batch of images, one offset per image, differentiable.

A generator's output moved by an offset it never sees: where in the picture the content sits
is then drawn at random, and no layer of the network can take it back.
"""

from typing import Literal

import torch

from .._typing import Float, Tensor, check_shape

__all__ = ["translate", "TranslateKernel"]

TranslateKernel = Literal["cubic", "linear"]


def _weights(frac: Tensor, kernel: TranslateKernel) -> Tensor:
    """Weights of the taps at offsets -1, 0, 1, 2 for sample points ``frac`` in [0, 1)."""
    t = torch.stack([frac + 1, frac, 1 - frac, 2 - frac], dim=-1)  # distances to the four taps
    if kernel == "linear":
        return (1 - t).clamp(min=0)
    near = 1.5 * t**3 - 2.5 * t**2 + 1  # Keys (1981), a = -1/2
    far = -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2
    return torch.where(t <= 1, near, far)


def _resample(x: Tensor, offset: Tensor, kernel: TranslateKernel, dim: int) -> Tensor:
    """``y[i] = x(i - offset)`` along ``dim`` (-1 or -2), ``offset`` in pixels per sample."""
    size = x.shape[dim]
    start = torch.floor(-offset)
    frac = -offset - start  # sample point i - offset = i + start + frac
    w = _weights(frac, kernel).to(x.dtype)  # [b, 4]
    taps = torch.arange(-1, 3, device=x.device)
    i = torch.arange(size, device=x.device)
    idx = (i[None, :, None] + start.long()[:, None, None] + taps).clamp(0, size - 1)  # [b, size, 4]
    if dim == -2:
        x = x.transpose(-1, -2)
    b, c, rows, _ = x.shape
    picked = x.gather(-1, idx.reshape(b, 1, 1, size * 4).expand(b, c, rows, size * 4))
    out = (picked.reshape(b, c, rows, size, 4) * w[:, None, None, None, :]).sum(-1)
    return out.transpose(-1, -2) if dim == -2 else out


def translate(
    images: Float[Tensor, "b c h w"],
    shift: Float[Tensor, "b 2"],
    *,
    kernel: TranslateKernel = "cubic",
) -> Float[Tensor, "b c h w"]:
    r"""Move each image by its `shift` $\delta = (\delta_x, \delta_y)$, in image sides.

    $$y(p) = x(p - \delta),$$

    read from the pixels of $x$ by separable interpolation, rows then columns, the border's
    pixels repeated outside the image. `"cubic"` is Keys' cubic convolution with $a = -\tfrac12$,
    `"linear"` linear interpolation. Both interpolate and reproduce linear ramps, so a shift of
    whole pixels moves the pixels exactly, a zero shift is exactly the identity, and the
    intensity-weighted centroid of content clear of the border moves by exactly $\delta$. A
    sub-pixel shift smooths a little (most at half a pixel, far less with `"cubic"`). The output
    is differentiable in the images (the shift only selects the interpolation weights).

    Args:
        images: Images `[b, c, h, w]`.
        shift: `(x, y)` offsets per image, in image sides (`1 / w` moves one pixel right);
            finite (not checked: checking would wait for the device every call).
        kernel: Interpolation kernel.

    Returns:
        The moved images, same shape and dtype.
    """
    check_shape("images", images, (None, None, None, None))
    check_shape("shift", shift, (images.shape[0], 2))
    if kernel not in ("cubic", "linear"):
        raise ValueError(f"kernel must be 'cubic' or 'linear', got {kernel!r}")
    h, w = images.shape[-2:]
    offset = shift.detach().to(torch.promote_types(shift.dtype, torch.float32))  # at least float32
    out = _resample(images, offset[:, 0] * w, kernel, dim=-1)
    return _resample(out, offset[:, 1] * h, kernel, dim=-2)

