"""Differentiable augmentation of the discriminator's input: colour, translation, cutout."""

import torch
from torch import nn

from .._typing import Float, Tensor, check_shape

__all__ = ["diff_augment", "DiffAugment"]


def _draw(generator: torch.Generator | None, device: torch.device, *shape: int) -> Tensor:
    where = generator.device if generator is not None else device
    return torch.rand(shape, generator=generator, device=where).to(device)


def _draw_int(generator: torch.Generator | None, device: torch.device, low: int, high: int, n: int) -> Tensor:
    where = generator.device if generator is not None else device
    return torch.randint(low, high, (n,), generator=generator, device=where).to(device)


def _translate(x: Tensor, ratio: float, generator: torch.Generator | None) -> Tensor:
    b, c, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    if sh == 0 and sw == 0:
        return x
    ty = _draw_int(generator, x.device, -sh, sh + 1, b)
    tx = _draw_int(generator, x.device, -sw, sw + 1, b)
    padded = torch.nn.functional.pad(x, (sw, sw, sh, sh))  # zeros outside the image
    rows = torch.arange(h, device=x.device)[None, :] - ty[:, None] + sh  # [b, h]
    cols = torch.arange(w, device=x.device)[None, :] - tx[:, None] + sw  # [b, w]
    padded = padded.gather(2, rows[:, None, :, None].expand(b, c, h, w + 2 * sw))
    return padded.gather(3, cols[:, None, None, :].expand(b, c, h, w))


def _cutout_mask(x: Tensor, ratio: float, generator: torch.Generator | None) -> Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = _draw_int(generator, x.device, 0, h, b)
    cx = _draw_int(generator, x.device, 0, w, b)
    top, left = cy - ch // 2, cx - cw // 2
    i = torch.arange(h, device=x.device)[None, :]
    j = torch.arange(w, device=x.device)[None, :]
    inside_rows = (i >= top[:, None]) & (i < top[:, None] + ch)  # [b, h]
    inside_cols = (j >= left[:, None]) & (j < left[:, None] + cw)  # [b, w]
    hole = inside_rows[:, :, None] & inside_cols[:, None, :]
    return (~hole).to(x.dtype)[:, None]


def _check(**knobs: float) -> None:
    bad = {k: v for k, v in knobs.items() if v < 0 or (k in ("translation", "cutout") and v > 1)}
    if bad:
        raise ValueError(f"augmentation strengths must be >= 0 (translation, cutout <= 1), got {bad}")


def diff_augment(
    x: Float[Tensor, "b c h w"],
    *,
    brightness: float = 0.5,
    saturation: float = 1.0,
    contrast: float = 0.5,
    translation: float = 1 / 8,
    cutout: float = 0.2,
    generator: torch.Generator | None = None,
) -> Float[Tensor, "b c h w"]:
    """DiffAugment: random colour change, translation and cutout, differentiable w.r.t. ``x``.

    Images are in $[-1, 1]$ (the generator's range); zero there is mid-grey, and the brightness
    shift is in those units. Per sample, with $u \\sim U(-1, 1)$ drawn afresh for each change:
    $$ x \\leftarrow x + \\text{brightness}\\,u, \\qquad
       x \\leftarrow \\bar x_{\\text{pixel}} + (1 + \\text{saturation}\\,u)(x - \\bar x_{\\text{pixel}}), $$
    $$ x \\leftarrow \\bar x_{\\text{image}} + (1 + \\text{contrast}\\,u)(x - \\bar x_{\\text{image}}), $$
    where $\\bar x_{\\text{pixel}}$ is the mean over channels and $\\bar x_{\\text{image}}$ the mean
    over channels and pixels; the defaults give brightness $+U(-0.5, 0.5)$, saturation
    $\\times U(0, 2)$, contrast $\\times U(0.5, 1.5)$. Then a shift by a whole number of pixels up
    to ``translation`` $\\times$ size in each direction, filling with zeros, and a square of
    ``cutout`` $\\times$ size (centred anywhere, clipped at the border) set to zero.

    Args:
        x: Images in $[-1, 1]$.
        brightness: Half-width of the brightness shift (0 disables it).
        saturation: Half-width of the saturation factor around 1 (0 disables it).
        contrast: Half-width of the contrast factor around 1 (0 disables it).
        translation: Largest shift as a fraction of the size (0 disables it).
        cutout: Side of the cut-out square as a fraction of the size (0 disables it).
        generator: Source of randomness (on any device); ``None`` uses torch's global one.
    """
    check_shape("x", x, (None, None, None, None))
    _check(brightness=brightness, saturation=saturation, contrast=contrast,
           translation=translation, cutout=cutout)
    b = x.shape[0]
    if brightness:
        x = x + (brightness * (2 * _draw(generator, x.device, b) - 1)).to(x.dtype)[:, None, None, None]
    if saturation:
        factor = (1 + saturation * (2 * _draw(generator, x.device, b) - 1)).to(x.dtype)[:, None, None, None]
        mean = x.mean(dim=1, keepdim=True)
        x = mean + factor * (x - mean)
    if contrast:
        factor = (1 + contrast * (2 * _draw(generator, x.device, b) - 1)).to(x.dtype)[:, None, None, None]
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = mean + factor * (x - mean)
    if translation:
        x = _translate(x, translation, generator)
    if cutout:
        x = x * _cutout_mask(x, cutout, generator)
    return x


class DiffAugment(nn.Module):
    """[`diff_augment`][ganblocks.discriminator.augment.diff_augment] with its strengths fixed.

    Applied in training and evaluation mode alike (StyleGAN-T augments reals and fakes in both
    of its phases); build the discriminator without it to look at clean images.

    Args:
        brightness: Half-width of the brightness shift (0 disables it).
        saturation: Half-width of the saturation factor around 1 (0 disables it).
        contrast: Half-width of the contrast factor around 1 (0 disables it).
        translation: Largest shift as a fraction of the size (0 disables it).
        cutout: Side of the cut-out square as a fraction of the size (0 disables it).
    """

    def __init__(
        self,
        *,
        brightness: float = 0.5,
        saturation: float = 1.0,
        contrast: float = 0.5,
        translation: float = 1 / 8,
        cutout: float = 0.2,
    ) -> None:
        super().__init__()
        self.brightness, self.saturation, self.contrast = brightness, saturation, contrast
        self.translation, self.cutout = translation, cutout
        _check(**self._knobs())

    def _knobs(self) -> dict[str, float]:
        return dict(brightness=self.brightness, saturation=self.saturation, contrast=self.contrast,
                    translation=self.translation, cutout=self.cutout)

    def forward(
        self, x: Float[Tensor, "b c h w"], *, generator: torch.Generator | None = None
    ) -> Float[Tensor, "b c h w"]:
        """Augmented copies of the images ``x`` in $[-1, 1]$."""
        return diff_augment(x, generator=generator, **self._knobs())

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v:g}" for k, v in self._knobs().items())
