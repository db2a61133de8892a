"""WebDataset shards of captioned images (the img2dataset layout), streamed with ``webdataset``.

Each sample of a shard is a group of tar members sharing a key: an image (``key.jpg``,
``key.png``, ``key.webp``, ...) and its caption (``key.txt``; else ``caption`` or ``text`` of
``key.json``). ``webdataset`` reads the tar stream; ganblocks decodes with ``decode_image`` and
``clean_caption``, like image folders.

Splitting: every epoch the shard list is shuffled with the same seed on every rank, then dealt to
ranks and, within a rank, to data-loader workers. Where there are fewer shards than ranks (or
workers), all of them read every shard and keep every ``world``-th (``workers``-th) sample.
"""

import os
import random
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._typing import Tensor, UInt8
from .badsamples import BadSampleLog
from .transforms import IMAGE_EXTENSIONS, MAX_CAPTION_CHARS, BadSample, BadSampleError, clean_caption, decode_image

__all__ = ["expand_shards", "is_remote", "CaptionedShards"]


def is_remote(url: str) -> bool:
    """Whether a shard is a URL (``https://``, ``s3://``, ...) or a ``pipe:`` command rather than a
    local path."""
    return "://" in url or url.startswith("pipe:")


def expand_shards(spec: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str]:
    """The shard list of a single ``.tar``, a brace pattern, a folder of ``.tar`` files or a list.

    ``shards/{000000..000009}.tar`` expands to ten paths; a folder gives its ``.tar`` files
    (searched recursively, sorted). URLs (``https://``, ``s3://``, ``pipe:``) are passed to
    ``webdataset`` unchecked; local paths must exist.

    Args:
        spec: The shards.

    Raises:
        FileNotFoundError: A local shard or folder does not exist.
        ValueError: The folder holds no ``.tar`` file, or the list is empty.
    """
    from webdataset.shardlists import expand_urls

    if isinstance(spec, (list, tuple)):
        urls = [u for s in spec for u in expand_shards(s)]
    else:
        text = os.fspath(spec)
        if not is_remote(text) and Path(text).is_dir():
            urls = sorted(p.as_posix() for p in Path(text).rglob("*.tar") if p.is_file())
            if not urls:
                raise ValueError(f"{text}: no .tar shards in this folder")
            return urls
        urls = expand_urls(text)
    if not urls:
        raise ValueError(f"no shards in {spec!r}")
    missing = [u for u in urls if not is_remote(u) and not Path(u).is_file()]
    if missing:
        more = f" (and {len(missing) - 1} more of {len(urls)} shards)" if len(missing) > 1 else ""
        raise FileNotFoundError(f"{missing[0]}: no such shard{more}")
    return urls


def _ends_cleanly(path: str) -> bool:
    """Whether a local tar file ends with the end-of-archive marker (two zero blocks).

    ``tarfile`` reads a tar cut at a member boundary as a shorter, valid archive; the missing
    marker is what tells a truncated shard from a complete one.
    """
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            if size < 1024 or size % 512:
                return False
            f.seek(size - 1024)
            return f.read(1024) == bytes(1024)
    except OSError:
        return False


def _split(items: list[str], part: int, parts: int) -> tuple[list[str], int, int]:
    """Deal shards to ``parts``; with too few shards, share all and split samples instead."""
    if parts <= 1:
        return items, 1, 0
    if len(items) >= parts:
        return items[part::parts], 1, 0
    return items, parts, part


