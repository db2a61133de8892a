"""Fréchet distance: zero on itself, the Gaussian closed form, agreement with a scipy computation."""

import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given

from ganblocks.metrics import (
    FeatureStats,
    feature_statistics,
    frechet_distance,
    frechet_distance_from_features,
    frechet_distance_stats,
)
from ganblocks.metrics.frechet import _trace_sqrt_product
from strategies import feature_counts, feature_dims, seeds


def _features(seed: int, n: int, d: int, *, correlated: bool = True) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    return x @ rng.standard_normal((d, d)) if correlated else x


def _scipy_fd(a: np.ndarray, b: np.ndarray) -> float:
    """The textbook formula, with scipy's general matrix square root of the product."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root = scipy.linalg.sqrtm(s_a @ s_b)
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(root).real)


@given(seed=seeds, n=feature_counts, d=feature_dims)
def test_fd_of_a_set_with_itself_is_zero(seed: int, n: int, d: int) -> None:
    x = _features(seed, n, d)
    scale = 1.0 + np.trace(np.atleast_2d(np.cov(x, rowvar=False)))
    shuffled = x[np.random.default_rng(seed).permutation(n)]  # the same set, in another order
    a, b = feature_statistics(x, warn=False), feature_statistics(shuffled, warn=False)
    assert frechet_distance_stats(a, b) <= 1e-9 * scale


@given(seed=seeds, d=feature_dims)
def test_fd_matches_scipy_sqrtm_on_random_features(seed: int, d: int) -> None:
    rng = np.random.default_rng(seed)
    a = _features(seed, 3 * d + 5, d)
    b = _features(seed + 1, 2 * d + 7, d) * rng.uniform(0.5, 2.0) + rng.standard_normal(d)
    ours = frechet_distance_from_features(a, b)
    assert ours == pytest.approx(_scipy_fd(a, b), rel=1e-6, abs=1e-8)


@given(seed=seeds, d=feature_dims)
def test_cholesky_and_eigen_routes_to_the_cross_term_agree(seed: int, d: int) -> None:
    a = feature_statistics(_features(seed, 2 * d + 3, d), warn=False)
    b = feature_statistics(_features(seed + 1, 2 * d + 3, d), warn=False)
    fast = _trace_sqrt_product(a.cov, b.cov)
    assert fast == pytest.approx(_trace_sqrt_product(a.cov, b.cov, cholesky=False), rel=1e-7, abs=1e-9)
    assert fast == pytest.approx(float(np.trace(scipy.linalg.sqrtm(a.cov @ b.cov)).real), rel=1e-6, abs=1e-8)


@given(seed=seeds, n=feature_counts, d=feature_dims)
def test_fd_is_symmetric_and_non_negative(seed: int, n: int, d: int) -> None:
    a = feature_statistics(_features(seed, n, d) + 1.0, warn=False)
    b = feature_statistics(_features(seed + 7, n + 3, d), warn=False)
    ab, ba = frechet_distance_stats(a, b), frechet_distance_stats(b, a)
    assert ab >= 0.0
    assert ab == pytest.approx(ba, rel=1e-6, abs=1e-8)


@given(seed=seeds, d=feature_dims)
def test_fd_of_diagonal_gaussians_has_the_closed_form(seed: int, d: int) -> None:
    # N(mu_a, diag(va)) vs N(mu_b, diag(vb)): |mu_a - mu_b|^2 + sum (sqrt(va) - sqrt(vb))^2
    rng = np.random.default_rng(seed)
    mu_a, mu_b = rng.standard_normal(d), rng.standard_normal(d)
    va, vb = rng.uniform(0.1, 3.0, d), rng.uniform(0.1, 3.0, d)
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(va) - np.sqrt(vb)) ** 2)
    assert frechet_distance(mu_a, np.diag(va), mu_b, np.diag(vb)) == pytest.approx(expected, rel=1e-9)


def test_fd_of_a_known_mean_shift_approaches_its_squared_norm() -> None:
    # FD(N(0, I), N(mu, I)) = |mu|^2 in the limit; finite samples add a small positive bias.
    rng = np.random.default_rng(0)
    d, n = 8, 20_000
    base = rng.standard_normal((n, d))
    other = rng.standard_normal((n, d))
    values = []
    for norm in (0.0, 0.5, 1.0, 2.0):
        mu = np.full(d, norm / np.sqrt(d))
        fd = frechet_distance_from_features(base, other + mu)
        assert fd == pytest.approx(norm**2, abs=0.02 + 0.02 * norm**2)
        values.append(fd)
    assert values == sorted(values) and values[-1] > values[0] + 3.5


def test_torch_and_numpy_features_give_the_same_statistics() -> None:
    x = _features(3, 30, 5)
    a, b = feature_statistics(x), feature_statistics(torch.from_numpy(x).float())
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-6)
    np.testing.assert_allclose(a.cov, b.cov, rtol=1e-5, atol=1e-6)
    assert a.count == b.count == 30 and FeatureStats.from_features(x).dim == 5


def test_bad_inputs_are_refused_with_what_to_pass() -> None:
    with pytest.raises(ValueError, match="at least 2 samples"):
        frechet_distance_from_features(np.ones((1, 4)), np.ones((5, 4)))
    with pytest.raises(ValueError, match="different"):
        frechet_distance_stats(feature_statistics(_features(0, 9, 3)), feature_statistics(_features(1, 9, 4)))
    with pytest.raises(ValueError, match="NaN"):
        feature_statistics(np.full((4, 2), np.nan))
    with pytest.raises(ValueError, match="2-d"):
        feature_statistics(np.ones(8))


def test_rank_deficient_covariance_warns_that_fd_is_biased() -> None:
    with pytest.warns(UserWarning, match="biased upwards"):
        feature_statistics(_features(0, 5, 8))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        feature_statistics(_features(0, 9, 8))  # more samples than dimensions: no warning
