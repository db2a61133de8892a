"""Where the weights of a frozen network come from: local files, loaded strictly, or the hub cache.

Both backbone factories accept the same ``pretrained`` argument:

- ``True`` or a tag: the library's own cache and download (Hugging Face hub). The cache is looked
  up first; when the file is not there and the machine is offline (``HF_HUB_OFFLINE=1``, or the
  hub's host cannot be reached within a few seconds) the factory fails at once with a message
  naming the missing file, instead of letting the download client retry for minutes.
- ``False`` / ``None``: random weights.
- a path to a weights file (``.safetensors`` preferred; ``.pt`` / ``.pth`` / ``.bin`` are read
  with ``torch.load(weights_only=True)``): loaded strictly, every key and every shape must match.

Weights that cannot be used raise a ``WeightsError``: it says
what is wrong (a missing or unreadable file, weights of another network, nothing cached while
offline) and how to pass usable weights, naming the argument they came from: ``pretrained=`` by
default, or the caller's own name for it (``for_argument``), e.g. a command-line flag.
"""

import contextlib
import os
import socket
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import Tensor, nn

__all__ = [
    "Pretrained",
    "WeightsError",
    "WeightsFileNotFoundError",
    "WeightsUnavailableError",
    "weights_argument",
    "read_weights_file",
    "load_strict",
    "hub_file",
    "host_reachable",
    "hub_offline",
    "hub_reachable",
]

Pretrained = bool | str | os.PathLike | None
"""What a factory's ``pretrained`` argument accepts."""

_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")
_TRUTHY = frozenset({"1", "true", "yes", "on"})

PASS_A_FILE = ("Pass {given}<path to a .safetensors file> (see the 'Pretrained networks' page) "
               "or {random} for random weights.")
"""The default hint of a ``WeightsError``; ``{given}`` and ``{random}`` name the argument."""


class WeightsError(ValueError):
    """Weights that cannot be used, with what to do about it.

    ``str()`` is the problem followed by the hint, which names the argument the weights were
    given by: ``pretrained=`` (a factory's), another Python argument (``clip_weights=``) or a
    command-line flag (``--clip-weights``); see ``for_argument``.

    Args:
        problem: What is wrong (one sentence, without the hint).
        argument: The argument the weights came from.
        random: How that argument asks for random weights (default ``False`` for a Python
            argument, ``none`` for a flag).
        hint: What to do, with ``{given}`` (the argument, ready for a value) and ``{random}``
            placeholders; ``None`` for no hint.
    """

    def __init__(self, problem: str, *, argument: str = "pretrained", random: str | None = None,
                 hint: str | None = PASS_A_FILE) -> None:
        super().__init__(problem)
        self.problem, self.argument, self.random, self.hint = problem, argument, random, hint

    def for_argument(self, argument: str, *, random: str | None = None) -> "WeightsError":
        """The same error, naming ``argument`` (e.g. ``"dino_weights"`` or ``"--dino-weights"``)."""
        err = type(self)(self.problem, argument=argument, random=random, hint=self.hint)
        err.__cause__, err.__traceback__ = self.__cause__, self.__traceback__
        return err

    def __str__(self) -> str:
        if self.hint is None:
            return self.problem
        flag = self.argument.startswith("-")
        given = f"{self.argument} " if flag else f"{self.argument}="
        random = given + (self.random or ("none" if flag else "False"))
        return f"{self.problem} {self.hint.format(given=given, random=random)}"


@contextlib.contextmanager
def weights_argument(argument: str, *, random: str | None = "None") -> Iterator[None]:
    """Within ``with``, a ``WeightsError`` names ``argument`` (a caller's own name for the
    weights, e.g. ``dino_weights``; a command-line tool turns it into ``--dino-weights``).

    Args:
        argument: The argument the weights came from.
        random: How that argument asks for random weights.
    """
    try:
        yield
    except WeightsError as err:
        raise err.for_argument(argument, random=random) from err.__cause__


class WeightsFileNotFoundError(WeightsError, FileNotFoundError):
    """A weights file that does not exist (also a ``FileNotFoundError``)."""


class WeightsUnavailableError(WeightsError, RuntimeError):
    """Published weights that are neither cached nor downloadable now (also a ``RuntimeError``)."""


