"""Evaluate a text-to-image generator: the ShapesT2I scores, reference metrics and sample grids.

Everything here takes the generator, and any frozen network a metric needs, as arguments: a
trainer calls these functions on its EMA generator during training, a user on a generator loaded
with [`TextToImageGenerator.from_pretrained`][ganblocks.t2i.generator.TextToImageGenerator.from_pretrained],
and ``python -m ganblocks.metrics`` on either. A generator is anything with
``generate(captions, seeds, truncation_psi=...) -> images`` (images in about $[-1, 1]$).

Prompts and latent seeds are fixed and apart from training: evaluation latents start at
[`EVAL_SEED_BASE`][ganblocks.metrics.text_to_image.EVAL_SEED_BASE], which no training step and no
sample grid uses, so scores of different runs and checkpoints are comparable.
"""

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch

from .._typing import Float, Tensor

__all__ = [
    "EVAL_SEED_BASE",
    "GRID_SEEDS",
    "TextToImage",
    "evaluate_shapes",
    "generate_images",
    "save_sample_grid",
    "score_generator",
    "shapes_grid_captions",
]

EVAL_SEED_BASE = 1_000_000
"""First latent seed of the ShapesT2I evaluation (grids use seeds ``0..GRID_SEEDS - 1``)."""

GRID_SEEDS = 8
"""Columns (latent seeds) of a sample grid."""


@runtime_checkable
class TextToImage(Protocol):
    """What the evaluation needs of a generator (e.g. a ``TextToImageGenerator``)."""

    def generate(self, captions: Sequence[str], seeds: Sequence[int], *,
                 truncation_psi: float = 1.0) -> Tensor: ...


@torch.no_grad()
def generate_images(generator: TextToImage, captions: Sequence[str], seeds: Sequence[int], *,
                    truncation_psi: float = 1.0, batch_size: int = 64) -> Float[Tensor, "b 3 h w"]:
    """One image per (caption, seed), ``batch_size`` at a time, gathered on the CPU."""
    if len(captions) != len(seeds):
        raise ValueError(f"got {len(captions)} captions but {len(seeds)} seeds: one seed per caption")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    out = [generator.generate(list(captions[i:i + batch_size]), list(seeds[i:i + batch_size]),
                              truncation_psi=truncation_psi).cpu()
           for i in range(0, len(captions), batch_size)]
    if not out:
        raise ValueError("no captions to generate")
    return torch.cat(out)


def shapes_grid_captions() -> list[str]:
    """The fixed ShapesT2I captions of a sample grid: seen and held-out single objects, and pairs."""
    from ..data import make_eval_prompts

    prompts = make_eval_prompts(seed=12345, n_single_seen=4, n_single_heldout=2, n_double_seen=1,
                                n_double_heldout=1)
    return [p.caption for p in prompts]


