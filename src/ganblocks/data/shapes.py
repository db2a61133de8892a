"""ShapesT2I: an infinite, deterministic, captioned data set of coloured shapes on black.

Item ``i`` of a data set made with seed ``k`` is a pure function of ``(k, i)`` and the data set's
arguments: its random numbers come from ``np.random.SeedSequence([k, i])`` driving PCG64, whose
bit stream numpy fixes across versions and platforms, and only ``Generator.random`` (53-bit
doubles) is used. So the data set needs no storage and is the same on every machine.
"""

import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from .._typing import Float, Shaped, Tensor, UInt8
from .captions import caption_for
from .render import render_objects
from .scene import CELLS, DEFAULT_HOLDOUT, PALETTE, SHAPES, ShapeObject, place_object, validate_holdout

__all__ = ["item_rng", "SceneSampler", "ShapesT2I", "uint8_to_float", "float_to_uint8"]

MIN_RESOLUTION, MAX_RESOLUTION = 32, 256
UNIFORMS_PER_SCENE = 10  # count, composition, two cells, 3 per object for two objects


def item_rng(seed: int, index: int) -> np.random.Generator:
    """The random generator of item ``index`` of a data set with ``seed``: PCG64 seeded by
    ``SeedSequence([seed, index])``, independent of any global state.

    Args:
        seed: The data set's seed (non-negative).
        index: The item's index (non-negative).
    """
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, index])))


