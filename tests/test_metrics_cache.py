"""Reference statistics cache: exact round trip, keys checked on load, computed once."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

from ganblocks.metrics import FeatureStats, StatsCache, StatsKey, default_cache_dir, feature_statistics
from strategies import feature_dims, seeds

KEY = StatsKey("shapes-seed1000-obj2", "dino-tiny-0123456789ab", 32, 12)


def _stats(seed: int, n: int = 12, d: int = 5) -> tuple[FeatureStats, np.ndarray]:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return feature_statistics(x, warn=False), x


@settings(max_examples=10)
@given(seed=seeds, d=feature_dims)
def test_stats_and_features_round_trip_exactly(
    tmp_path_factory: pytest.TempPathFactory, seed: int, d: int
) -> None:
    cache = StatsCache(tmp_path_factory.mktemp("cache"))
    stats, features = _stats(seed, d=d)
    assert cache.load(KEY) is None and cache.load_features(KEY) is None
    cache.save(KEY, stats, features)
    back = cache.load(KEY)
    assert back is not None and back.count == 12
    assert np.array_equal(back.mean, stats.mean) and np.array_equal(back.cov, stats.cov)
    assert back.mean.dtype == np.float64
    assert np.array_equal(cache.load_features(KEY), features)


def test_each_key_has_its_own_file(tmp_path: Path) -> None:
    cache = StatsCache(tmp_path)
    keys = [KEY, StatsKey(KEY.dataset, KEY.extractor, 64, 12), StatsKey(KEY.dataset, "inception-v3-x", 32, 12),
            StatsKey("shapes-seed1-obj2", KEY.extractor, 32, 12), StatsKey(KEY.dataset, KEY.extractor, 32, 13)]
    assert len({cache.path(k) for k in keys}) == len(keys)
    cache.save(KEY, _stats(0)[0])
    assert cache.load(keys[1]) is None and cache.load_features(KEY) is None
    assert [p.name for p in tmp_path.iterdir()] == [KEY.filename()]  # no temporary file left behind


def test_a_file_for_another_key_is_refused(tmp_path: Path) -> None:
    cache = StatsCache(tmp_path)
    other = StatsKey("shapes-seed1-obj2", KEY.extractor, 32, 12)
    cache.save(other, _stats(0)[0])
    cache.path(other).rename(cache.path(KEY))
    with pytest.raises(ValueError, match="delete it to recompute"):
        cache.load(KEY)
    cache.path(KEY).write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="not a ganblocks statistics file"):
        cache.load(KEY)


def test_get_or_compute_computes_once(tmp_path: Path) -> None:
    cache = StatsCache(tmp_path)
    calls = []

    def compute() -> FeatureStats:
        calls.append(1)
        return _stats(1)[0]

    first = cache.get_or_compute(KEY, compute)
    second = StatsCache(tmp_path).get_or_compute(KEY, compute)
    assert len(calls) == 1 and np.array_equal(first.cov, second.cov)


def test_mismatched_counts_and_bad_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="count 13"):
        StatsCache(tmp_path).save(StatsKey(KEY.dataset, KEY.extractor, 32, 13), _stats(0)[0])
    with pytest.raises(ValueError, match="at least 2"):
        StatsKey("d", "e", 32, 1)


def test_default_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GANBLOCKS_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path / "stats"
    assert StatsCache().root == tmp_path / "stats"
