"""The vocabulary of ShapesT2I scenes: palette, shapes, grid cells, held-out pairs, objects.

Everything here is an immutable constant or a frozen value; sampling lives in
``ganblocks.data.shapes`` and drawing in ``ganblocks.data.render``.

Coordinates are in pixels of an image of side ``R``: pixel ``(row, col)`` covers
``[col, col + 1) × [row, row + 1)``, so its centre is ``(col + 0.5, row + 0.5)``; ``x`` grows to
the right and ``y`` downwards.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

__all__ = [
    "PALETTE",
    "SHAPES",
    "SHAPE_FILL",
    "CELLS",
    "CELL_PHRASES",
    "DEFAULT_HOLDOUT",
    "SIZE_RANGE",
    "JITTER",
    "ShapeObject",
    "place_object",
    "validate_holdout",
]

PALETTE: MappingProxyType[str, tuple[int, int, int]] = MappingProxyType(
    {
        "red": (230, 40, 40),
        "green": (40, 190, 60),
        "blue": (40, 90, 230),
        "yellow": (240, 220, 40),
        "purple": (160, 60, 210),
        "orange": (245, 140, 30),
        "cyan": (40, 210, 220),
        "white": (240, 240, 240),
    }
)
"""Colour name -> RGB (0-255), in canonical order."""

SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
"""Shape names, in canonical order."""

SHAPE_FILL: MappingProxyType[str, float] = MappingProxyType(
    {"circle": math.pi / 4, "square": 1.0, "triangle": 0.5}
)
"""Fraction of its bounding box that each shape fills."""

CELLS: MappingProxyType[str, tuple[float, float]] = MappingProxyType(
    {
        "top left": (0.2, 0.2),
        "top": (0.5, 0.2),
        "top right": (0.8, 0.2),
        "left": (0.2, 0.5),
        "center": (0.5, 0.5),
        "right": (0.8, 0.5),
        "bottom left": (0.2, 0.8),
        "bottom": (0.5, 0.8),
        "bottom right": (0.8, 0.8),
    }
)
"""Cell name -> centre ``(x, y)`` as a fraction of the image side, row by row."""

CELL_PHRASES: MappingProxyType[str, str] = MappingProxyType(
    {
        "top left": "at the top left",
        "top": "at the top",
        "top right": "at the top right",
        "left": "on the left",
        "center": "in the center",
        "right": "on the right",
        "bottom left": "at the bottom left",
        "bottom": "at the bottom",
        "bottom right": "at the bottom right",
    }
)
"""Cell name -> the words that place an object there in a caption."""

DEFAULT_HOLDOUT: frozenset[tuple[str, str]] = frozenset(
    {("green", "triangle"), ("purple", "circle"), ("orange", "square")}
)
"""(colour, shape) pairs that training data never renders by default."""

SIZE_RANGE: tuple[float, float] = (0.18, 0.22)
"""Object size ``s`` is ``R · U(0.18, 0.22)``."""

JITTER: float = 0.02
"""The bounding-box centre is the cell centre plus ``R · U(-0.02, 0.02)`` on each axis."""


@dataclass(frozen=True)
class ShapeObject:
    """One coloured shape of a scene, with its rendered geometry in pixels.

    Args:
        colour: A ``PALETTE`` name.
        shape: A ``SHAPES`` name.
        cell: A ``CELLS`` name.
        cx: Horizontal centre of the bounding box, in pixels.
        cy: Vertical centre of the bounding box, in pixels (downwards).
        size: Side ``s`` of the bounding box in pixels (diameter, side, or base and height).
    """

    colour: str
    shape: str
    cell: str
    cx: float
    cy: float
    size: float

    def __post_init__(self) -> None:
        if self.colour not in PALETTE:
            raise ValueError(f"unknown colour {self.colour!r}; expected one of {list(PALETTE)}")
        if self.shape not in SHAPES:
            raise ValueError(f"unknown shape {self.shape!r}; expected one of {list(SHAPES)}")
        if self.cell not in CELLS:
            raise ValueError(f"unknown cell {self.cell!r}; expected one of {list(CELLS)}")
        if not self.size > 0:
            raise ValueError(f"size must be positive, got {self.size}")

    @property
    def rgb(self) -> tuple[int, int, int]:
        """The object's colour as RGB (0-255)."""
        return PALETTE[self.colour]


def place_object(
    colour: str, shape: str, cell: str, *, resolution: int, uniforms: np.ndarray
) -> ShapeObject:
    """Give an object its random size and jitter, from three uniforms in ``[0, 1)``.

    $$s = R\\,(0.18 + 0.04\\,u_0),\\qquad
      (c_x, c_y) = R\\,\\big(\\text{cell} + 0.02\\,(2u_1 - 1,\\; 2u_2 - 1)\\big)$$

    Only IEEE-exact arithmetic is used, so the same uniforms give the same object everywhere.

    Args:
        colour: A ``PALETTE`` name.
        shape: A ``SHAPES`` name.
        cell: A ``CELLS`` name.
        resolution: Image side ``R`` in pixels.
        uniforms: At least three floats in ``[0, 1)``; the first three are used.

    Returns:
        The placed object.
    """
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}; expected one of {list(CELLS)}")
    if uniforms.shape[0] < 3:
        raise ValueError(f"uniforms needs 3 values, got {uniforms.shape[0]}")
    u0, u1, u2 = (float(u) for u in uniforms[:3])
    lo, hi = SIZE_RANGE
    fx, fy = CELLS[cell]
    return ShapeObject(
        colour=colour,
        shape=shape,
        cell=cell,
        cx=resolution * (fx + JITTER * (2.0 * u1 - 1.0)),
        cy=resolution * (fy + JITTER * (2.0 * u2 - 1.0)),
        size=resolution * (lo + (hi - lo) * u0),
    )


def validate_holdout(holdout: Iterable[tuple[str, str]]) -> frozenset[tuple[str, str]]:
    """Check a set of held-out (colour, shape) pairs and return it frozen.

    Args:
        holdout: (colour, shape) pairs, names from ``PALETTE`` and ``SHAPES``.

    Returns:
        The pairs as a ``frozenset``.

    Raises:
        ValueError: A pair is not a (colour, shape) of known names.
    """
    pairs = []
    for pair in holdout:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise ValueError(f"holdout entries must be (colour, shape) tuples, got {pair!r}")
        colour, shape = pair
        if colour not in PALETTE:
            raise ValueError(
                f"holdout pair {pair!r}: unknown colour {colour!r}; expected one of {list(PALETTE)}"
            )
        if shape not in SHAPES:
            raise ValueError(
                f"holdout pair {pair!r}: unknown shape {shape!r}; expected one of {list(SHAPES)}"
            )
        pairs.append((colour, shape))
    return frozenset(pairs)
