"""Caption edits: a caption changed in exactly one attribute, the hard negatives of ShapesT2I.

A model that only counts words (a "bag of words") cannot tell a caption from its edits when the
edit swaps attributes between the two objects; contrastive training against edits, and a
discriminator that must reject a real image under an edited caption, both need the model to bind
each attribute to its object.
"""

from collections.abc import Iterable

import numpy as np

from .captions import caption_for, parse_caption
from .scene import CELLS, DEFAULT_HOLDOUT, PALETTE, SHAPES, validate_holdout

__all__ = ["EDIT_KINDS", "edit_caption"]

EDIT_KINDS: tuple[str, ...] = ("colour", "shape", "cell", "swap_colour", "swap_shape", "swap_cell")


def _valid(objects: list[tuple[str, str, str]], holdout: frozenset[tuple[str, str]]) -> bool:
    colours = [o[0] for o in objects]
    cells = [o[2] for o in objects]
    return (len(set(colours)) == len(colours) and len(set(cells)) == len(cells)
            and not any((o[0], o[1]) in holdout for o in objects))


def edit_caption(
    caption: str,
    rng: np.random.Generator,
    *,
    kind: str | None = None,
    holdout: Iterable[tuple[str, str]] = DEFAULT_HOLDOUT,
) -> str:
    """A valid caption that differs from ``caption`` in one attribute or one swap.

    Edits: replace one object's colour, shape or cell with another value (``colour``,
    ``shape``, ``cell``), or exchange colours, shapes or cells between the two objects of a
    two-object caption (``swap_*``, same words, different meaning). The result obeys the data's
    rules (distinct colours and cells, no held-out pair).

    Args:
        caption: A ShapesT2I caption.
        rng: Source of randomness.
        kind: One of ``EDIT_KINDS``, or ``None`` for a random applicable kind.
        holdout: (colour, shape) pairs the edit must not produce.

    Returns:
        The edited caption (never equal to ``caption``).
    """
    held = validate_holdout(holdout)
    objects = parse_caption(caption)
    kinds = list(EDIT_KINDS if len(objects) == 2 else EDIT_KINDS[:3])
    if kind is not None:
        if kind not in EDIT_KINDS:
            raise ValueError(f"unknown edit kind {kind!r}; expected one of {EDIT_KINDS}")
        if kind not in kinds:
            raise ValueError(f"edit {kind!r} needs a two-object caption, got {caption!r}")
        kinds = [kind]
    for _ in range(64):
        k = kinds[rng.integers(len(kinds))]
        new = [list(o) for o in objects]
        if k.startswith("swap_"):
            field = {"swap_colour": 0, "swap_shape": 1, "swap_cell": 2}[k]
            new[0][field], new[1][field] = new[1][field], new[0][field]
        else:
            field = {"colour": 0, "shape": 1, "cell": 2}[k]
            values = {0: list(PALETTE), 1: list(SHAPES), 2: list(CELLS)}[field]
            i = int(rng.integers(len(new)))
            new[i][field] = values[rng.integers(len(values))]
        edited = [tuple(o) for o in new]
        if edited != objects and _valid(edited, held):
            return caption_for(edited)
    raise ValueError(f"no valid {kind or 'edit'} exists for {caption!r}")
