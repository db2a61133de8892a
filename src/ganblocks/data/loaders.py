"""Training batches from real data: exact-resume batches from folders and zips, streams from shards.

A trainer asks for ``batch(step, round)``: the images and captions of one accumulation round of
one step on this rank. For map-style data (``CaptionedImageFolder``) the answer is a pure
function of ``(seed, step, round, rank)``: global position $p$ of the run's sample sequence is
item $\\pi_e(p \\bmod N)$ of the data set, where $e = \\lfloor p / N \\rfloor$ is the epoch and
$\\pi_e$ a permutation seeded by ``(seed, e)``, and step $s$ takes positions
$sB + (rW + k)P + j$ for round $r$, rank $k$ of $W$, per-device batch $P$, $j < P$. So resume
is exact without loader state, and $W$ ranks see the batches one rank with $W$ rounds would.
An unusable item at position $p$ is replaced by the item at $p+1$ (then $p+2$, ...).

Shards are streams: ``StreamBatches`` gives the next batch of the shuffled stream, and a resumed
run starts a fresh stream (seeded by the step it starts at) rather than the old one's position.
"""

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import torch

from .._typing import Tensor, UInt8
from .badsamples import BadSampleLog
from .folder import METADATA_FILE
from .shards import is_remote
from .transforms import BadSample

__all__ = ["data_format", "epoch_permutation", "StepBatches", "StreamBatches"]


@runtime_checkable
class LoadableDataset(Protocol):
    """A map-style data set whose ``load`` returns a ``BadSample`` instead of raising."""

    def __len__(self) -> int: ...

    def load(self, index: int) -> tuple[Tensor, str] | BadSample: ...


@runtime_checkable
class SampleStream(Protocol):
    """A stream of samples with a ``BadSample`` in place of each unusable one (``CaptionedShards``).

    (A protocol rather than the class: runtime type checkers reject torch's ``IterableDataset``
    in annotations.)
    """

    seed: int
    repeat: bool
    urls: list[str]

    def samples(self) -> Iterator[tuple[Tensor, str] | BadSample]: ...


def data_format(spec: str | os.PathLike) -> Literal["folder", "zip", "shards"]:
    """Which loader reads ``spec``: an image folder, a zip of one, or WebDataset shards.

    A folder with a ``metadata.jsonl`` (at the top or in a subfolder) is an image folder; a folder
    of ``.tar`` files, a ``.tar``, a brace pattern or a URL are shards.

    Args:
        spec: A path, pattern or URL.

    Raises:
        FileNotFoundError: A local path that does not exist.
        ValueError: A folder or file of neither kind.
    """
    text = os.fspath(spec)
    if is_remote(text) or ("{" in text and "}" in text and not Path(text).exists()):
        return "shards"
    path = Path(text)
    if not path.exists():
        raise FileNotFoundError(f"{text}: no such file or folder")
    if path.is_dir():
        if (path / METADATA_FILE).is_file():
            return "folder"
        if any(p.is_file() for p in path.glob("*.tar")):
            return "shards"
        if any(path.rglob(METADATA_FILE)):
            return "folder"
        if any(path.rglob("*.tar")):
            return "shards"
        raise ValueError(f"{text}: neither an image folder (no {METADATA_FILE}) nor a folder of .tar shards")
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return "zip"
    if suffix == ".tar":
        return "shards"
    raise ValueError(f"{text}: expected an image folder, a .zip of one, or .tar shards")


def epoch_permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order of the ``n`` items in ``epoch``: a permutation seeded by ``(seed, epoch)``."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def _identity(x: Any) -> Any:
    return x


