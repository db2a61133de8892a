"""Score images against their ShapesT2I captions: colour, position, shape, binding, extras.

Pixels $p$ (RGB, 0-255) with $\\lVert p\\rVert < 30$ are background. Every other pixel belongs to
the palette colour of highest cosine similarity, $c^\\star = \\arg\\max_c \\langle p, c\\rangle /
\\lVert c\\rVert$, with coverage

$$\\alpha = \\operatorname{clip}\\big(\\langle p, c^\\star\\rangle / \\langle c^\\star, c^\\star\\rangle,
0, 1\\big),$$

exact for anti-aliased edges on black. For a captioned object of colour $c$ and shape $k$, with
$s_\\min = 0.18R$:

- colour hit: $\\sum \\alpha_c \\ge 0.3\\,\\mathrm{fill}_k\\,s_\\min^2$ over the whole image;
- the object's *component* is the largest (by pixel count) 8-connected set of pixels of colour
  $c$ with $\\alpha > 0.25$; the coverage map restricted to it, $A$, gives the centroid
  $(\\bar x, \\bar y) = \\sum (x, y) A / \\sum A$ at pixel centres (integer + 0.5) and the area
  $\\sum A$;
- position hit: the centroid lies in the captioned cell (boundaries $0.35R$ and $0.65R$);
- shape hit: with $w = \\sum_x \\max_y A$, $h = \\sum_y \\max_x A$, $\\mathrm{fill} = \\sum A /
  (wh)$ and $\\mathrm{skew} = (\\bar y - \\sum_y y \\max_x A / h) / h$, the shape is a triangle if
  $\\mathrm{skew} > 0.05$, else a square if $\\mathrm{fill} > 0.9$, else a circle;
- the object is correct when all three hit.

An image is ``all_correct`` when every captioned object is correct; ``binding`` (captions with two
or more objects) is the same event, reported over those captions only; ``extra`` flags a palette
colour absent from the caption with total coverage $\\ge 0.3 \\cdot 0.5\\, s_\\min^2$.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .._typing import Float, Tensor
from .captions import parse_caption
from .scene import CELLS, DEFAULT_HOLDOUT, PALETTE, SHAPE_FILL, validate_holdout

__all__ = [
    "ObjectScore",
    "ImageScore",
    "to_pixels",
    "palette_coverage",
    "score_image",
    "score_each",
    "summarize_scores",
    "score_images",
]

BACKGROUND_NORM: float = 30.0
COMPONENT_ALPHA: float = 0.25
HIT_FRACTION: float = 0.3
S_MIN: float = 0.18
CELL_BOUNDS: tuple[float, float] = (0.35, 0.65)
TRIANGLE_SKEW: float = 0.05
SQUARE_FILL: float = 0.9

ImageLike = Tensor | np.ndarray


@dataclass(frozen=True)
class ObjectScore:
    """How one captioned object was found in an image.

    Args:
        colour: Captioned colour.
        shape: Captioned shape.
        cell: Captioned cell.
        colour_hit: Enough coverage of the colour.
        position_hit: The component's centroid lies in the captioned cell.
        shape_hit: The component is classified as the captioned shape.
        coverage: Total coverage $\\sum\\alpha$ of the colour in the image.
        area: Coverage of the component (0 when there is none).
        centroid: Component centroid ``(x, y)`` in pixels, or ``None``.
        found_shape: The component's shape class, or ``None``.
        found_cell: The cell holding the centroid, or ``None``.
        fill: The component's fill ratio, or ``None``.
        skew: The component's vertical skew, or ``None``.
    """

    colour: str
    shape: str
    cell: str
    colour_hit: bool
    position_hit: bool
    shape_hit: bool
    coverage: float
    area: float
    centroid: tuple[float, float] | None
    found_shape: str | None
    found_cell: str | None
    fill: float | None = None
    skew: float | None = None

    @property
    def correct(self) -> bool:
        """Colour, position and shape all hit."""
        return self.colour_hit and self.position_hit and self.shape_hit


@dataclass(frozen=True)
class ImageScore:
    """The score of one image against its caption.

    Args:
        caption: The caption scored against.
        objects: One score per captioned object, in caption order.
        extra_colours: Palette colours not in the caption with enough coverage to count.
    """

    caption: str
    objects: tuple[ObjectScore, ...]
    extra_colours: tuple[str, ...]

    @property
    def all_correct(self) -> bool:
        """Every captioned object is correct."""
        return all(o.correct for o in self.objects)

    @property
    def binding(self) -> bool | None:
        """For two or more objects, whether all are correct; ``None`` for one object."""
        return self.all_correct if len(self.objects) > 1 else None

    @property
    def extra(self) -> bool:
        """A colour not in the caption is present."""
        return bool(self.extra_colours)

    @property
    def colour(self) -> float:
        """Fraction of objects whose colour hits."""
        return float(np.mean([o.colour_hit for o in self.objects]))

    @property
    def position(self) -> float:
        """Fraction of objects whose position hits."""
        return float(np.mean([o.position_hit for o in self.objects]))

    @property
    def shape(self) -> float:
        """Fraction of objects whose shape hits."""
        return float(np.mean([o.shape_hit for o in self.objects]))


def to_pixels(images: ImageLike) -> Float[np.ndarray, "*b r r 3"]:
    """Convert images to RGB floats in $[0, 255]$, channels last.

    Accepts a tensor or array, one image or a batch, channels first (``[3, R, R]``) or last
    (``[R, R, 3]``). ``uint8`` is taken as 0-255; floating point as the model's $[-1, 1]$,
    mapped by $(x + 1) \\cdot 127.5$ and clipped.

    Args:
        images: One image or a batch of images.

    Returns:
        ``float64`` pixels, ``[R, R, 3]`` or ``[B, R, R, 3]``.
    """
    if isinstance(images, Tensor):
        images = images.detach().cpu()
        if images.dtype == torch.bfloat16:
            images = images.float()
        images = images.numpy()
    if images.ndim not in (3, 4):
        raise ValueError(f"images has shape {list(images.shape)}, expected [*, 3, R, R] or [*, R, R, 3]")
    if images.shape[-3] == 3 and images.shape[-1] != 3:
        images = np.moveaxis(images, -3, -1)
    if images.shape[-1] != 3 or images.shape[-2] != images.shape[-3]:
        raise ValueError(
            f"images has shape {list(images.shape)}, expected square RGB [*, 3, R, R] or [*, R, R, 3]"
        )
    if images.dtype == np.uint8:
        return images.astype(np.float64)
    if np.issubdtype(images.dtype, np.floating):
        return np.clip((images.astype(np.float64) + 1.0) * 127.5, 0.0, 255.0)
    raise TypeError(f"images must be uint8 (0-255) or floating point ([-1, 1]), got {images.dtype}")


def palette_coverage(
    pixels: Float[np.ndarray, "*b r r 3"],
) -> tuple[np.ndarray, Float[np.ndarray, "*b r r"]]:
    """Assign every non-background pixel to its palette colour and coverage.

    Args:
        pixels: RGB floats in $[0, 255]$ (see ``to_pixels``).

    Returns:
        ``(index, alpha)``: the index into ``PALETTE`` of each pixel's colour (``-1`` for
        background) and its coverage $\\alpha$ (0 for background).
    """
    rgb = np.asarray(list(PALETTE.values()), dtype=np.float64)  # [8, 3]
    dots = pixels @ rgb.T  # [..., 8]
    index = np.argmax(dots / np.linalg.norm(rgb, axis=1), axis=-1)
    best = np.take_along_axis(dots, index[..., None], axis=-1)[..., 0]
    alpha = np.clip(best / np.sum(rgb * rgb, axis=1)[index], 0.0, 1.0)
    background = np.linalg.norm(pixels, axis=-1) < BACKGROUND_NORM
    return np.where(background, -1, index), np.where(background, 0.0, alpha)


def _cell_of(x: float, y: float, resolution: int) -> str:
    lo, hi = CELL_BOUNDS[0] * resolution, CELL_BOUNDS[1] * resolution
    col = 0 if x < lo else (1 if x < hi else 2)
    row = 0 if y < lo else (1 if y < hi else 2)
    return list(CELLS)[3 * row + col]


def _score_object(
    index: np.ndarray, alpha: np.ndarray, colour: str, shape: str, cell: str, coverage: float
) -> ObjectScore:
    from scipy import ndimage  # imported here: `import ganblocks` stays light

    resolution = index.shape[0]
    s_min = S_MIN * resolution
    colour_hit = coverage >= HIT_FRACTION * SHAPE_FILL[shape] * s_min * s_min
    mine = np.where(index == list(PALETTE).index(colour), alpha, 0.0)
    labels, n = ndimage.label(mine > COMPONENT_ALPHA, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        return ObjectScore(colour, shape, cell, bool(colour_hit), False, False, float(coverage),
                           0.0, None, None, None)
    largest = 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))
    a = np.where(labels == largest, mine, 0.0)
    centres = np.arange(resolution) + 0.5
    col_max, row_max = a.max(axis=0), a.max(axis=1)
    area, w, h = a.sum(), col_max.sum(), row_max.sum()
    cx = float(a.sum(axis=0) @ centres / area)
    cy = float(a.sum(axis=1) @ centres / area)
    skew = (cy - row_max @ centres / h) / h
    fill = area / (w * h)
    found_shape = "triangle" if skew > TRIANGLE_SKEW else ("square" if fill > SQUARE_FILL else "circle")
    found_cell = _cell_of(cx, cy, resolution)
    return ObjectScore(
        colour=colour,
        shape=shape,
        cell=cell,
        colour_hit=bool(colour_hit),
        position_hit=found_cell == cell,
        shape_hit=found_shape == shape,
        coverage=float(coverage),
        area=float(area),
        centroid=(cx, cy),
        found_shape=found_shape,
        found_cell=found_cell,
        fill=float(fill),
        skew=float(skew),
    )


def _score_pixels(pixels: np.ndarray, caption: str) -> ImageScore:
    objects = parse_caption(caption)
    index, alpha = palette_coverage(pixels)
    names = list(PALETTE)
    totals = np.bincount(index[index >= 0], weights=alpha[index >= 0], minlength=len(names))
    s_min = S_MIN * pixels.shape[0]
    captioned = {c for c, _, _ in objects}
    extra = tuple(
        name for name, total in zip(names, totals)
        if name not in captioned and total >= HIT_FRACTION * 0.5 * s_min * s_min
    )
    scores = tuple(
        _score_object(index, alpha, c, s, cell, float(totals[names.index(c)]))
        for c, s, cell in objects
    )
    return ImageScore(caption=caption, objects=scores, extra_colours=extra)


def score_image(image: ImageLike, caption: str) -> ImageScore:
    """Score one image against its caption.

    Args:
        image: ``[3, R, R]`` or ``[R, R, 3]``, ``uint8`` (0-255) or float ($[-1, 1]$).
        caption: A caption in the ShapesT2I grammar.

    Returns:
        Per-object hits and the image's flags.
    """
    pixels = to_pixels(image)
    if pixels.ndim != 3:
        raise ValueError(f"image has shape {list(pixels.shape)}; use score_each for a batch")
    return _score_pixels(pixels, caption)


def score_each(images: ImageLike | Sequence[ImageLike], captions: Sequence[str]) -> list[ImageScore]:
    """Score a batch of images, one caption each.

    Args:
        images: A batch ``[B, 3, R, R]`` / ``[B, R, R, 3]`` or a sequence of single images.
        captions: ``B`` captions.

    Returns:
        One ``ImageScore`` per image.
    """
    if isinstance(images, (Tensor, np.ndarray)):
        pixels = to_pixels(images)
        if pixels.ndim != 4:
            raise ValueError(f"images has shape {list(images.shape)}, expected a batch")
        batch = list(pixels)
    else:
        batch = [to_pixels(im) for im in images]
    if len(batch) != len(captions):
        raise ValueError(f"got {len(batch)} images but {len(captions)} captions")
    return [_score_pixels(p, c) for p, c in zip(batch, captions)]


def _group(score: ImageScore, holdout: frozenset[tuple[str, str]]) -> tuple[str, ...]:
    held = any((o.colour, o.shape) in holdout for o in score.objects)
    split = "heldout" if held else "seen"
    n = len(score.objects)
    size = {1: "single", 2: "double"}.get(n)
    return (split,) if size is None else (split, size, f"{size}_{split}")


def summarize_scores(
    scores: Iterable[ImageScore], *, holdout: Iterable[tuple[str, str]] = DEFAULT_HOLDOUT
) -> dict[str, float]:
    """Average image scores overall and by group.

    Metrics: ``all_correct``, ``colour``, ``position``, ``shape`` (fractions of the image's
    objects, then averaged), ``extra``, and ``binding`` (captions with two or more objects
    only). Each metric ``m`` is reported as ``m`` over all images and as ``m/{group}`` for the
    groups ``seen``, ``heldout`` (any object's (colour, shape) pair in ``holdout``), ``single``,
    ``double``, ``single_seen``, ``single_heldout``, ``double_seen``, ``double_heldout``.
    ``count`` and ``count/{group}`` give the number of images. Groups with no image are omitted.

    Args:
        scores: Image scores.
        holdout: The held-out (colour, shape) pairs that define the held-out group.

    Returns:
        Metric name -> mean.
    """
    holdout = validate_holdout(holdout)
    rows: dict[str, list[ImageScore]] = {"": []}
    for score in scores:
        rows[""].append(score)
        for g in _group(score, holdout):
            rows.setdefault(g, []).append(score)
    out: dict[str, float] = {}
    for g in ("", "seen", "heldout", "single", "double", "single_seen", "single_heldout",
              "double_seen", "double_heldout"):
        group = rows.get(g, [])
        if not group:
            continue
        suffix = f"/{g}" if g else ""
        out["count" + suffix] = float(len(group))
        out["all_correct" + suffix] = float(np.mean([s.all_correct for s in group]))
        out["colour" + suffix] = float(np.mean([s.colour for s in group]))
        out["position" + suffix] = float(np.mean([s.position for s in group]))
        out["shape" + suffix] = float(np.mean([s.shape for s in group]))
        out["extra" + suffix] = float(np.mean([s.extra for s in group]))
        bound = [s.binding for s in group if s.binding is not None]
        if bound:
            out["binding" + suffix] = float(np.mean(bound))
    return out


def score_images(
    images: ImageLike | Sequence[ImageLike],
    captions: Sequence[str],
    *,
    holdout: Iterable[tuple[str, str]] = DEFAULT_HOLDOUT,
) -> dict[str, float]:
    """Score a batch of images against their captions and average, overall and by group.

    ``summarize_scores(score_each(images, captions), holdout=holdout)``; see there for the keys.

    Args:
        images: A batch ``[B, 3, R, R]`` / ``[B, R, R, 3]`` or a sequence of single images,
            ``uint8`` (0-255) or float ($[-1, 1]$).
        captions: ``B`` captions.
        holdout: The held-out (colour, shape) pairs.

    Returns:
        Metric name -> mean over images.
    """
    return summarize_scores(score_each(images, captions), holdout=holdout)