@dataclass(frozen=True)
class SceneSampler:
    """Draws ShapesT2I scenes from uniforms: which compositions, which cells, sizes and jitter.

    Compositions are drawn uniformly from a table fixed by ``holdout`` and ``compositions``:
    one object with probability $1/2$ (when ``max_objects`` is 2), then an ordered tuple of
    (colour, shape) pairs with distinct colours, then distinct cells.

    Args:
        resolution: Image side ``R`` in pixels.
        max_objects: 1 or 2 objects per scene.
        holdout: (colour, shape) pairs that ``"seen"`` scenes never contain.
        compositions: ``"seen"``: no object uses a held-out pair; ``"heldout"``: at least one does.
    """

    resolution: int
    max_objects: int = 2
    holdout: frozenset[tuple[str, str]] = DEFAULT_HOLDOUT
    compositions: Literal["seen", "heldout"] = "seen"
    singles: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)
    doubles: tuple[tuple[tuple[str, str], tuple[str, str]], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.max_objects not in (1, 2):
            raise ValueError(f"max_objects must be 1 or 2, got {self.max_objects}")
        if self.compositions not in ("seen", "heldout"):
            raise ValueError(f"compositions must be 'seen' or 'heldout', got {self.compositions!r}")
        object.__setattr__(self, "holdout", validate_holdout(self.holdout))
        singles, doubles = self._tables()
        object.__setattr__(self, "singles", singles)
        object.__setattr__(self, "doubles", doubles)
        if not self.singles:
            what = "every pair is held out" if self.compositions == "seen" else "holdout is empty"
            raise ValueError(f"no {self.compositions!r} compositions exist: {what}")

    def _tables(self) -> tuple[tuple, tuple]:
        pairs = [(c, s) for c in PALETTE for s in SHAPES]
        seen = self.compositions == "seen"
        singles = tuple(p for p in pairs if (p not in self.holdout) == seen)
        doubles = tuple(
            (p, q)
            for p in pairs
            for q in pairs
            if p[0] != q[0] and ((p in self.holdout or q in self.holdout) != seen)
        )
        return singles, doubles

    def sample(self, rng: np.random.Generator) -> tuple[ShapeObject, ...]:
        """Draw one scene, consuming exactly ten uniforms from ``rng``.

        Args:
            rng: The item's generator (see ``item_rng``).

        Returns:
            The scene's objects in caption order.
        """
        u = rng.random(UNIFORMS_PER_SCENE)
        two = self.max_objects == 2 and u[0] >= 0.5
        if two:
            pairs = self.doubles[int(u[1] * len(self.doubles))]
        else:
            pairs = (self.singles[int(u[1] * len(self.singles))],)
        cells = list(CELLS)
        chosen = [cells.pop(int(u[2] * 9))]
        chosen.append(cells[int(u[3] * 8)])
        return tuple(
            place_object(c, s, chosen[k], resolution=self.resolution, uniforms=u[4 + 3 * k : 7 + 3 * k])
            for k, (c, s) in enumerate(pairs)
        )


class ShapesT2I(torch.utils.data.Dataset):
    """The built-in text-to-image data set: one or two coloured shapes on black, with captions.

    Each item is ``(image, caption)`` with the image ``uint8`` channels-first; use
    ``uint8_to_float`` for the model's $[-1, 1]$ range. See the ShapesT2I contract in the docs
    for the rendering and caption rules.

    Args:
        resolution: Image side ``R``, 32 to 256.
        seed: Selects the data set; item ``i`` depends only on ``(seed, i)`` and the arguments.
        length: Reported length (the data set is virtually infinite).
        max_objects: 1 or 2; with 2, half of the scenes have two objects.
        holdout: (colour, shape) pairs kept out of ``"seen"`` scenes.
        compositions: ``"seen"`` renders no held-out pair; ``"heldout"`` renders at least one
            held-out pair per scene (for evaluation).
    """

    def __init__(
        self,
        *,
        resolution: int = 32,
        seed: int = 0,
        length: int = 1_000_000,
        max_objects: int = 2,
        holdout: Iterable[tuple[str, str]] = DEFAULT_HOLDOUT,
        compositions: Literal["seen", "heldout"] = "seen",
    ) -> None:
        resolution, seed, length = (operator.index(v) for v in (resolution, seed, length))
        if not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
            raise ValueError(
                f"resolution must be in [{MIN_RESOLUTION}, {MAX_RESOLUTION}], got {resolution}"
            )
        if seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        if length < 1:
            raise ValueError(f"length must be positive, got {length}")
        self.resolution = resolution
        self.seed = seed
        self.length = length
        self.sampler = SceneSampler(
            resolution=resolution,
            max_objects=max_objects,
            holdout=validate_holdout(holdout),
            compositions=compositions,
        )

    @property
    def holdout(self) -> frozenset[tuple[str, str]]:
        """The held-out (colour, shape) pairs."""
        return self.sampler.holdout

    def __len__(self) -> int:
        return self.length

    def _index(self, index: int | np.integer) -> int:
        i = operator.index(index)
        if not -self.length <= i < self.length:
            raise IndexError(f"index {i} out of range for a data set of length {self.length}")
        return i % self.length

    def objects(self, index: int | np.integer) -> tuple[ShapeObject, ...]:
        """The objects of item ``index``, in caption order."""
        return self.sampler.sample(item_rng(self.seed, self._index(index)))

    def caption(self, index: int | np.integer) -> str:
        """The caption of item ``index`` (no rendering)."""
        return caption_for(self.objects(index))

    def __getitem__(
        self, index: int | np.integer
    ) -> tuple[UInt8[Tensor, "3 {self.resolution} {self.resolution}"], str]:
        images, captions = self.get_batch([index])
        return images[0], captions[0]

    def get_batch(
        self, indices: Sequence[int | np.integer] | np.ndarray | Tensor
    ) -> tuple[UInt8[Tensor, "b 3 {self.resolution} {self.resolution}"], list[str]]:
        """Render many items at once into one ``uint8`` batch.

        Args:
            indices: Item indices.

        Returns:
            ``(images, captions)``: images ``uint8`` channels-first, captions in order.
        """
        scenes = [self.objects(operator.index(i)) for i in indices]
        r = self.resolution
        images = np.empty((len(scenes), 3, r, r), dtype=np.uint8)
        for k, scene in enumerate(scenes):
            images[k] = render_objects(scene, r).transpose(2, 0, 1)
        return torch.from_numpy(images), [caption_for(s) for s in scenes]


def uint8_to_float(images: UInt8[Tensor, "*shape"]) -> Float[Tensor, "*shape"]:
    """Map ``uint8`` pixels to the model's range: $x / 127.5 - 1 \\in [-1, 1]$."""
    return images.float() / 127.5 - 1.0


def float_to_uint8(images: Shaped[Tensor, "*shape"]) -> UInt8[Tensor, "*shape"]:
    """Map model outputs in $[-1, 1]$ to ``uint8``: $\\mathrm{round}((x + 1) \\cdot 127.5)$,
    clipped to $[0, 255]$."""
    return ((images.detach().float() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