class _PositionLoader(torch.utils.data.Dataset):
    """Loads the items at global positions, replacing unusable ones; runs in worker processes."""

    def __init__(self, dataset: LoadableDataset, seed: int, max_skips: int) -> None:
        self.dataset, self.seed, self.n = dataset, seed, len(dataset)
        self.max_skips = min(max_skips, self.n)
        self._orders: dict[int, np.ndarray] = {}

    def index(self, position: int) -> int:
        epoch, offset = divmod(position, self.n)
        if epoch not in self._orders:
            if len(self._orders) >= 2:
                self._orders.pop(min(self._orders))
            self._orders[epoch] = epoch_permutation(self.seed, epoch, self.n)
        return int(self._orders[epoch][offset])

    def __getitem__(self, positions: tuple[int, ...]) -> tuple[Tensor, list[str], list[BadSample]]:
        images, captions, bads = [], [], []
        for p in positions:
            for k in range(self.max_skips):
                item = self.dataset.load(self.index(p + k))
                if not isinstance(item, BadSample):
                    break
                bads.append(item)
            else:
                raise RuntimeError(f"{self.max_skips} unusable samples in a row at position {p} "
                                   f"(last: {bads[-1].name}, {bads[-1].reason})")
            images.append(item[0])
            captions.append(item[1])
        return torch.stack(images), captions, bads


class StepBatches:
    """Per-rank training batches of a map-style data set, a pure function of (step, round, rank).

    Batches are loaded in order by ``num_workers`` data-loader processes, ahead of the step that
    needs them; asking for another step than the next one (a resume) restarts the workers there.

    Args:
        dataset: A data set with ``load`` (``CaptionedImageFolder``).
        batch_size: Global batch: images per step over all ranks and rounds.
        per_device: Images per batch on this rank.
        rank: This process's rank.
        world: Number of ranks.
        seed: Seeds the per-epoch permutations.
        num_workers: Loader processes (0: load in the calling process, no prefetch).
        prefetch: Batches each worker loads ahead.
        max_skips: Give up after this many unusable items in a row.
        log: Where skipped samples are recorded (default: a new ``BadSampleLog``).
    """

    def __init__(self, dataset: LoadableDataset, *, batch_size: int, per_device: int, rank: int = 0,
                 world: int = 1, seed: int = 0, num_workers: int = 0, prefetch: int = 2,
                 max_skips: int = 64, log: BadSampleLog | None = None) -> None:
        if per_device < 1 or world < 1 or not 0 <= rank < world:
            raise ValueError(f"need per_device >= 1 and 0 <= rank < world, got {per_device}, {rank}, {world}")
        self.accum, rest = divmod(batch_size, per_device * world)
        if rest or self.accum < 1:
            raise ValueError(f"batch_size {batch_size} is not a multiple of per_device {per_device} x world {world}")
        if len(dataset) < 1:
            raise ValueError("the data set is empty")
        self.loader = _PositionLoader(dataset, seed, max_skips)
        self.batch_size, self.per_device, self.rank, self.world = batch_size, per_device, rank, world
        self.num_workers, self.prefetch = num_workers, prefetch
        self.log = log if log is not None else BadSampleLog()
        self._iter: Iterator | None = None
        self._next: tuple[int, int] | None = None

    def positions(self, step: int, round: int) -> list[int]:
        """Global positions of the items of ``(step, round)`` on this rank."""
        start = step * self.batch_size + (round * self.world + self.rank) * self.per_device
        return list(range(start, start + self.per_device))

    def _sequence(self, step: int, round: int) -> Iterator[tuple[int, ...]]:
        while True:
            yield tuple(self.positions(step, round))
            round += 1
            if round == self.accum:
                step, round = step + 1, 0

    def batch(self, step: int, round: int) -> tuple[UInt8[Tensor, "b 3 h w"], list[str]]:
        """Images and captions of accumulation round ``round`` of ``step`` on this rank."""
        if not 0 <= round < self.accum:
            raise ValueError(f"round must be in [0, {self.accum}), got {round}")
        if self._iter is None or self._next != (step, round):
            self.close()
            if self.num_workers == 0:
                self._iter = map(self.loader.__getitem__, self._sequence(step, round))
            else:
                self._iter = iter(torch.utils.data.DataLoader(
                    self.loader, batch_size=None, sampler=self._sequence(step, round),
                    num_workers=self.num_workers, prefetch_factor=self.prefetch, collate_fn=_identity))
        images, captions, bads = next(self._iter)
        self._next = (step, round + 1) if round + 1 < self.accum else (step + 1, 0)
        self.log.extend(bads)
        return images, captions

    def bad_samples(self) -> dict[str, int]:
        """Distinct samples skipped so far, by reason."""
        return self.log.counts()

    def close(self) -> None:
        """Stop the worker processes (they restart on the next ``batch``)."""
        self._iter, self._next = None, None


