"""Compute several metrics of a generator in one pass over its samples, against a reference set.

Samples are generated from the reference's own captions (one fresh seed per caption) and streamed
batch by batch through every extractor, so no metric needs all images in memory. The reference's
features are cached on disk (see [`StatsCache`][ganblocks.metrics.cache.StatsCache]).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from .._typing import Float, Tensor, UInt8
from .cache import StatsCache, StatsKey
from .clip_score import ImageTextEncoder, clip_similarities
from .extractors import FeatureExtractor, extract_features, weights_fingerprint
from .frechet import MIN_SAMPLES, FeatureStats, feature_statistics, frechet_distance_stats
from .kid import kid

__all__ = ["METRICS", "MIN_SAMPLES_FOR", "Reference", "ShapesReference", "check_metrics", "evaluate_metrics"]

METRICS = ("fid", "kid", "fd_dino", "clip")
"""Metrics of [`evaluate_metrics`][ganblocks.metrics.report.evaluate_metrics]."""

MIN_SAMPLES_FOR = {"fid": MIN_SAMPLES, "kid": 2, "fd_dino": MIN_SAMPLES, "clip": 1}
"""The fewest samples each metric is defined for (FD is biased far above this: see the docs)."""

SEED_BASE = 2_000_000
"""Latent seeds of metric samples start here (apart from the example's grid and eval seeds)."""


@runtime_checkable
class Reference(Protocol):
    """A fixed, ordered set of captioned real images: ``dataset_id`` must always mean the same images."""

    dataset_id: str
    resolution: int

    def captions(self, count: int) -> list[str]: ...

    def images(self, start: int, stop: int) -> Tensor: ...


@dataclass(frozen=True)
class ShapesReference:
    """The first ``count`` images of a ShapesT2I data set (seen compositions), as a metric reference.

    Args:
        resolution: Image side.
        seed: Data set seed; the default is one the example's training does not use by default.
        max_objects: Objects per image (1 or 2), as in training.
    """

    resolution: int
    seed: int = 1000
    max_objects: int = 2

    @property
    def dataset_id(self) -> str:
        return f"shapes-seed{self.seed}-obj{self.max_objects}"

    def _data(self) -> Any:
        from ..data import ShapesT2I

        return ShapesT2I(resolution=self.resolution, seed=self.seed, max_objects=self.max_objects)

    def captions(self, count: int) -> list[str]:
        data = self._data()
        return [data.caption(i) for i in range(count)]

    def images(self, start: int, stop: int) -> UInt8[Tensor, "b 3 {self.resolution} {self.resolution}"]:
        return self._data().get_batch(list(range(start, stop)))[0]


def check_metrics(metrics: Sequence[str], samples: int) -> list[str]:
    """Validate metric names and the sample count before any work; return the names in order.

    Raises:
        ValueError: An unknown name (listing the valid ones) or fewer samples than a metric needs
            (naming the metric and what to pass).
    """
    names = [m.strip() for m in metrics if m.strip()]
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise ValueError(f"unknown metrics {unknown or names}; choose from {', '.join(METRICS)}")
    for m in names:
        if samples < MIN_SAMPLES_FOR[m]:
            raise ValueError(f"{m} needs at least {MIN_SAMPLES_FOR[m]} samples, got {samples}; pass more samples")
    return list(dict.fromkeys(names))


def _check_size(images: Tensor, reference: Reference, what: str) -> None:
    size = tuple(images.shape[-2:])
    if images.ndim != 4 or images.shape[1] != 3 or size != (reference.resolution, reference.resolution):
        raise ValueError(
            f"{what} images have shape {list(images.shape)} but the reference {reference.dataset_id!r} "
            f"is {reference.resolution}x{reference.resolution}: build the reference at the generator's "
            "resolution"
        )


def _reference_features(
    extractor: FeatureExtractor, key: StatsKey, reference: Reference, cache: StatsCache | None,
    need_features: bool, batch_size: int,
) -> tuple[FeatureStats, np.ndarray | None]:
    if cache is not None:
        stats = cache.load(key)
        features = cache.load_features(key) if stats is not None and need_features else None
        if stats is not None and (features is not None or not need_features):
            return stats, features

    def batches() -> Any:
        for start in range(0, key.count, batch_size):
            images = reference.images(start, min(start + batch_size, key.count))
            _check_size(images, reference, "reference")
            yield images

    array = extract_features(extractor, batches()).double().numpy()
    stats = feature_statistics(array, name=f"reference features ({extractor.name})", warn=False)
    if cache is not None:
        cache.save(key, stats, array if need_features else None)
    return stats, array


def evaluate_metrics(
    generate: Callable[[list[str], list[int]], Float[Tensor, "b 3 h w"]],
    reference: Reference,
    metrics: Sequence[str],
    *,
    samples: int,
    inception: FeatureExtractor | None = None,
    dino: FeatureExtractor | None = None,
    clip: ImageTextEncoder | None = None,
    clip_name: str | None = None,
    cache: StatsCache | None = None,
    batch_size: int = 64,
    kid_subsets: int = 100,
    kid_subset_size: int | None = None,
    seed_base: int = SEED_BASE,
) -> dict[str, Any]:
    """FID, KID, FD-DINO and CLIP score of a text-to-image generator against a reference set.

    The generator draws one image per reference caption ``i`` with seed ``seed_base + i``; FID and
    KID use ``inception``'s features, FD-DINO ``dino``'s; all compare against the first ``samples``
    reference images (features cached in ``cache``, keyed by the reference id, the extractor's name
    and weights fingerprint, the resolution and the count).

    Args:
        generate: ``(captions, seeds) -> images`` in $[-1, 1]$ at the reference's resolution (e.g.
            the example generator's ``G.generate``).
        reference: The real images and their captions.
        metrics: Names from [`METRICS`][ganblocks.metrics.report.METRICS].
        samples: Generated (and reference) images per metric.
        inception: Extractor of ``fid`` and ``kid`` (see ``create_inception``).
        dino: Extractor of ``fd_dino`` (see ``create_dino_features``).
        clip: Encoder of ``clip`` (a ``FrozenCLIP``).
        clip_name: The CLIP model's name, reported beside its score.
        cache: Where reference statistics are cached; ``None`` computes them every time.
        batch_size: Images per generator and extractor call.
        kid_subsets: KID subsets.
        kid_subset_size: KID subset size (default ``min(1000, samples)``).
        seed_base: First latent seed.

    Returns:
        ``fid``, ``kid`` (with ``kid_std``, ``kid_subset_size``), ``fd_dino``, ``clip_score`` (with
        ``clip_model``) for the metrics asked for, plus ``samples``, ``reference``,
        ``extractors`` (name -> weights fingerprint) and ``notes`` (e.g. that FD is biased
        because there are fewer samples than feature dimensions).

    Raises:
        ValueError: Unknown metrics, too few samples, a missing extractor, or generated images
            whose size differs from the reference's.
    """
    names = check_metrics(metrics, samples)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    needed = {"fid": ("inception", inception), "kid": ("inception", inception), "fd_dino": ("dino", dino),
              "clip": ("clip", clip)}
    for m in names:
        arg, value = needed[m]
        if value is None:
            raise ValueError(f"{m} needs an extractor: pass {arg}=...")
    if "kid" in names and kid_subset_size is not None and kid_subset_size > samples:
        raise ValueError(f"kid_subset_size {kid_subset_size} is larger than samples {samples}: pass "
                         f"samples >= {kid_subset_size} or a smaller kid_subset_size")
    extractors: dict[str, FeatureExtractor] = {}
    if "fid" in names or "kid" in names:
        extractors["inception"] = inception  # type: ignore[assignment]
    if "fd_dino" in names:
        extractors["dino"] = dino  # type: ignore[assignment]

    captions = reference.captions(samples)
    fake: dict[str, list[Tensor]] = {k: [] for k in extractors}
    cosines: list[Tensor] = []
    for start in range(0, samples, batch_size):
        chunk = captions[start:start + batch_size]
        with torch.inference_mode():
            images = generate(chunk, [seed_base + start + i for i in range(len(chunk))])
        _check_size(images, reference, "generated")
        for k, extractor in extractors.items():
            fake[k].append(extract_features(extractor, images, batch_size=batch_size))
        if "clip" in names:
            cosines.append(clip_similarities(clip, images, chunk, batch_size=batch_size))  # type: ignore[arg-type]

    report: dict[str, Any] = {"samples": samples, "reference": reference.dataset_id, "extractors": {}, "notes": []}
    for k, extractor in extractors.items():
        fingerprint = weights_fingerprint(extractor) if isinstance(extractor, torch.nn.Module) else "unknown"
        report["extractors"][extractor.name] = fingerprint
        key = StatsKey(reference.dataset_id, f"{extractor.name}-{fingerprint}", reference.resolution, samples)
        need_features = k == "inception" and "kid" in names
        real_stats, real_features = _reference_features(
            extractor, key, reference, cache, need_features, batch_size)
        fake_features = torch.cat(fake[k]).double().numpy()
        fake_stats = feature_statistics(fake_features, name=f"generated features ({extractor.name})", warn=False)
        if samples <= fake_stats.dim and ("fid" in names or k == "dino"):
            report["notes"].append(
                f"{'fd_dino' if k == 'dino' else 'fid'}: {samples} samples of {fake_stats.dim}-d features give "
                "rank-deficient covariances; the value is biased upwards and only comparable at equal "
                "sample counts (kid is unbiased)")
        if k == "dino":
            report["fd_dino"] = frechet_distance_stats(fake_stats, real_stats)
            continue
        if "fid" in names:
            report["fid"] = frechet_distance_stats(fake_stats, real_stats)
        if "kid" in names:
            result = kid(fake_features, real_features, subsets=kid_subsets, subset_size=kid_subset_size)
            report.update(kid=result.mean, kid_std=result.std, kid_subset_size=result.subset_size)
    if "clip" in names:
        report["clip_score"] = float(torch.cat(cosines).mean())
        report["clip_model"] = clip_name or type(clip).__name__
    return report
