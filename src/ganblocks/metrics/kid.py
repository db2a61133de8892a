"""Kernel distance (KID): an unbiased squared MMD between two feature sets.

Unlike the Fréchet distance, its estimate has no bias from the sample count, so it can compare
generators on a few hundred samples: on two sets from the same distribution its expectation is
exactly 0 (and single estimates may be negative).
"""

from typing import NamedTuple

import numpy as np

from .._typing import Float, Tensor
from .frechet import as_feature_array

__all__ = ["KIDResult", "polynomial_kernel", "mmd2_unbiased", "kid"]

MIN_SUBSET = 2
"""The unbiased estimator needs two samples per set (it leaves out the diagonal)."""


class KIDResult(NamedTuple):
    """Mean and standard deviation of the unbiased MMD² over random subsets."""

    mean: float
    std: float
    subsets: int
    subset_size: int


def polynomial_kernel(
    x: np.ndarray, y: np.ndarray, *, degree: int = 3, coef: float = 1.0
) -> np.ndarray:
    """The cubic polynomial kernel of KID, $k(x, y) = (x^\\top y / d + c)^p$ with $p = 3$, $c = 1$.

    Args:
        x: Features ``[n, d]``.
        y: Features ``[m, d]``.
        degree: Exponent $p$.
        coef: Offset $c$.

    Returns:
        The ``[n, m]`` kernel matrix.
    """
    return (x @ y.T / x.shape[1] + coef) ** degree


def mmd2_unbiased(
    x: Float[Tensor, "n d"] | np.ndarray, y: Float[Tensor, "m d"] | np.ndarray, *,
    degree: int = 3, coef: float = 1.0,
) -> float:
    """Unbiased estimate of the squared MMD between the distributions of ``x`` and ``y``.

    $$ \\widehat{\\mathrm{MMD}}^2 = \\frac{1}{n(n-1)} \\sum_{i \\ne j} k(x_i, x_j)
    + \\frac{1}{m(m-1)} \\sum_{i \\ne j} k(y_i, y_j) - \\frac{2}{nm} \\sum_{i, j} k(x_i, y_j) $$

    with the [`polynomial_kernel`][ganblocks.metrics.kid.polynomial_kernel]. Its expectation is
    the population MMD², 0 when both sets come from one distribution.

    Args:
        x: One set of features.
        y: The other set, same width.
        degree: Kernel exponent.
        coef: Kernel offset.

    Raises:
        ValueError: A set with fewer than two samples, or sets of different widths.
    """
    x = as_feature_array(x, "x")
    y = as_feature_array(y, "y")
    _check_pair(x, y, "x", "y")
    for name, v in (("x", x), ("y", y)):
        if v.shape[0] < MIN_SUBSET:
            raise ValueError(
                f"the unbiased MMD needs at least {MIN_SUBSET} samples per set; {name} has {v.shape[0]}")
    n, m = x.shape[0], y.shape[0]
    kxx = polynomial_kernel(x, x, degree=degree, coef=coef)
    kyy = polynomial_kernel(y, y, degree=degree, coef=coef)
    kxy = polynomial_kernel(x, y, degree=degree, coef=coef)
    within_x = (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
    within_y = (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within_x + within_y - 2.0 * kxy.mean())


def _check_pair(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{name_a} and {name_b} have different feature widths ({a.shape[1]} and {b.shape[1]}): "
            "were they made by the same extractor?"
        )


def kid(
    features_a: Float[Tensor, "n d"] | np.ndarray,
    features_b: Float[Tensor, "m d"] | np.ndarray,
    *,
    subsets: int = 100,
    subset_size: int | None = None,
    seed: int = 0,
    degree: int = 3,
    coef: float = 1.0,
) -> KIDResult:
    """Kernel distance between two feature sets: the unbiased MMD² averaged over random subsets.

    Each of the ``subsets`` rounds draws ``subset_size`` rows of each set without replacement and
    computes [`mmd2_unbiased`][ganblocks.metrics.kid.mmd2_unbiased]; the result is the mean and
    standard deviation over rounds (KID as in Bińkowski et al., 2018, usually reported × 1000).

    Args:
        features_a: One set of features (e.g. of generated images).
        features_b: The other set (e.g. of real images).
        subsets: Number of random subsets.
        subset_size: Rows drawn per subset; default ``min(1000, n, m)``.
        seed: Seed of the subset draws (the result is a pure function of the inputs and seed).
        degree: Kernel exponent.
        coef: Kernel offset.

    Raises:
        ValueError: Fewer samples than ``subset_size`` (or than two) in a set, naming what to pass.
    """
    a = as_feature_array(features_a, "features_a")
    b = as_feature_array(features_b, "features_b")
    _check_pair(a, b, "features_a", "features_b")
    n, m = a.shape[0], b.shape[0]
    if min(n, m) < MIN_SUBSET:
        raise ValueError(
            f"KID needs at least {MIN_SUBSET} samples per set; got {n} and {m}. Pass more samples."
        )
    size = min(1000, n, m) if subset_size is None else int(subset_size)
    if size < MIN_SUBSET:
        raise ValueError(f"subset_size must be at least {MIN_SUBSET}, got {size}")
    if size > min(n, m):
        raise ValueError(
            f"KID subset_size {size} is larger than the sets ({n} and {m} samples): pass at least "
            f"{size} samples or a subset_size of at most {min(n, m)}"
        )
    if subsets < 1:
        raise ValueError(f"subsets must be at least 1, got {subsets}")
    rng = np.random.default_rng(seed)
    values = np.array([
        mmd2_unbiased(a[rng.choice(n, size, replace=False)], b[rng.choice(m, size, replace=False)],
                      degree=degree, coef=coef)
        for _ in range(subsets)
    ])
    return KIDResult(float(values.mean()), float(values.std()), subsets, size)
