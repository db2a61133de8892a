"""Fréchet distance between two sets of features: the maths of FID and FD-DINO.

Each set is summarised by the mean and covariance of its features, and the two Gaussians with
those moments are compared with the Fréchet (2-Wasserstein) distance. The estimate is biased
upwards for small sets (the covariance of $n$ samples has rank at most $n - 1$): use
[`kid`][ganblocks.metrics.kid.kid] when there are only a few hundred samples.
"""

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from .._typing import Float, Tensor

__all__ = [
    "FeatureStats",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_stats",
    "frechet_distance_from_features",
    "as_feature_array",
]

MIN_SAMPLES = 2
"""A covariance needs at least two samples."""


def as_feature_array(features: Float[Tensor, "n d"] | np.ndarray, name: str = "features") -> np.ndarray:
    """Features as a float64 numpy array ``[n, d]``, with a clear error for anything else."""
    if isinstance(features, Tensor):
        features = features.detach().to("cpu", torch.float64).numpy()
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array [samples, feature_dim], got shape {list(array.shape)}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _need_samples(n: int, name: str, metric: str) -> None:
    if n < MIN_SAMPLES:
        raise ValueError(
            f"{metric} needs at least {MIN_SAMPLES} samples per set (a covariance); {name} has {n}. "
            "Pass more samples."
        )


@dataclass(frozen=True, eq=False)
class FeatureStats:
    """Mean, covariance and sample count of a feature set: all FD needs to know about it.

    The covariance is the unbiased one, $\\Sigma = \\frac{1}{n - 1} \\sum_i (f_i - \\mu)(f_i - \\mu)^\\top$.

    Args:
        mean: Feature mean $\\mu$, float64.
        cov: Feature covariance $\\Sigma$, float64.
        count: Number of samples $n$ the moments were estimated from.
    """

    mean: np.ndarray
    cov: np.ndarray
    count: int

    def __post_init__(self) -> None:
        mean = np.asarray(self.mean, dtype=np.float64)
        cov = np.asarray(self.cov, dtype=np.float64)
        d = mean.shape[0] if mean.ndim == 1 else -1
        if mean.ndim != 1 or cov.shape != (d, d):
            raise ValueError(f"mean must be [d] and cov [d, d]; got {list(mean.shape)} and {list(cov.shape)}")
        if int(self.count) < MIN_SAMPLES:
            raise ValueError(f"count must be at least {MIN_SAMPLES}, got {self.count}")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "cov", cov)
        object.__setattr__(self, "count", int(self.count))

    @property
    def dim(self) -> int:
        """Feature dimension $d$."""
        return int(self.mean.shape[0])

    @classmethod
    def from_features(cls, features: Float[Tensor, "n d"] | np.ndarray) -> "FeatureStats":
        """Moments of ``features`` (one row per sample)."""
        return feature_statistics(features)


def feature_statistics(
    features: Float[Tensor, "n d"] | np.ndarray, *, name: str = "features", warn: bool = True
) -> FeatureStats:
    """Mean and unbiased covariance of ``features``, in float64.

    Args:
        features: One row per sample.
        name: What the features are, for messages.
        warn: Warn when there are no more samples than feature dimensions (a rank-deficient
            covariance, which biases FD upwards).

    Raises:
        ValueError: Fewer than two samples, a non-2-d array, or non-finite values.
    """
    array = as_feature_array(features, name)
    _need_samples(array.shape[0], name, "the Fréchet distance")
    if warn and array.shape[0] <= array.shape[1]:
        warnings.warn(
            f"{name}: {array.shape[0]} samples of {array.shape[1]}-d features give a rank-deficient "
            "covariance; the Fréchet distance is biased upwards (use KID for small sample counts)",
            stacklevel=2,
        )
    return FeatureStats(array.mean(axis=0), np.cov(array, rowvar=False, ddof=1).reshape(array.shape[1], -1),
                        array.shape[0])


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix (negative eigenvalues,
    from rounding, are clipped to 0)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def _trace_sqrt_product(cov_a: np.ndarray, cov_b: np.ndarray, *, cholesky: bool = True) -> float:
    """$\\operatorname{tr}\\big((\\Sigma_a \\Sigma_b)^{1/2}\\big)$, the sum of the square roots of the
    eigenvalues of $\\Sigma_a \\Sigma_b$, from a symmetric matrix with the same eigenvalues:
    $L^\\top \\Sigma_b L$ for $\\Sigma_a = L L^\\top$ (Cholesky: cheap, needs $\\Sigma_a$ positive
    definite) or else $\\Sigma_a^{1/2} \\Sigma_b \\Sigma_a^{1/2}$ (an eigen-decomposition)."""
    product = None
    if cholesky:
        try:
            factor = np.linalg.cholesky(cov_a)
            product = factor.T @ cov_b @ factor
        except np.linalg.LinAlgError:  # singular (e.g. fewer samples than dimensions)
            product = None
    if product is None:
        root = _sqrt_psd(cov_a)
        product = root @ cov_b @ root
    values = np.linalg.eigvalsh((product + product.T) / 2)
    return float(np.sqrt(np.clip(values, 0.0, None)).sum())


