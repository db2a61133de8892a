"""Random-number-generator state: capture, restore, serialise without pickle, and seed.

Exact resumption needs every generator a training loop draws from: torch's CPU generator, the
generator of every CUDA device, numpy's global ``RandomState`` and Python's ``random``. An
[`RNGState`][ganblocks.training.rng.RNGState] holds all four and splits into tensors (for a
safetensors file) and plain JSON (for the checkpoint's JSON); nothing is pickled.
"""

import contextlib
import random
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._typing import Tensor

__all__ = ["RNGState", "capture_rng_state", "restore_rng_state", "seed_everything"]

_MT_WORDS = 624  # Mersenne Twister state words, in Python's random and in numpy
_TORCH_CPU_KEY = "torch.cpu"
_TORCH_CUDA_PREFIX = "torch.cuda."


@dataclass(frozen=True)
class RNGState:
    """A snapshot of every global random-number generator a training loop uses.

    Attributes:
        torch_cpu: ``torch.get_rng_state()``, a 1-D ``uint8`` tensor.
        torch_cuda: One ``uint8`` tensor per CUDA device, in device order (empty without CUDA).
        numpy: numpy's global state as JSON: ``{"key": [624 ints], "pos", "has_gauss", "gauss"}``.
        python: Python's ``random`` state as JSON: ``{"version", "internal": [625 ints],
            "gauss_next"}``.
    """

    torch_cpu: Tensor
    torch_cuda: tuple[Tensor, ...]
    numpy: dict[str, Any]
    python: dict[str, Any]

    def to_parts(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """Split into tensors for a safetensors file and a JSON-serialisable dict.

        Returns:
            ``(tensors, info)``: tensors keyed ``"torch.cpu"`` and ``"torch.cuda.{i}"``; ``info``
            holds the numpy and Python states and the number of CUDA devices.
        """
        tensors = {_TORCH_CPU_KEY: self.torch_cpu}
        for i, t in enumerate(self.torch_cuda):
            tensors[f"{_TORCH_CUDA_PREFIX}{i}"] = t
        info = {"numpy": self.numpy, "python": self.python, "cuda_devices": len(self.torch_cuda)}
        return tensors, info

    @classmethod
    def from_parts(cls, tensors: dict[str, Tensor], info: dict[str, Any]) -> "RNGState":
        """Rebuild a state from [`to_parts`][ganblocks.training.rng.RNGState.to_parts]'s output.

        Every field is validated (types, lengths, ranges), so a damaged or hostile file is refused
        with a ``ValueError`` instead of corrupting a generator.

        Args:
            tensors: The tensors, as read from the safetensors file.
            info: The JSON part.

        Returns:
            The state.
        """
        if not isinstance(info, dict) or set(info) != {"numpy", "python", "cuda_devices"}:
            raise ValueError(
                "RNG info must have exactly the fields cuda_devices, numpy, python; got "
                f"{sorted(info) if isinstance(info, dict) else type(info).__name__}"
            )
        n_cuda = info["cuda_devices"]
        if not _is_int(n_cuda) or n_cuda < 0:
            raise ValueError(f"RNG info: cuda_devices must be a non-negative int, got {n_cuda!r}")
        expected = {_TORCH_CPU_KEY} | {f"{_TORCH_CUDA_PREFIX}{i}" for i in range(n_cuda)}
        if set(tensors) != expected:
            raise ValueError(
                f"RNG tensors must be exactly {sorted(expected)}, got {sorted(tensors)}"
            )
        for name, t in tensors.items():
            if t.dtype != torch.uint8 or t.ndim != 1:
                raise ValueError(
                    f"RNG tensor {name!r} must be 1-D uint8, got {t.dtype} {list(t.shape)}"
                )
        cpu_bytes = torch.get_rng_state().numel()
        if tensors[_TORCH_CPU_KEY].numel() != cpu_bytes:
            raise ValueError(
                f"RNG tensor {_TORCH_CPU_KEY!r} must hold {cpu_bytes} bytes, "
                f"got {tensors[_TORCH_CPU_KEY].numel()}"
            )
        cuda = tuple(tensors[f"{_TORCH_CUDA_PREFIX}{i}"] for i in range(n_cuda))
        return cls(
            torch_cpu=tensors[_TORCH_CPU_KEY],
            torch_cuda=cuda,
            numpy=_check_numpy_state(info["numpy"]),
            python=_check_python_state(info["python"]),
        )


def capture_rng_state() -> RNGState:
    """Snapshot torch (CPU and every CUDA device), numpy's global and Python's ``random`` state.

    Returns:
        A state that [`restore_rng_state`][ganblocks.training.rng.restore_rng_state] puts back.
    """
    cuda: tuple[Tensor, ...] = ()
    if torch.cuda.is_available():
        cuda = tuple(s.cpu() for s in torch.cuda.get_rng_state_all())
    np_state = np.random.get_state(legacy=False)
    py_version, py_internal, py_gauss = random.getstate()
    with keep_python_random():  # type-checking the fields must not advance the generator
        return RNGState(
            torch_cpu=torch.get_rng_state(),
            torch_cuda=cuda,
            numpy={
                "key": [int(k) for k in np_state["state"]["key"]],
                "pos": int(np_state["state"]["pos"]),
                "has_gauss": int(np_state["has_gauss"]),
                "gauss": float(np_state["gauss"]),
            },
            python={"version": py_version, "internal": list(py_internal), "gauss_next": py_gauss},
        )


def restore_rng_state(state: RNGState) -> None:
    """Put back every generator held in a snapshot.

    The snapshot comes from [`capture_rng_state`][ganblocks.training.rng.capture_rng_state].
    CUDA devices are restored in order. When the state holds more (or fewer) CUDA devices than
    this machine has, the common ones are restored and a ``UserWarning`` says that continued
    randomness on the others will differ.

    Args:
        state: The snapshot.
    """
    torch.set_rng_state(state.torch_cpu.to("cpu", torch.uint8))
    n_here = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if len(state.torch_cuda) != n_here:
        warnings.warn(
            f"RNG state holds {len(state.torch_cuda)} CUDA device(s), this machine has "
            f"{n_here}; restoring {min(n_here, len(state.torch_cuda))}, the rest differ",
            stacklevel=2,
        )
    for i, s in enumerate(state.torch_cuda[:n_here]):
        torch.cuda.set_rng_state(s.to("cpu", torch.uint8), device=i)
    np_state = state.numpy
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": np.asarray(np_state["key"], dtype=np.uint32), "pos": np_state["pos"]},
            "has_gauss": np_state["has_gauss"],
            "gauss": np_state["gauss"],
        }
    )
    py = state.python
    random.setstate((py["version"], tuple(py["internal"]), py["gauss_next"]))


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and all CUDA devices), numpy's global generator and Python's ``random``.

    Args:
        seed: An integer in $[0, 2^{32})$ (numpy's range).
    """
    if not _is_int(seed) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an int in [0, 2**32), got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


@contextlib.contextmanager
def keep_python_random() -> Iterator[None]:
    """Leave Python's global ``random`` state as it was on entry.

    Run-time type checkers (beartype, as switched on in the test-suite) draw from Python's global
    generator when they check a sequence. Code that must not advance any generator (capturing,
    saving, validating a checkpoint) runs inside this; call it from the training thread.
    """
    state = random.getstate()
    try:
        yield
    finally:
        random.setstate(state)


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_words(name: str, words: object, length: int) -> list[int]:
    if not isinstance(words, list) or len(words) != length:
        raise ValueError(f"{name} must be a list of {length} ints")
    if not all(_is_int(w) and 0 <= w < 2**32 for w in words):
        raise ValueError(f"{name} must hold ints in [0, 2**32)")
    return list(words)


def _check_numpy_state(state: object) -> dict[str, Any]:
    if not isinstance(state, dict) or set(state) != {"key", "pos", "has_gauss", "gauss"}:
        raise ValueError("numpy RNG state must have exactly the fields gauss, has_gauss, key, pos")
    key = _check_words("numpy RNG key", state["key"], _MT_WORDS)
    pos, has_gauss, gauss = state["pos"], state["has_gauss"], state["gauss"]
    if not _is_int(pos) or not 0 <= pos <= _MT_WORDS:
        raise ValueError(f"numpy RNG pos must be an int in [0, {_MT_WORDS}], got {pos!r}")
    if has_gauss not in (0, 1) or isinstance(has_gauss, bool):
        raise ValueError(f"numpy RNG has_gauss must be 0 or 1, got {has_gauss!r}")
    if not isinstance(gauss, float):
        raise ValueError(f"numpy RNG gauss must be a float, got {gauss!r}")
    return {"key": key, "pos": pos, "has_gauss": has_gauss, "gauss": gauss}


def _check_python_state(state: object) -> dict[str, Any]:
    if not isinstance(state, dict) or set(state) != {"version", "internal", "gauss_next"}:
        raise ValueError(
            "Python RNG state must have exactly the fields gauss_next, internal, version"
        )
    version, gauss_next = state["version"], state["gauss_next"]
    if version != 3 or not _is_int(version):
        raise ValueError(f"Python RNG state version must be 3, got {version!r}")
    internal = _check_words("Python RNG internal state", state["internal"], _MT_WORDS + 1)
    if internal[-1] > _MT_WORDS:
        raise ValueError(f"Python RNG position must be at most {_MT_WORDS}, got {internal[-1]}")
    if gauss_next is not None and not isinstance(gauss_next, float):
        raise ValueError(f"Python RNG gauss_next must be a float or null, got {gauss_next!r}")
    return {"version": version, "internal": internal, "gauss_next": gauss_next}
