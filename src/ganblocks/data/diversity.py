"""Diversity of generated ShapesT2I images relative to the data, per caption.

For a caption and each of its objects, the scorer's measurements of the object (the component
centroid $(\\bar x, \\bar y)$ and its area $\\sum A$, see ``ganblocks.data.shapes_score``) are
collected over the generated images of that caption, and over ``n_reference`` data images of the
same caption drawn with ``render_caption``. For each statistic $m \\in \\{\\bar x, \\bar y,
\\text{area}\\}$

$$r_m = \\min\\!\\Big(1,\\; \\frac{\\operatorname{std}_\\text{generated}(m)}
{\\operatorname{std}_\\text{data}(m)}\\Big)$$

(sample standard deviations), so $r_m = 1$ is at least as diverse as the data and $r_m = 0$ is
collapsed. A caption's diversity is the mean of $r_m$ over its objects and the three statistics;
an object found (a component of its colour exists) in fewer than two generated images counts
$0$. ``diversity`` is the mean over captions. The data measured against itself scores just
under 1 (sampling noise, clipped at 1): about 0.95 with 64 images per caption.
"""

import zlib
from collections.abc import Mapping, Sequence

import numpy as np

from .captions import parse_caption
from .render import render_caption
from .shapes_score import ImageLike, ImageScore, score_each, to_pixels

__all__ = ["object_statistics", "diversity_per_caption", "diversity"]


def object_statistics(scores: Sequence[ImageScore], k: int) -> np.ndarray:
    """The centroid ``x``, ``y`` and area of object ``k`` over the images where it was found.

    Args:
        scores: Scores of images of one caption.
        k: The object's position in the caption.

    Returns:
        An array ``[n_found, 3]``.
    """
    rows = [
        (*s.objects[k].centroid, s.objects[k].area) for s in scores if s.objects[k].centroid is not None
    ]
    return np.asarray(rows, dtype=np.float64).reshape(-1, 3)


def _reference(caption: str, resolution: int, n: int, seed: int) -> list[ImageScore]:
    rng = np.random.Generator(
        np.random.PCG64(np.random.SeedSequence([seed, zlib.crc32(caption.encode())]))
    )
    images = np.stack([render_caption(caption, resolution, rng) for _ in range(n)])
    return score_each(images, [caption] * n)


def diversity_per_caption(
    images_by_caption: Mapping[str, ImageLike | Sequence[ImageLike]],
    *,
    resolution: int | None = None,
    n_reference: int = 256,
    seed: int = 0,
) -> dict[str, float]:
    """Diversity of each caption's generated images relative to the data, in $[0, 1]$.

    Args:
        images_by_caption: Caption -> its generated images (a batch ``[N, 3, R, R]`` /
            ``[N, R, R, 3]`` or a sequence of images; ``uint8`` or float in $[-1, 1]$), at least
            two per caption.
        resolution: Image side; checked against the images when given.
        n_reference: Data images rendered per caption for the reference spread.
        seed: Selects the reference images.

    Returns:
        Caption -> diversity.
    """
    if n_reference < 2:
        raise ValueError(f"n_reference must be at least 2, got {n_reference}")
    out = {}
    for caption, images in images_by_caption.items():
        n_objects = len(parse_caption(caption))
        count = len(images)
        if count < 2:
            raise ValueError(f"caption {caption!r} has {count} image(s); diversity needs 2 or more")
        side = to_pixels(images[0]).shape[0]
        if resolution is not None and side != resolution:
            raise ValueError(f"images of caption {caption!r} are {side} px, expected {resolution}")
        generated = score_each(images, [caption] * count)
        reference = _reference(caption, side, n_reference, seed)
        ratios = []
        for k in range(n_objects):
            gen, ref = object_statistics(generated, k), object_statistics(reference, k)
            if len(gen) < 2:
                ratios += [0.0, 0.0, 0.0]
                continue
            # centred on the first row, so identical images give exactly 0
            ratio = (gen - gen[0]).std(axis=0, ddof=1) / ref.std(axis=0, ddof=1)
            ratios += [float(r) for r in np.minimum(ratio, 1.0)]
        out[caption] = float(np.mean(ratios))
    return out


def diversity(
    images_by_caption: Mapping[str, ImageLike | Sequence[ImageLike]],
    *,
    resolution: int | None = None,
    n_reference: int = 256,
    seed: int = 0,
) -> float:
    """Mean over captions of ``diversity_per_caption``: 1 = as diverse as the data, 0 = collapsed.

    Args:
        images_by_caption: Caption -> its generated images (at least two per caption).
        resolution: Image side; checked against the images when given.
        n_reference: Data images rendered per caption for the reference spread.
        seed: Selects the reference images.

    Returns:
        The mean diversity.
    """
    if not images_by_caption:
        raise ValueError("images_by_caption is empty")
    per_caption = diversity_per_caption(
        images_by_caption, resolution=resolution, n_reference=n_reference, seed=seed
    )
    return float(np.mean(list(per_caption.values())))
