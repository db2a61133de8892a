"""Separable FIR filtering and FIR upsampling of images (pure PyTorch).

The generator upsamples its features and images with these filters; the modulated convolution
filters after its transposed convolution with them.
"""

import types
from collections.abc import Mapping
from typing import Literal

import torch
import torch.nn.functional as F

from .._typing import Float, Tensor

__all__ = [
    "FIR_TAPS", "NEAREST_TAPS", "UPSAMPLE_TAPS", "UpsampleKind", "fir_taps", "fir_filter2d",
    "upsample2d", "upsample_padding", "upsample_taps",
]

FIR_TAPS: tuple[float, ...] = (1.0, 3.0, 3.0, 1.0)
"""The binomial low-pass filter of StyleGAN2 and StyleGAN-T, before normalisation."""

NEAREST_TAPS: tuple[float, ...] = (1.0, 1.0)
"""The box filter: zero-insertion by 2 followed by it is nearest-neighbour upsampling."""

UpsampleKind = Literal["fir", "nearest"]

UPSAMPLE_TAPS: Mapping[str, tuple[float, ...]] = types.MappingProxyType(
    {"fir": FIR_TAPS, "nearest": NEAREST_TAPS})
"""The taps of each upsampling filter a generator can be built with."""

Padding = int | tuple[int, int, int, int]


def fir_taps(
    taps: tuple[float, ...] = FIR_TAPS,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Float[Tensor, " k"]:
    r"""Return the 1-D taps normalised to sum to one, $f_i / \sum_j f_j$.

    Args:
        taps: Unnormalised taps; their sum must be non-zero.
        device: Device of the result.
        dtype: Dtype of the result.

    Returns:
        The normalised taps.
    """
    if len(taps) < 1:
        raise ValueError("taps must not be empty")
    total = float(sum(taps))
    if total == 0.0:
        raise ValueError(f"taps must have a non-zero sum, got {taps}")
    return torch.tensor([t / total for t in taps], device=device, dtype=dtype)


def upsample_taps(kind: str) -> tuple[float, ...]:
    """The taps of the upsampling filter ``kind`` (``"fir"`` or ``"nearest"``, see `UPSAMPLE_TAPS`).

    Raises:
        ValueError: For another name.
    """
    if kind not in UPSAMPLE_TAPS:
        raise ValueError(f"upsample must be one of {sorted(UPSAMPLE_TAPS)}, got {kind!r}")
    return UPSAMPLE_TAPS[kind]


def _as_padding(padding: Padding) -> tuple[int, int, int, int]:
    if isinstance(padding, int):
        return (padding, padding, padding, padding)
    if len(padding) != 4:
        raise ValueError(f"padding must be an int or (left, right, top, bottom), got {padding}")
    return padding


def fir_filter2d(
    x: Float[Tensor, "b c h w"],
    *,
    taps: tuple[float, ...] = FIR_TAPS,
    padding: Padding = 0,
    gain: float = 1.0,
) -> Float[Tensor, "b c h2 w2"]:
    r"""Filter every channel with the separable FIR filter $g\, f f^\top$.

    $$y[i, j] = g \sum_{p, q} f_p f_q\, \tilde x[i + p, j + q]$$

    with $f$ the normalised taps (`fir_taps`), $g$ the gain and $\tilde x$ the input
    zero-padded by `padding` (negative padding crops). The output has
    $h + p_\text{top} + p_\text{bottom} - k + 1$ rows (likewise columns). The filter is applied
    as two 1-D depthwise convolutions; for the symmetric default taps, correlation and
    convolution coincide.

    Args:
        x: Images.
        taps: Unnormalised 1-D taps $f$ (default $[1, 3, 3, 1]$).
        padding: Either one int for all sides or `(left, right, top, bottom)`.
        gain: Overall gain $g$ (4 after a 2x zero-insertion keeps the mean).

    Returns:
        The filtered images.
    """
    left, right, top, bottom = _as_padding(padding)
    channels = x.shape[1]
    f = fir_taps(taps, device=x.device, dtype=x.dtype)
    k = f.numel()
    if x.shape[2] + top + bottom < k or x.shape[3] + left + right < k:
        raise ValueError(
            f"x has spatial size {list(x.shape[2:])}, too small for {k} taps with padding "
            f"{(left, right, top, bottom)}"
        )
    x = F.pad(x, (left, right, top, bottom))
    horizontal = f.reshape(1, 1, 1, k).expand(channels, 1, 1, k)
    vertical = (f * gain).reshape(1, 1, k, 1).expand(channels, 1, k, 1)
    x = F.conv2d(x, horizontal, groups=channels)
    return F.conv2d(x, vertical, groups=channels)


def upsample_padding(num_taps: int, factor: int) -> tuple[int, int]:
    """Padding `(before, after)` that makes zero-insertion + FIR keep the exact size `factor * h`.

    Args:
        num_taps: Number of FIR taps $k$.
        factor: Upsampling factor.

    Returns:
        `((k + factor - 1) // 2, (k - factor) // 2)`; the two always sum to `k - 1`.
    """
    return (num_taps + factor - 1) // 2, (num_taps - factor) // 2


def upsample2d(
    x: Float[Tensor, "b c h w"],
    *,
    factor: int = 2,
    taps: tuple[float, ...] = FIR_TAPS,
) -> Float[Tensor, "b c h2 w2"]:
    r"""Upsample by an integer factor: zero-insertion, then the FIR low-pass filter.

    $$y = \operatorname{fir}_{g = m^2}\big(\uparrow_m x\big)$$

    where $\uparrow_m$ places each pixel at the top-left of an $m\times m$ cell of zeros and the
    filter gain $m^2$ restores the mean. A constant image stays constant away from the border
    when the $m$ polyphase components of the taps have equal sums, as for $[1, 3, 3, 1]$ with
    $m = 2$.
    The padding of `upsample_padding` always sums to $k - 1$, so the output is exactly
    $(m h) \times (m w)$.

    Args:
        x: Images.
        factor: Upsampling factor $m \ge 1$.
        taps: Unnormalised 1-D taps.

    Returns:
        The upsampled images.
    """
    if factor < 1:
        raise ValueError(f"factor must be >= 1, got {factor}")
    b, c, h, w = x.shape
    if factor > 1:
        up = x.new_zeros(b, c, h, factor, w, factor)
        up[:, :, :, 0, :, 0] = x
        x = up.reshape(b, c, h * factor, w * factor)
    before, after = upsample_padding(len(taps), factor)
    return fir_filter2d(
        x, taps=taps, padding=(before, after, before, after), gain=float(factor * factor)
    )