def save_sample_grid(generator: TextToImage, captions: Sequence[str], path: str | os.PathLike, *,
                     seeds: int = GRID_SEEDS, truncation_psi: float = 1.0, min_side: int = 128) -> Path:
    """A grid PNG, one row per caption and one column per seed, and the captions in ``path.txt``.

    Args:
        generator: The generator.
        captions: A row each.
        path: Where the PNG goes; the captions go beside it with the suffix ``.txt``.
        seeds: Columns (seeds ``0..seeds-1``).
        truncation_psi: Truncation of the latents.
        min_side: Small images are enlarged by a whole factor to at least this side.
    """
    from ..t2i.images import save_grid

    if not captions:
        raise ValueError("a sample grid needs at least one caption")
    path = Path(path)
    columns = list(range(seeds))
    images = generate_images(generator, [c for c in captions for _ in columns], columns * len(captions),
                             truncation_psi=truncation_psi)
    save_grid(images, path, nrow=len(columns), scale=max(1, min_side // images.shape[-1]))
    path.with_suffix(".txt").write_text("".join(f"row {i}: {c}\n" for i, c in enumerate(captions)))
    return path


@torch.no_grad()
def evaluate_shapes(generator: TextToImage, *, samples: int = 256, final: bool = False,
                    truncation_psi: float = 1.0, batch_size: int = 64) -> dict[str, Any]:
    """ShapesT2I scores of a generator on fixed fresh prompts and latents (never training ones).

    3/8 of the prompts are single objects of seen (colour, shape) compositions, 1/4 single objects
    of held-out compositions, 1/4 two-object prompts of seen and 1/8 of held-out compositions
    (binding); diversity is measured over seeds for the first four captions (8 images each, 16
    when ``final``). Keys: see [`summarize_scores`][ganblocks.data.shapes_score.summarize_scores],
    plus ``diversity`` and ``samples``.

    Args:
        generator: A ShapesT2I generator.
        samples: Prompts scored (at least 8).
        final: More images per caption for the diversity score (the end of a run).
        truncation_psi: Truncation of the latents.
        batch_size: Images per generator call.
    """
    from ..data import diversity, make_eval_prompts, score_images
    from ..t2i.images import to_uint8

    if samples < 8:
        raise ValueError(f"the ShapesT2I evaluation needs at least 8 samples, got {samples}")
    n_seen, n_held, n_double = int(0.375 * samples), samples // 4, samples // 4
    prompts = make_eval_prompts(seed=777, n_single_seen=n_seen, n_single_heldout=n_held,
                                n_double_seen=n_double, n_double_heldout=samples - n_seen - n_held - n_double)
    captions = [p.caption for p in prompts]
    seeds = [EVAL_SEED_BASE + i for i in range(len(captions))]
    images = generate_images(generator, captions, seeds, truncation_psi=truncation_psi, batch_size=batch_size)
    scores: dict[str, Any] = dict(score_images(to_uint8(images), captions))
    per_caption = 16 if final else 8
    div_images = {
        caption: to_uint8(generate_images(generator, [caption] * per_caption,
                                          [EVAL_SEED_BASE * 2 + j for j in range(per_caption)],
                                          truncation_psi=truncation_psi, batch_size=batch_size))
        for caption in captions[:4]
    }
    scores["diversity"] = float(diversity(div_images, resolution=images.shape[-1]))
    scores["samples"] = len(captions)
    return scores


def score_generator(
    generator: TextToImage,
    metrics: Sequence[str],
    reference: Any,
    *,
    samples: int,
    inception: Any = None,
    dino: Any = None,
    clip: Any = None,
    clip_name: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    kid_subsets: int = 100,
    kid_subset_size: int | None = None,
    truncation_psi: float = 1.0,
    batch_size: int = 64,
) -> dict[str, Any]:
    """FID / KID / FD-DINO / CLIP score of a generator against a reference, with the given networks.

    A thin layer over [`evaluate_metrics`][ganblocks.metrics.report.evaluate_metrics]: the
    generator draws one image per reference caption; ``inception`` serves ``fid`` and ``kid``,
    ``dino`` serves ``fd_dino`` and ``clip`` (e.g. the frozen CLIP a model was trained with)
    serves ``clip``. Reference statistics are cached in ``cache_dir`` (default
    ``~/.cache/ganblocks/stats``).

    Args:
        generator: The generator.
        metrics: Names from ``fid``, ``kid``, ``fd_dino``, ``clip``.
        reference: A [`Reference`][ganblocks.metrics.report.Reference] (e.g. ``ShapesReference``
            or ``FolderReference``).
        samples: Generated (and reference) images per metric.
        inception: Extractor of ``fid``/``kid`` (``create_inception``).
        dino: Extractor of ``fd_dino`` (``create_dino_features``).
        clip: Image-text encoder of ``clip`` (a ``FrozenCLIP``).
        clip_name: The CLIP's name in the report.
        cache_dir: Reference statistics cache.
        kid_subsets: KID subsets.
        kid_subset_size: KID subset size (default ``min(1000, samples)``).
        truncation_psi: Truncation of the latents.
        batch_size: Images per forward pass.
    """
    from .cache import StatsCache
    from .report import evaluate_metrics

    def generate(captions: list[str], seeds: list[int]) -> Tensor:
        return generator.generate(captions, seeds, truncation_psi=truncation_psi)

    return evaluate_metrics(
        generate, reference, metrics, samples=samples, inception=inception, dino=dino, clip=clip,
        clip_name=clip_name, cache=StatsCache(cache_dir), batch_size=batch_size,
        kid_subsets=kid_subsets, kid_subset_size=kid_subset_size)