class CaptionedShards(torch.utils.data.IterableDataset):
    """Captioned images streamed from WebDataset tar shards, shuffled and split across ranks and
    data-loader workers.

    Iterating yields ``(image, caption)`` like ``CaptionedImageFolder``, skipping unusable samples
    and recording them in ``bad`` (in each worker process its own copy; ``samples`` yields them
    instead, for loaders that collect them). A shard truncated in the middle gives its samples up
    to the break and is recorded as ``truncated_shard``.

    Args:
        shards: A ``.tar``, a brace pattern, a folder of ``.tar`` files or a list (see
            ``expand_shards``).
        resolution: Side of the square images.
        seed: Seeds the shard order of each epoch and the sample shuffle buffer.
        rank: This process's rank.
        world: Number of ranks.
        shuffle: Shuffle shards each epoch and samples through a buffer.
        shuffle_buffer: Samples held in the shuffle buffer (raw bytes, before decoding).
        repeat: Start the next epoch when one ends, forever (an epoch that yields no usable
            sample for this worker ends the stream).
        max_caption_chars: Captions are cut to this many characters.

    Raises:
        FileNotFoundError: A local shard does not exist.
        ValueError: No shards, or ``rank``/``world`` out of range.
    """

    def __init__(
        self,
        shards: str | os.PathLike | Sequence[str | os.PathLike],
        *,
        resolution: int,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
        shuffle: bool = True,
        shuffle_buffer: int = 1000,
        repeat: bool = False,
        max_caption_chars: int = MAX_CAPTION_CHARS,
    ) -> None:
        if not 0 <= rank < world:
            raise ValueError(f"rank must be in [0, world={world}), got {rank}")
        if resolution < 1:
            raise ValueError(f"resolution must be positive, got {resolution}")
        self.urls = expand_shards(shards)
        self.resolution = resolution
        self.seed = seed
        self.rank, self.world = rank, world
        self.shuffle, self.shuffle_buffer = shuffle, shuffle_buffer
        self.repeat = repeat
        self.max_caption_chars = max_caption_chars
        self.bad = BadSampleLog()

    def _raw(self, urls: list[str], stride: int, offset: int, pending: list[BadSample]) -> Iterator[dict[str, Any]]:
        """Raw samples (dicts of bytes) of ``urls``, every ``stride``-th from ``offset``."""
        from webdataset import tarfile_samples

        count = 0
        for url in urls:
            def handler(e: Exception, url: str = url) -> bool:
                truncated = isinstance(e, (tarfile.ReadError, EOFError)) or "unexpected end" in str(e)
                pending.append(BadSample("truncated_shard" if truncated else "unreadable_shard", url,
                                         f"{type(e).__name__}: {e.args[0] if e.args else ''}"))
                return True

            for sample in tarfile_samples([{"url": url}], handler=handler):
                if count % stride == offset:
                    yield sample
                count += 1
            if not is_remote(url) and not _ends_cleanly(url):
                pending.append(BadSample("truncated_shard", url, "no end-of-archive marker"))

    def _decode(self, sample: dict[str, Any]) -> tuple[Tensor, str] | BadSample:
        name = f"{sample.get('__url__')}:{sample.get('__key__')}"
        image_key = next((k for k in sorted(sample) if k.rsplit(".", 1)[-1] in IMAGE_EXTENSIONS), None)
        try:
            if image_key is None:
                raise BadSampleError("missing_image", f"members {sorted(k for k in sample if not k.startswith('__'))}")
            text = self._caption_text(sample)
            caption = clean_caption(text, max_chars=self.max_caption_chars)
            return decode_image(sample[image_key], resolution=self.resolution), caption
        except BadSampleError as e:
            return BadSample(e.reason, name, e.detail)

    @staticmethod
    def _caption_text(sample: dict[str, Any]) -> str:
        if "txt" in sample:
            return bytes(sample["txt"]).decode("utf-8", "replace")
        if "json" in sample:
            import json

            try:
                record = json.loads(sample["json"])
            except (ValueError, UnicodeDecodeError):
                record = None
            for key in ("caption", "text"):
                if isinstance(record, dict) and isinstance(record.get(key), str):
                    return record[key]
        raise BadSampleError("missing_caption", "no .txt (or caption in .json)")

    def samples(self) -> Iterator[tuple[UInt8[Tensor, "3 {self.resolution} {self.resolution}"], str] | BadSample]:
        """This rank's and worker's samples, with a ``BadSample`` in place of each unusable one."""
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        epoch = 0
        while True:
            order = list(self.urls)
            if self.shuffle:
                order = [order[i] for i in np.random.default_rng([self.seed, epoch]).permutation(len(order))]
            mine, s1, o1 = _split(order, self.rank, self.world)
            mine, s2, o2 = _split(mine, worker, workers)
            pending: list[BadSample] = []
            raw = self._raw(mine, s1 * s2, o1 + s1 * o2, pending)
            if self.shuffle and self.shuffle_buffer > 1:
                rng = random.Random(f"{self.seed}/{epoch}/{self.rank}/{worker}")
                raw = _shuffled(raw, self.shuffle_buffer, rng)
            usable = 0
            for sample in raw:
                yield from pending
                pending.clear()
                item = self._decode(sample)
                usable += not isinstance(item, BadSample)
                yield item
            yield from pending
            epoch += 1
            if not self.repeat or usable == 0:
                return

    def __iter__(self) -> Iterator[tuple[UInt8[Tensor, "3 {self.resolution} {self.resolution}"], str]]:
        for item in self.samples():
            if isinstance(item, BadSample):
                self.bad.add(item)
            else:
                yield item

    def verify(self, *, max_probes: int = 256) -> None:
        """Check that the shards hold a usable sample, reading them in order (no shuffle, all
        ranks) up to ``max_probes`` samples; unusable ones met are recorded in ``bad``.

        Raises:
            ValueError: No usable sample was found; the message names the shards and reasons.
        """
        probe = CaptionedShards(self.urls, resolution=self.resolution, shuffle=False,
                                max_caption_chars=self.max_caption_chars)
        for k, item in enumerate(probe.samples()):
            if not isinstance(item, BadSample):
                return
            self.bad.add(item)
            if k + 1 >= max_probes:
                break
        where = self.urls[0] if len(self.urls) == 1 else f"{self.urls[0]} ... ({len(self.urls)} shards)"
        raise ValueError(f"{where}: no usable samples (skipped: {self.bad.summary()}); expected tar "
                         "shards of KEY.jpg/.png/.webp images with KEY.txt captions")


def _shuffled(items: Iterator[Any], size: int, rng: random.Random) -> Iterator[Any]:
    """Shuffle a stream through a buffer of ``size`` items."""
    buf: list[Any] = []
    for item in items:
        if len(buf) < size:
            buf.append(item)
            continue
        k = rng.randrange(size)
        buf[k], item = item, buf[k]
        yield item
    rng.shuffle(buf)
    yield from buf
