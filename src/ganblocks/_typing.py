"""Shape vocabulary shared by every ganblocks annotation.

Axis legend, used in every ``Float[Tensor, "..."]`` annotation of the package:

| axis | meaning |
|------|---------|
| ``b`` | batch |
| ``c`` | channels (``{self.in_channels}`` etc. when tied to a constructor argument) |
| ``h w`` | spatial height and width (``h2 w2`` after resampling) |
| ``n`` | tokens (patches, or text positions) |
| ``d`` | embedding width (text or image embeddings) |
| ``t`` | width of per-token text features |
| ``k`` | kernel size |

Shapes are checked at run time in the test-suite (``--jaxtyping-packages=ganblocks``) and by the
public blocks' own ``ValueError`` checks for users.
"""

from torch import Tensor as Tensor

from jaxtyping import Bool as Bool, Float as Float, Int as Int, UInt8 as UInt8, Shaped as Shaped

__all__ = ["Tensor", "Bool", "Float", "Int", "UInt8", "Shaped", "check_shape"]


def check_shape(name: str, tensor: Tensor, expected: tuple[int | str | None, ...]) -> None:
    """Raise a ``ValueError`` naming ``name`` when ``tensor`` does not have the expected shape.

    Args:
        name: The argument's name, as the user passed it.
        tensor: The tensor to check.
        expected: One entry per axis: an ``int`` that must match, or a ``str``/``None`` for a free
            axis (the string is only used in the message).
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    shape = tuple(tensor.shape)
    ok = len(shape) == len(expected) and all(
        isinstance(e, str) or e is None or s == e for s, e in zip(shape, expected)
    )
    if not ok:
        want = "[" + ", ".join("?" if e is None else str(e) for e in expected) + "]"
        raise ValueError(f"{name} has shape {list(shape)}, expected {want}")
