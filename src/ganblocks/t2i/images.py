"""Turn generated images into pixels: clamp to $[-1, 1]$, map to ``uint8``, make grids, save PNGs.

A generator's raw output is not bounded (its last layer is linear); a trained one stays close to
$[-1, 1]$, an untrained one does not. Every conversion here clamps first, so a pixel is always
$\\mathrm{round}((\\mathrm{clamp}(x, -1, 1) + 1) \\cdot 127.5)$.
"""

import math
import os
from pathlib import Path
from typing import Any

import torch

from .._typing import Float, Shaped, Tensor, UInt8

__all__ = ["to_uint8", "to_pil", "image_grid", "save_grid"]


def to_uint8(images: Shaped[Tensor, "*shape"]) -> UInt8[Tensor, "*shape"]:
    """Images in $[-1, 1]$ (values outside are clamped) to ``uint8`` in $[0, 255]$.

    ``uint8`` input is returned unchanged.
    """
    if images.dtype == torch.uint8:
        return images
    x = images.detach().float()
    return ((x.clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8)


def to_pil(images: Shaped[Tensor, "*b 3 h w"]) -> Any:
    """A PIL image of a ``[3, h, w]`` image, or a list of them for ``[b, 3, h, w]`` (clamped, see
    [`to_uint8`][ganblocks.t2i.images.to_uint8])."""
    from PIL import Image

    pixels = to_uint8(images).cpu()
    if pixels.ndim == 3:
        return Image.fromarray(pixels.permute(1, 2, 0).numpy())
    if pixels.ndim != 4:
        raise ValueError(f"images must be [3, h, w] or [b, 3, h, w], got shape {list(images.shape)}")
    return [Image.fromarray(p.permute(1, 2, 0).numpy()) for p in pixels]


def image_grid(
    images: Float[Tensor, "b 3 h w"] | UInt8[Tensor, "b 3 h w"], *, nrow: int | None = None, padding: int = 2
) -> UInt8[Tensor, "3 gh gw"]:
    """One ``uint8`` image of ``images`` in rows of ``nrow`` (default: a near-square grid),
    with ``padding`` black pixels around and between them."""
    if images.shape[0] == 0:
        raise ValueError("no images to put in a grid")
    nrow = nrow or math.ceil(math.sqrt(images.shape[0]))
    if nrow < 1 or padding < 0:
        raise ValueError(f"nrow must be positive and padding >= 0, got {nrow} and {padding}")
    pixels = to_uint8(images).cpu()
    b, c, h, w = pixels.shape
    rows, cols = math.ceil(b / nrow), min(b, nrow)
    grid = torch.zeros(c, rows * (h + padding) + padding, cols * (w + padding) + padding, dtype=torch.uint8)
    for i in range(b):
        y, x = padding + (i // nrow) * (h + padding), padding + (i % nrow) * (w + padding)
        grid[:, y:y + h, x:x + w] = pixels[i]
    return grid


def save_grid(
    images: Float[Tensor, "b 3 h w"] | UInt8[Tensor, "b 3 h w"],
    path: str | os.PathLike,
    *,
    nrow: int | None = None,
    padding: int = 2,
    scale: int = 1,
) -> Path:
    """Save ``images`` as one grid image (PNG, or what the suffix says); returns the path.

    Args:
        images: Generated images (raw: clamped to $[-1, 1]$ here) or ``uint8`` ones.
        path: Where to write; missing parent folders are created.
        nrow: Images per row (default: a near-square grid).
        padding: Black pixels between images.
        scale: Enlarge the grid this many times (nearest neighbour), for small images.
    """
    from PIL import Image

    if scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    grid = to_pil(image_grid(images, nrow=nrow, padding=padding))
    if scale > 1:
        grid = grid.resize((grid.width * scale, grid.height * scale), Image.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid.save(path)
    return path
