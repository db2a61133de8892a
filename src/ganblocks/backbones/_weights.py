"""Where the weights of a frozen network come from: local files, loaded strictly, or the hub cache.

Both backbone factories accept the same ``pretrained`` argument:

- ``True`` or a tag: the library's own cache and download (Hugging Face hub). The cache is looked
  up first; when the file is not there and the machine is offline (``HF_HUB_OFFLINE=1``, or the
  hub's host cannot be reached within a few seconds) the factory fails at once with a message
  naming the missing file, instead of letting the download client retry for minutes.
- ``False`` / ``None``: random weights.
- a path to a weights file (``.safetensors`` preferred; ``.pt`` / ``.pth`` / ``.bin`` are read
  with ``torch.load(weights_only=True)``): loaded strictly, every key and every shape must match.
"""

import os
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import Tensor, nn

__all__ = [
    "Pretrained",
    "read_weights_file",
    "load_strict",
    "hub_file",
]

Pretrained = bool | str | os.PathLike | None
"""What a factory's ``pretrained`` argument accepts."""

_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")
_TRUTHY = frozenset({"1", "true", "yes", "on"})


def read_weights_file(path: str | os.PathLike) -> dict[str, Tensor]:
    """Read a flat ``{name: tensor}`` mapping from a local weights file, on the CPU.

    A ``.pt`` / ``.pth`` / ``.bin`` file whose top level is ``{"state_dict": {...}}`` is unwrapped.
    Nothing is ever unpickled beyond tensors (``weights_only=True``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {str(path)!r} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path), device="cpu")
    elif path.suffix in _SUFFIXES:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
            state = state["state_dict"]
    else:
        raise ValueError(
            f"weights file {str(path)!r} has suffix {path.suffix!r}; expected one of {_SUFFIXES}"
        )
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()
    ):
        raise ValueError(f"{str(path)!r} does not hold a flat mapping of names to tensors")
    return dict(state)


def _listing(items: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


def load_strict(module: nn.Module, state: Mapping[str, Tensor], *, source: str, expected: str) -> None:
    """Load ``state`` into ``module`` only if every key and shape matches; otherwise raise.

    Args:
        module: The network to fill.
        state: The weights read from ``source``.
        source: Where the weights came from (a path), for the message.
        expected: The architecture the file should be for, for the message.

    Raises:
        ValueError: Naming the missing keys, the unexpected keys and the wrong shapes. The module
            is left untouched: nothing is loaded partially.
    """
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} (file {list(state[k].shape)}, model {list(v.shape)})"
        for k, v in own.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys: {_listing(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys: {_listing(unexpected)}")
        if shapes:
            parts.append(f"{len(shapes)} wrong shapes: {_listing(shapes)}")
        raise ValueError(
            f"{source} does not hold weights for {expected}; nothing was loaded. "
            + "; ".join(parts)
        )
    module.load_state_dict(state, strict=True)


def _offline() -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUTHY:
        return True
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _reachable(timeout: float = 3.0) -> bool:
    """Whether the hub's host answers a TCP connection within ``timeout`` seconds."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True  # a proxy decides; let the download client try
    from huggingface_hub import constants

    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def hub_file(repo_id: str, filenames: Sequence[str], *, what: str, hint: str) -> str:
    """Path of the first of ``filenames`` in the hub repository ``repo_id``, cached or downloaded.

    Args:
        repo_id: The Hugging Face hub repository.
        filenames: Candidate files, in order of preference.
        what: What the weights are, for the message (e.g. ``"DINO ViT-S/16"``).
        hint: How to get going without the hub, for the message.

    Raises:
        RuntimeError: Within seconds when none is cached and the hub cannot be reached.
    """
    try:
        from huggingface_hub import hf_hub_download, try_to_load_from_cache
    except ImportError as err:  # pragma: no cover - huggingface_hub comes with timm
        raise ImportError("downloading pretrained weights needs `pip install huggingface_hub`") from err
    for name in filenames:
        cached = try_to_load_from_cache(repo_id, name)
        if isinstance(cached, str) and os.path.isfile(cached):
            return cached
    wanted = " or ".join(f"{repo_id}/{name}" for name in filenames)
    if _offline() or not _reachable():
        why = "HF_HUB_OFFLINE is set" if _offline() else "the hub cannot be reached"
        raise RuntimeError(
            f"the {what} weights ({wanted}) are not in the Hugging Face cache and {why}. {hint}"
        )
    errors = []
    for name in filenames:
        try:
            return hf_hub_download(repo_id, name)
        except Exception as err:  # noqa: BLE001 - try the next candidate, report all below
            errors.append(f"{name}: {type(err).__name__}: {err}")
    raise RuntimeError(f"could not download the {what} weights ({wanted}): {errors}. {hint}")
