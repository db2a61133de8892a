"""On-disk cache of real-image feature statistics, keyed by data set, extractor, resolution and count.

The real images of a metric do not change between evaluations, so their mean and covariance are
computed once and saved as a safetensors file (float64 tensors and a JSON header; nothing is
pickled), optionally with the features themselves (KID needs them, not just their moments). The
key names everything the statistics depend on, and is checked again on loading.
"""

import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .frechet import FeatureStats

__all__ = ["StatsKey", "StatsCache", "default_cache_dir"]


def default_cache_dir() -> Path:
    """``$GANBLOCKS_CACHE/stats`` when set, else ``~/.cache/ganblocks/stats``."""
    root = os.environ.get("GANBLOCKS_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "ganblocks") / "stats"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "_"


@dataclass(frozen=True)
class StatsKey:
    """Everything real-image statistics depend on.

    Args:
        dataset: Identifies the images (e.g. ``shapes-seed0-obj2``); the same id must always
            mean the same images in the same order.
        extractor: Identifies the features: extractor name and weights fingerprint.
        resolution: Image side in pixels.
        count: Number of images.
    """

    dataset: str
    extractor: str
    resolution: int
    count: int

    def __post_init__(self) -> None:
        if not self.dataset or not self.extractor:
            raise ValueError("dataset and extractor ids must be non-empty")
        if self.resolution < 1 or self.count < 2:
            raise ValueError(
                f"resolution must be positive and count at least 2, got {self.resolution}, {self.count}")

    def filename(self) -> str:
        """The cache file's name, readable and unique per key."""
        return f"{_slug(self.dataset)}__{_slug(self.extractor)}__{self.resolution}px__n{self.count}.safetensors"


class StatsCache:
    """A folder of cached [`FeatureStats`][ganblocks.metrics.frechet.FeatureStats], one file per key.

    Args:
        root: The folder (created on first save); default
            [`default_cache_dir`][ganblocks.metrics.cache.default_cache_dir].
    """

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()

    def path(self, key: StatsKey) -> Path:
        """Where the statistics of ``key`` are stored."""
        return self.root / key.filename()

    def _read(self, key: StatsKey, names: tuple[str, ...]) -> dict[str, np.ndarray] | None:
        path = self.path(key)
        if not path.is_file():
            return None
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="numpy") as f:
                meta = f.metadata() or {}
                present = set(f.keys())
                tensors = {n: f.get_tensor(n) for n in names if n in present}
        except Exception as err:  # noqa: BLE001 - any unreadable file gets one message
            raise ValueError(f"{path} is not a ganblocks statistics file ({err}); delete it to recompute") from err
        stored = json.loads(meta.get("key", "{}"))
        if stored != asdict(key):
            raise ValueError(f"{path} holds statistics for {stored}, not {asdict(key)}; delete it to recompute")
        return tensors

    def load(self, key: StatsKey) -> FeatureStats | None:
        """The cached statistics of ``key``, or ``None`` when there are none.

        Raises:
            ValueError: The file exists but was written for another key, or is not a stats file.
        """
        tensors = self._read(key, ("mean", "cov"))
        if tensors is None:
            return None
        if set(tensors) != {"mean", "cov"}:
            raise ValueError(f"{self.path(key)} has no mean and covariance; delete it to recompute")
        return FeatureStats(tensors["mean"], tensors["cov"], key.count)

    def load_features(self, key: StatsKey) -> np.ndarray | None:
        """The cached features of ``key`` (``[count, d]``), or ``None`` when they were not saved."""
        tensors = self._read(key, ("features",))
        return None if not tensors else tensors["features"]

    def save(self, key: StatsKey, stats: FeatureStats, features: np.ndarray | None = None) -> Path:
        """Write ``stats`` (and optionally the ``features`` they came from) for ``key`` atomically:
        a reader never sees half a file."""
        if stats.count != key.count:
            raise ValueError(f"stats of {stats.count} samples cannot be saved under a key of count {key.count}")
        tensors = {"mean": np.ascontiguousarray(stats.mean), "cov": np.ascontiguousarray(stats.cov)}
        if features is not None:
            features = np.ascontiguousarray(features, dtype=np.float32)
            if features.shape != (key.count, stats.dim):
                raise ValueError(f"features have shape {list(features.shape)}, expected {[key.count, stats.dim]}")
            tensors["features"] = features
        from safetensors.numpy import save_file

        self.root.mkdir(parents=True, exist_ok=True)
        path = self.path(key)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-", suffix=".safetensors")
        os.close(fd)
        try:
            header = {"key": json.dumps(asdict(key), sort_keys=True), "count": str(stats.count)}
            save_file(tensors, tmp, metadata=header)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    def get_or_compute(self, key: StatsKey, compute: Callable[[], FeatureStats]) -> FeatureStats:
        """The cached statistics of ``key``; on a miss, ``compute()`` them and cache the result."""
        stats = self.load(key)
        if stats is None:
            stats = compute()
            self.save(key, stats)
        return stats
