"""KID: the unbiased MMD matches a direct computation and averages to 0 where FD stays positive."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ganblocks.metrics import feature_statistics, frechet_distance_stats, kid, mmd2_unbiased
from strategies import feature_dims, seeds


def _direct_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, written as explicit sums over pairs."""
    d = x.shape[1]

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return (float(a @ b) / d + 1.0) ** 3

    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


@given(seed=seeds, n=st.integers(2, 9), m=st.integers(2, 9), d=feature_dims)
def test_mmd_matches_a_direct_sum_over_pairs(seed: int, n: int, m: int, d: int) -> None:
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((n, d)), rng.standard_normal((m, d)) + 0.3
    assert mmd2_unbiased(x, y) == pytest.approx(_direct_mmd2(x, y), rel=1e-9, abs=1e-12)


@settings(max_examples=5)
@given(seed=seeds)
def test_kid_is_unbiased_where_fd_is_not(seed: int) -> None:
    # 300 pairs of small sets from one distribution: KID's mean is 0 within its standard error,
    # FD's mean is far above 0 (its bias at 12 samples of 6-d features).
    rng = np.random.default_rng(seed)
    kids, fds = [], []
    for _ in range(300):
        a, b = rng.standard_normal((12, 6)), rng.standard_normal((12, 6))
        kids.append(kid(a, b, subsets=1).mean)
        fds.append(frechet_distance_stats(feature_statistics(a), feature_statistics(b)))
    kids_, fds_ = np.array(kids), np.array(fds)
    se_kid, se_fd = kids_.std() / np.sqrt(len(kids_)), fds_.std() / np.sqrt(len(fds_))
    assert abs(kids_.mean()) < 4 * se_kid
    assert fds_.mean() > 20 * se_fd
    assert (kids_ < 0).any()  # an unbiased estimator of 0 must go negative


@given(seed=seeds, n=st.integers(10, 40))
def test_kid_grows_with_a_mean_shift(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((n, 4)), rng.standard_normal((n, 4))
    values = [kid(a, b + shift, subsets=10, seed=1).mean for shift in (0.0, 2.0, 4.0)]
    assert values[0] < values[1] < values[2]


def test_kid_is_a_pure_function_of_inputs_and_seed() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((50, 3)), rng.standard_normal((40, 3))
    first = kid(a, b, subsets=20, subset_size=10, seed=5)
    assert first == kid(a, b, subsets=20, subset_size=10, seed=5)
    assert first != kid(a, b, subsets=20, subset_size=10, seed=6)
    assert first.subsets == 20 and first.subset_size == 10 and first.std > 0


def test_default_subset_size_is_the_smaller_set() -> None:
    rng = np.random.default_rng(0)
    assert kid(rng.standard_normal((7, 3)), rng.standard_normal((30, 3)), subsets=2).subset_size == 7


def test_too_few_samples_are_refused_with_what_to_pass() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 3)), rng.standard_normal((8, 3))
    with pytest.raises(ValueError, match=r"subset_size of at most 5"):
        kid(a, b, subset_size=6)
    with pytest.raises(ValueError, match="at least 2 samples"):
        kid(a[:1], b)
    with pytest.raises(ValueError, match="feature widths"):
        kid(a, rng.standard_normal((8, 4)))
