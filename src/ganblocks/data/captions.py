"""The ShapesT2I caption grammar: objects to words and back.

One object reads ``a {colour} {shape} {where}`` (``an`` before ``orange``); further objects are
joined with ``and``::

    a red circle at the top left and a blue square in the center

``where`` is the phrase of the object's cell (``CELL_PHRASES``): ``at the top left``,
``at the top``, ``at the top right``, ``on the left``, ``in the center``, ``on the right``,
``at the bottom left``, ``at the bottom``, ``at the bottom right``.
"""

from collections.abc import Iterable, Sequence

from .scene import CELL_PHRASES, PALETTE, SHAPES, ShapeObject

__all__ = ["article", "describe", "caption_for", "parse_caption"]


def article(colour: str) -> str:
    """The indefinite article before a colour name: ``an`` before a vowel, else ``a``."""
    return "an" if colour[:1] in "aeiou" else "a"


def describe(colour: str, shape: str, cell: str) -> str:
    """The words for one object, e.g. ``an orange triangle on the left``.

    Args:
        colour: A ``PALETTE`` name.
        shape: A ``SHAPES`` name.
        cell: A ``CELLS`` name.
    """
    if colour not in PALETTE:
        raise ValueError(f"unknown colour {colour!r}; expected one of {list(PALETTE)}")
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; expected one of {list(SHAPES)}")
    if cell not in CELL_PHRASES:
        raise ValueError(f"unknown cell {cell!r}; expected one of {list(CELL_PHRASES)}")
    return f"{article(colour)} {colour} {shape} {CELL_PHRASES[cell]}"


def caption_for(objects: Iterable[ShapeObject | tuple[str, str, str]]) -> str:
    """The caption of a scene.

    Args:
        objects: The scene's objects in caption order, as ``ShapeObject`` or
            ``(colour, shape, cell)`` triples.

    Returns:
        The caption, objects joined with ``and``.
    """
    parts = []
    for obj in objects:
        if isinstance(obj, ShapeObject):
            parts.append(describe(obj.colour, obj.shape, obj.cell))
        else:
            parts.append(describe(*obj))
    if not parts:
        raise ValueError("a caption needs at least one object")
    return " and ".join(parts)


def _parse_object(words: Sequence[str], text: str) -> tuple[str, str, str]:
    """Parse the words of one object (``a red circle at the top left``)."""
    phrase = " ".join(words)
    if not words:
        raise ValueError(f"cannot parse caption {text!r}: an object is missing before or after 'and'")
    if len(words) < 5:
        raise ValueError(
            f"cannot parse {phrase!r} in caption {text!r}: expected "
            "'a {colour} {shape} {where}'"
        )
    art, colour, shape, where = words[0], words[1], words[2], " ".join(words[3:])
    if art not in ("a", "an"):
        raise ValueError(f"cannot parse {phrase!r} in caption {text!r}: expected 'a' or 'an', got {art!r}")
    if colour not in PALETTE:
        raise ValueError(
            f"cannot parse {phrase!r} in caption {text!r}: unknown colour {colour!r}; "
            f"expected one of {list(PALETTE)}"
        )
    if shape not in SHAPES:
        raise ValueError(
            f"cannot parse {phrase!r} in caption {text!r}: unknown shape {shape!r}; "
            f"expected one of {list(SHAPES)}"
        )
    for cell, cell_phrase in CELL_PHRASES.items():
        if where == cell_phrase:
            return colour, shape, cell
    raise ValueError(
        f"cannot parse {phrase!r} in caption {text!r}: unknown place {where!r}; "
        f"expected one of {list(CELL_PHRASES.values())}"
    )


def parse_caption(text: str) -> list[tuple[str, str, str]]:
    """Parse a caption back into its objects; the inverse of ``caption_for``.

    Case and runs of whitespace are ignored; both articles are accepted before any colour.

    Args:
        text: A caption in the ShapesT2I grammar.

    Returns:
        One ``(colour, shape, cell)`` triple per object, in caption order.

    Raises:
        ValueError: Part of the caption does not follow the grammar; the message quotes it.
    """
    words = text.lower().split()
    if not words:
        raise ValueError("cannot parse an empty caption")
    objects: list[list[str]] = [[]]
    for word in words:
        if word == "and":
            objects.append([])
        else:
            objects[-1].append(word)
    return [_parse_object(obj_words, text) for obj_words in objects]
