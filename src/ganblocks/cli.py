"""What every command-line tool built on ganblocks does with bad input.

A person at a terminal gets one line on stderr that starts with ``error:`` and says what was
wrong and what to do, and the exit code 2, never a traceback:

- ``ArgumentParser``: ``argparse``'s parser whose errors (an unknown flag, a bad value, a
  ``parser.error(...)`` of the tool's own checks) print that one line instead of the usage block.
- ``user_errors()``: a ``with`` block around what a tool does with its input (reading weights,
  checkpoints and data, building networks). Any exception leaving it becomes the one line. A
  ``WeightsError`` about a Python argument (``clip_weights=``) names the matching flag
  (``--clip-weights``) instead, and advice for Python callers (an exception's ``python_hint``)
  is left out.
- ``fail(message)``: the one line and the exit, for a tool's own checks.
- ``HelpFormatter``: ``--help`` keeps the description's layout and shows every flag's default.
- ``resolve_device(name)``: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, checked.

``GANBLOCKS_TRACEBACK=1`` lets exceptions through, with their traceback, for debugging.
"""

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any, NoReturn

import torch

from .backbones import WeightsError

__all__ = [
    "EXIT_BAD_INPUT",
    "ArgumentParser",
    "HelpFormatter",
    "error_message",
    "fail",
    "resolve_device",
    "user_errors",
]

EXIT_BAD_INPUT = 2
"""The exit code of every refusal (the same as ``argparse``'s)."""

# Exceptions whose message is written for the user; others are named by their type as well.
_SPEAKING = (ValueError, OSError, RuntimeError, ImportError)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def error_message(err: BaseException) -> str:
    """One line saying what ``err`` is about, with the flag a weights error came from."""
    if isinstance(err, WeightsError) and err.argument != "pretrained" and not err.argument.startswith("-"):
        err = err.for_argument("--" + err.argument.replace("_", "-"))
    # advice naming Python arguments (e.g. a CheckpointError's) means nothing on a command line
    text = _one_line(err.problem if getattr(err, "python_hint", None) else str(err))
    if isinstance(err, KeyError):
        return f"missing entry {text}"
    if not isinstance(err, _SPEAKING) or not text:
        return f"{type(err).__name__}: {text}" if text else type(err).__name__
    return text


def fail(message: str) -> NoReturn:
    """Print ``error: message`` (one line) on stderr and exit with code 2."""
    sys.stdout.flush()
    print(f"error: {_one_line(message)}", file=sys.stderr, flush=True)
    raise SystemExit(EXIT_BAD_INPUT)


def _traceback_wanted() -> bool:
    return os.environ.get("GANBLOCKS_TRACEBACK", "").strip().lower() in {"1", "true", "yes", "on"}


@contextlib.contextmanager
def user_errors(context: str | None = None) -> Iterator[None]:
    """Turn any exception of the block into one ``error:`` line and exit code 2.

    Args:
        context: What was being done, put before the message (``"cannot build the networks"``).

    ``SystemExit`` and ``KeyboardInterrupt`` pass through untouched.
    """
    try:
        yield
    except Exception as err:  # noqa: BLE001 - the point: whatever the input did, one line
        if _traceback_wanted():
            raise
        message = error_message(err)
        fail(f"{context}: {message}" if context else message)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description as written; ends each flag's help with its default.

    A help text that already speaks of its default, and flags without a value to show (switches,
    ``None``), are left as they are.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (not action.option_strings or "default" in text or action.default in (None, argparse.SUPPRESS)
                or isinstance(action.default, bool) or action.default == []):
            return text
        return f"{text} (default: %(default)s)"


def resolve_device(name: str) -> torch.device:
    """The device a ``--device`` flag names: ``auto`` is ``cuda`` when available, else ``cpu``.

    Raises:
        ValueError: Not a device name, or a CUDA device on a machine without one.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"--device {name!r} is not a device name (auto, cpu, cuda, cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: no CUDA device is available; use --device cpu")
    return device


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are one ``error:`` line and exit code 2.

    Its help formatter is ``HelpFormatter`` unless another one is given.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """Print ``error: message (see PROG --help)`` and exit 2."""
        fail(f"{message} (see {self.prog} --help)")