class _BatchingStream(torch.utils.data.IterableDataset):
    """Groups a shard stream into batches, passing the skipped samples along."""

    def __init__(self, shards: SampleStream, per_device: int) -> None:
        self.shards, self.per_device = shards, per_device

    def __iter__(self) -> Iterator[tuple[Tensor | None, list[str], list[BadSample]]]:
        images, captions, bads = [], [], []
        for item in self.shards.samples():
            if isinstance(item, BadSample):
                bads.append(item)
                continue
            images.append(item[0])
            captions.append(item[1])
            if len(images) == self.per_device:
                yield torch.stack(images), captions, bads
                images, captions, bads = [], [], []
        if bads:
            yield None, [], bads


class StreamBatches:
    """Per-rank training batches streamed from shards; ``step`` only seeds a fresh stream.

    The first ``batch`` call starts the stream with a seed derived from the shards' seed and that
    step, so a resumed run continues with a new shuffled stream instead of replaying the first
    samples. Skipped samples from all workers are recorded in ``log``.

    Args:
        shards: The rank's shards (``CaptionedShards`` with its ``rank`` and ``world``); they are
            read with ``repeat=True``.
        per_device: Images per batch.
        num_workers: Loader processes (0: read in the calling process).
        prefetch: Batches each worker loads ahead.
        log: Where skipped samples are recorded (default: a new ``BadSampleLog``).
    """

    def __init__(self, shards: SampleStream, *, per_device: int, num_workers: int = 0,
                 prefetch: int = 2, log: BadSampleLog | None = None) -> None:
        if per_device < 1:
            raise ValueError(f"per_device must be positive, got {per_device}")
        self.shards, self.per_device = shards, per_device
        self.num_workers, self.prefetch = num_workers, prefetch
        self.log = log if log is not None else BadSampleLog()
        self._iter: Iterator | None = None

    def _start(self, step: int) -> None:
        shards = copy.copy(self.shards)
        shards.repeat = True
        shards.seed = int(np.random.SeedSequence([self.shards.seed, step]).generate_state(1)[0])
        stream = _BatchingStream(shards, self.per_device)
        if self.num_workers == 0:
            self._iter = iter(stream)
        else:
            self._iter = iter(torch.utils.data.DataLoader(
                stream, batch_size=None, num_workers=self.num_workers,
                prefetch_factor=self.prefetch, collate_fn=_identity))

    def batch(self, step: int, round: int) -> tuple[UInt8[Tensor, "b 3 h w"], list[str]]:
        """The next ``per_device`` images and captions of the stream."""
        if self._iter is None:
            self._start(step)
        while True:
            try:
                images, captions, bads = next(self._iter)
            except StopIteration:
                self._iter = None
                raise RuntimeError(f"{self.shards.urls[0]}: the shards ran out of usable samples "
                                   f"(skipped: {self.log.summary()})") from None
            self.log.extend(bads)
            if images is not None:
                return images, captions

    def bad_samples(self) -> dict[str, int]:
        """Distinct samples skipped so far, by reason."""
        return self.log.counts()

    def close(self) -> None:
        """Stop the worker processes (a later ``batch`` starts a fresh stream)."""
        self._iter = None