def looks_like_path(value: str | os.PathLike) -> bool:
    """Whether a ``pretrained`` value is meant as a file (rather than a tag)."""
    text = os.fspath(value)
    return isinstance(value, os.PathLike) or os.sep in text or "/" in text or text.endswith(_SUFFIXES)


def require_file(path: str | os.PathLike) -> Path:
    """``path`` as a ``Path`` if it is a file; otherwise a ``WeightsError`` saying what it is."""
    path = Path(path)
    if path.is_dir():
        raise WeightsError(f"weights file {str(path)!r} is a folder; pass the weights file inside it.")
    if not path.is_file():
        raise WeightsFileNotFoundError(f"weights file {str(path)!r} does not exist.")
    return path


def read_weights_file(path: str | os.PathLike) -> dict[str, Tensor]:
    """Read a flat ``{name: tensor}`` mapping from a local weights file, on the CPU.

    A ``.pt`` / ``.pth`` / ``.bin`` file whose top level is ``{"state_dict": {...}}`` is unwrapped.
    Nothing is ever unpickled beyond tensors (``weights_only=True``).

    Raises:
        WeightsFileNotFoundError: The file does not exist.
        WeightsError: It has another suffix, cannot be read (truncated, not a weights file), or
            does not hold a flat mapping of names to tensors.
    """
    path = require_file(path)
    if path.suffix not in _SUFFIXES:
        raise WeightsError(
            f"weights file {str(path)!r} has suffix {path.suffix!r}; expected one of {', '.join(_SUFFIXES)}."
        )
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
            if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
                state = state["state_dict"]
    except Exception as err:  # noqa: BLE001 - safetensors, pickle and zip errors have no common type
        detail = " ".join(str(err).split()) or type(err).__name__
        raise WeightsError(
            f"weights file {str(path)!r} cannot be read as {path.suffix} ({detail[:200]}); "
            "it may be truncated or not a weights file."
        ) from err
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()
    ):
        raise WeightsError(f"{str(path)!r} does not hold a flat mapping of names to tensors.")
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
        WeightsError: Naming the missing keys, the unexpected keys and the wrong shapes. The module
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
        raise WeightsError(
            f"{source} does not hold weights for {expected}; nothing was loaded. "
            + "; ".join(parts) + "."
        )
    module.load_state_dict(state, strict=True)


def hub_offline() -> bool:
    """Whether the Hugging Face hub is switched off: ``HF_HUB_OFFLINE`` is set to a true value
    (``1``, ``true``, ``yes``, ``on``) in the environment or in ``huggingface_hub``'s constants."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUTHY:
        return True
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def host_reachable(host: str, timeout: float = 3.0) -> bool:
    """Whether ``host`` answers a TCP connection on port 443 within ``timeout`` seconds.

    Behind an HTTPS proxy (``HTTPS_PROXY`` / ``ALL_PROXY``) it answers ``True`` without trying:
    the proxy decides, so the download client is left to try.
    """
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub's host answers within ``timeout`` seconds (see
    `host_reachable`)."""
    from huggingface_hub import constants

    return host_reachable(urlparse(constants.ENDPOINT).hostname or "huggingface.co", timeout)


def hub_file(repo_id: str, filenames: Sequence[str], *, what: str, hint: str | None = PASS_A_FILE) -> str:
    """Path of the first of ``filenames`` in the hub repository ``repo_id``, cached or downloaded.

    Args:
        repo_id: The Hugging Face hub repository.
        filenames: Candidate files, in order of preference.
        what: What the weights are, for the message (e.g. ``"DINO ViT-S/16"``).
        hint: How to get going without the hub (a ``WeightsError`` hint).

    Raises:
        WeightsUnavailableError: Within seconds when none is cached and the hub cannot be reached
            (a ``RuntimeError``).
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
    if hub_offline() or not hub_reachable():
        why = "HF_HUB_OFFLINE is set" if hub_offline() else "the hub cannot be reached"
        raise WeightsUnavailableError(
            f"the {what} weights ({wanted}) are not in the Hugging Face cache and {why}.", hint=hint
        )
    errors = []
    for name in filenames:
        try:
            return hf_hub_download(repo_id, name)
        except Exception as err:  # noqa: BLE001 - try the next candidate, report all below
            errors.append(f"{name}: {type(err).__name__}: {err}")
    raise WeightsUnavailableError(f"could not download the {what} weights ({wanted}): {errors}.", hint=hint)