def frechet_distance(
    mean_a: np.ndarray, cov_a: np.ndarray, mean_b: np.ndarray, cov_b: np.ndarray
) -> float:
    """Fréchet distance between two Gaussians, given by their means and covariances.

    $$ d^2 = \\lVert \\mu_a - \\mu_b \\rVert^2 + \\operatorname{tr}\\Big(\\Sigma_a + \\Sigma_b
    - 2 \\big(\\Sigma_a^{1/2} \\Sigma_b \\Sigma_a^{1/2}\\big)^{1/2}\\Big) $$

    (FID reports $d^2$, not $d$.) The cross term is computed from the eigenvalues of a symmetric
    positive semi-definite matrix similar to $\\Sigma_a \\Sigma_b$ ($L^\\top \\Sigma_b L$ with the
    Cholesky factor $\\Sigma_a = L L^\\top$, or $\\Sigma_a^{1/2} \\Sigma_b \\Sigma_a^{1/2}$ when
    $\\Sigma_a$ is singular), so no complex matrix square root or $\\epsilon$ jitter is needed; all
    in float64.

    Args:
        mean_a: Mean of the first set.
        cov_a: Covariance of the first set.
        mean_b: Mean of the second set.
        cov_b: Covariance of the second set.

    Returns:
        $d^2 \\ge 0$.
    """
    mean_a, mean_b = (np.asarray(m, dtype=np.float64) for m in (mean_a, mean_b))
    cov_a, cov_b = (np.asarray(c, dtype=np.float64) for c in (cov_a, cov_b))
    d = mean_a.shape[0]
    for name, value, shape in (("mean_b", mean_b, (d,)), ("cov_a", cov_a, (d, d)), ("cov_b", cov_b, (d, d))):
        if value.shape != shape:
            raise ValueError(
                f"{name} has shape {list(value.shape)}, expected {list(shape)}: the two feature "
                "sets come from extractors of different widths"
            )
    trace_root = _trace_sqrt_product(cov_a, cov_b)
    value = float(np.square(mean_a - mean_b).sum() + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_root)
    if not math.isfinite(value):
        raise FloatingPointError("the Fréchet distance is not finite; check the features for overflow")
    return max(value, 0.0)


def frechet_distance_stats(a: FeatureStats, b: FeatureStats) -> float:
    """[`frechet_distance`][ganblocks.metrics.frechet.frechet_distance] of two ``FeatureStats``."""
    if a.dim != b.dim:
        raise ValueError(f"feature dimensions differ: {a.dim} and {b.dim} (different extractors?)")
    return frechet_distance(a.mean, a.cov, b.mean, b.cov)


def frechet_distance_from_features(
    features_a: Float[Tensor, "n d"] | np.ndarray, features_b: Float[Tensor, "m d"] | np.ndarray
) -> float:
    """Fréchet distance between two feature sets (one row per sample).

    Raises:
        ValueError: Fewer than two samples in a set, or sets of different widths.
    """
    a = feature_statistics(features_a, name="features_a")
    b = feature_statistics(features_b, name="features_b")
    return frechet_distance_stats(a, b)
