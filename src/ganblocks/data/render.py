"""Anti-aliased rendering of ShapesT2I objects with numpy.

Each object is drawn on its own bounding box only: the box is sampled at ``4 × 4`` points per
pixel (centres at ``(j + 0.5) / 4``), the inside test of the shape is evaluated there, and a box
filter averages each pixel's 16 samples into a coverage $a \\in \\{0, 1/16, \\dots, 1\\}$. The pixel
becomes $p \\leftarrow (1 - a)\\,p + a\\,c$ for the object's colour $c$ (painter's order), and the
canvas is rounded half up to ``uint8`` at the end. Only exact IEEE arithmetic is involved, so the
bytes are the same on every machine.
"""

from collections.abc import Sequence

import numpy as np

from .._typing import UInt8
from .captions import parse_caption
from .scene import PALETTE, ShapeObject, place_object

__all__ = ["SUPERSAMPLE", "object_coverage", "render_objects", "render_caption"]

SUPERSAMPLE: int = 4
"""Samples per pixel along each axis."""


def _inside(shape: str, xs: np.ndarray, ys: np.ndarray, obj: ShapeObject) -> np.ndarray:
    """Inside test on a grid: ``xs`` a row vector, ``ys`` a column vector of sample centres."""
    half = 0.5 * obj.size
    if shape == "circle":
        dx = xs - obj.cx
        dy = ys - obj.cy
        return dx * dx + dy * dy <= half * half
    if shape == "square":
        return (np.abs(xs - obj.cx) <= half) & (np.abs(ys - obj.cy) <= half)
    # triangle: apex (cx, cy - s/2), base from (cx - s/2, cy + s/2) to (cx + s/2, cy + s/2);
    # at depth t below the apex the half-width is t / 2.
    depth = ys - (obj.cy - half)
    return (depth >= 0) & (depth <= obj.size) & (2.0 * np.abs(xs - obj.cx) <= depth)


def object_coverage(
    obj: ShapeObject, resolution: int
) -> tuple[int, int, np.ndarray]:
    """Fraction of each pixel of the object's bounding box that the object covers.

    $$a_{ij} = \\frac{1}{16}\\sum_{u,v=0}^{3}
      \\mathbb{1}\\big[\\big(j + \\tfrac{u + 0.5}{4},\\; i + \\tfrac{v + 0.5}{4}\\big) \\in
      \\text{shape}\\big]$$

    Args:
        obj: The object.
        resolution: Image side ``R``; the box is clipped to the image.

    Returns:
        ``(row0, col0, coverage)``: the top-left pixel of the box and the coverage of the box's
        pixels (floats in ``[0, 1]``, possibly empty when the object lies outside the image).
    """
    half = 0.5 * obj.size
    col0 = max(0, int(np.floor(obj.cx - half)))
    col1 = min(resolution, int(np.ceil(obj.cx + half)))
    row0 = max(0, int(np.floor(obj.cy - half)))
    row1 = min(resolution, int(np.ceil(obj.cy + half)))
    width, height = max(col1 - col0, 0), max(row1 - row0, 0)
    n = SUPERSAMPLE
    xs = col0 + (np.arange(width * n) + 0.5) / n
    ys = row0 + (np.arange(height * n) + 0.5) / n
    if obj.shape == "square":  # separable: coverage is an outer product
        cx = (np.abs(xs - obj.cx) <= half).reshape(width, n).sum(1)
        cy = (np.abs(ys - obj.cy) <= half).reshape(height, n).sum(1)
        return row0, col0, np.outer(cy, cx) / (n * n)
    inside = _inside(obj.shape, xs[None, :], ys[:, None], obj)
    counts = inside.reshape(height, n, width, n).sum(axis=(1, 3))
    return row0, col0, counts / (n * n)


def _paint(canvas: np.ndarray, objects: Sequence[ShapeObject]) -> None:
    """Composite objects onto a float ``[R, R, 3]`` canvas in place, in order."""
    resolution = canvas.shape[0]
    for obj in objects:
        row0, col0, cov = object_coverage(obj, resolution)
        h, w = cov.shape
        if h == 0 or w == 0:
            continue
        region = canvas[row0 : row0 + h, col0 : col0 + w]
        a = cov[:, :, None]
        region *= 1.0 - a
        region += a * np.asarray(PALETTE[obj.colour], dtype=np.float64)


def render_objects(
    objects: Sequence[ShapeObject], resolution: int
) -> UInt8[np.ndarray, "{resolution} {resolution} 3"]:
    """Render objects on a black square image.

    Args:
        objects: The objects, drawn in order (later ones on top where they overlap; ShapesT2I
            scenes never overlap).
        resolution: Image side ``R`` in pixels.

    Returns:
        The image, ``uint8`` in height-width-channel layout.
    """
    if resolution < 1:
        raise ValueError(f"resolution must be positive, got {resolution}")
    canvas = np.zeros((resolution, resolution, 3), dtype=np.float64)
    _paint(canvas, objects)
    return np.floor(canvas + 0.5).astype(np.uint8)


def render_caption(
    caption: str, resolution: int, rng: np.random.Generator
) -> UInt8[np.ndarray, "{resolution} {resolution} 3"]:
    """Render a random image of a caption: the caption fixes colours, shapes and cells, ``rng``
    draws each object's size and jitter as the data set does.

    Used as the reference distribution for diversity and to make ground-truth images of
    evaluation prompts.

    Args:
        caption: A caption in the ShapesT2I grammar.
        resolution: Image side ``R`` in pixels.
        rng: Source of the sizes and jitters (three uniforms per object).

    Returns:
        The image, ``uint8`` in height-width-channel layout.
    """
    parsed = parse_caption(caption)
    uniforms = rng.random(3 * len(parsed))
    objects = [
        place_object(c, s, cell, resolution=resolution, uniforms=uniforms[3 * k : 3 * k + 3])
        for k, (c, s, cell) in enumerate(parsed)
    ]
    return render_objects(objects, resolution)
