"""Where training batches come from: a pure function of (step, accumulation round, rank).

Deriving every batch from its step makes resume exact without saving loader state, and makes a
run on N devices see the same global batch as a run on one device with N accumulation rounds.
"""

from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from config import Config


class BatchSource(Protocol):
    def batch(self, step: int, round: int) -> tuple[Tensor, list[str]]:
        """uint8 images [n, 3, R, R] and their captions for this device."""

    def bad_samples(self) -> dict[str, int]:
        """Samples skipped because they could not be read, by reason."""


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


def create_batch_source(cfg: Config, *, rank: int, world: int, per_device: int, accum: int) -> BatchSource:
    """The batch source for ``cfg.data``."""
    if cfg.data == "shapes":
        return ShapesSource(cfg, rank=rank, world=world, per_device=per_device)
    raise ValueError(f"unsupported --data {cfg.data!r}: use 'shapes'")
