"""Where training batches come from: a pure function of (step, accumulation round, rank).

Deriving every batch from its step makes resume exact without saving loader state, and makes a
run on N devices see the same global batch as a run on one device with N accumulation rounds.
This holds for ShapesT2I and for image folders and zips (a permutation per epoch, seeded by
(seed, epoch)). WebDataset shards are a stream: a resumed run continues with a fresh shuffled
stream, seeded by the step it resumes at, not where the previous run stopped.

    --data shapes                         the built-in ShapesT2I
    --data my_images/                     images + metadata.jsonl ({"file_name": ..., "text": ...})
    --data my_images.zip                  the same, zipped
    --data shards/ | shards/{000000..000099}.tar | one.tar    img2dataset-style WebDataset shards

Unreadable samples (corrupt or empty images, missing captions, truncated shards) are skipped,
counted by reason in bad_samples() and printed in the run's summary; the first few of each
reason are logged as they are met.
"""

from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from config import Config
from ganblocks.data import CaptionedImageFolder, CaptionedShards, StepBatches, StreamBatches, data_format


class BatchSource(Protocol):
    def batch(self, step: int, round: int) -> tuple[Tensor, list[str]]:
        """uint8 images [n, 3, R, R] and their captions for this device."""

    def bad_samples(self) -> dict[str, int]:
        """Samples skipped because they could not be read, by reason."""

    def bad_sample_names(self) -> dict[str, list[str]]:
        """The first few skipped samples of each reason (files, archive members or shard keys)."""


class ShapesSource:
    """Batches of the built-in ShapesT2I data set (seen compositions only)."""

    def __init__(self, cfg: Config, *, rank: int, world: int, per_device: int) -> None:
        from ganblocks.data import ShapesT2I

        self.dataset = ShapesT2I(resolution=cfg.resolution, seed=cfg.seed,
                                 max_objects=cfg.shapes_max_objects, compositions="seen")
        self.rank, self.world, self.per_device, self.batch_size = rank, world, per_device, cfg.batch

    def batch(self, step: int, round: int) -> tuple[Tensor, list[str]]:
        start = step * self.batch_size + (round * self.world + self.rank) * self.per_device
        indices = np.arange(start, start + self.per_device) % len(self.dataset)
        images, captions = self.dataset.get_batch(indices.tolist())
        return torch.as_tensor(images), list(captions)

    def bad_samples(self) -> dict[str, int]:
        return {}

    def bad_sample_names(self) -> dict[str, list[str]]:
        return {}


class RealSource:
    """Batches of an image folder, zip or shards."""

    def __init__(self, loader: StepBatches | StreamBatches) -> None:
        self.loader = loader

    def batch(self, step: int, round: int) -> tuple[Tensor, list[str]]:
        return self.loader.batch(step, round)

    def bad_samples(self) -> dict[str, int]:
        return self.loader.bad_samples()

    def bad_sample_names(self) -> dict[str, list[str]]:
        return self.loader.log.examples()


def create_batch_source(cfg: Config, *, rank: int, world: int, per_device: int, accum: int) -> BatchSource:
    """The batch source for ``cfg.data``: ShapesT2I, an image folder or zip, or shards.

    Raises FileNotFoundError for a missing path and ValueError for data without a usable sample.
    """
    if cfg.data == "shapes":
        return ShapesSource(cfg, rank=rank, world=world, per_device=per_device)
    if data_format(cfg.data) in ("folder", "zip"):
        folder = CaptionedImageFolder(cfg.data, resolution=cfg.resolution)
        folder.verify()
        return RealSource(StepBatches(folder, batch_size=cfg.batch, per_device=per_device, rank=rank,
                                      world=world, seed=cfg.seed, num_workers=cfg.num_workers, log=folder.bad))
    shards = CaptionedShards(cfg.data, resolution=cfg.resolution, seed=cfg.seed, rank=rank, world=world,
                             repeat=True)
    shards.verify()
    return RealSource(StreamBatches(shards, per_device=per_device, num_workers=cfg.num_workers, log=shards.bad))
