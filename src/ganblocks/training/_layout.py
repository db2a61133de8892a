"""The on-disk layout of a checkpoint: names, the JSON description and its validation, and the
atomic publishing, pruning and clean-up of step folders.

```
run_dir/checkpoints/
    latest                      # text: the name of the newest complete step folder
    step-000001000/
        checkpoint.json         # format, version, step, optimizer structure, RNG, meta, files
        {network}.safetensors   # one per network: its full state_dict
        optim-{name}.safetensors
        rng.safetensors         # torch CPU and CUDA generator states
```
"""

import re
import uuid
import warnings
from pathlib import Path
from typing import Any

from . import _files

FORMAT = "ganblocks.checkpoint"
FORMAT_VERSION = 1
CHECKPOINTS = "checkpoints"
LATEST = "latest"
JSON_FILE = "checkpoint.json"
RNG_FILE = "rng.safetensors"
_FIELDS = {
    "format", "version", "step", "written_by", "modules", "optimizers", "rng", "meta", "files"
}
_STEP_DIR = re.compile(r"step-\d{9,}")
_LATEST_NAME = re.compile(r"(?:\.tmp-)?(step-\d{9,})(?:-[0-9a-f]+)?")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}")
_SHA = re.compile(r"[0-9a-f]{64}")


class CheckpointError(RuntimeError):
    """A checkpoint could not be saved, found, validated or loaded; the message says why.

    Args:
        problem: What is wrong.
        python_hint: What a Python caller can do about it (naming arguments of the loading
            functions), appended to the message; command-line tools leave it out.
    """

    def __init__(self, problem: str, *, python_hint: str | None = None) -> None:
        super().__init__(problem if python_hint is None else f"{problem}. {python_hint}")
        self.problem, self.python_hint = problem, python_hint


def read_doc(folder: Path) -> dict[str, Any]:
    """Read and validate ``checkpoint.json``: every field present, known and of the right type."""
    jpath = folder / JSON_FILE
    try:
        doc = _files.read_json(jpath)
    except (OSError, _files.UnsafeFileError) as e:
        raise CheckpointError(f"cannot read {jpath}: {e}") from e

    def bad(msg: str) -> CheckpointError:
        return CheckpointError(f"{jpath} is not a valid checkpoint description: {msg}")

    if not isinstance(doc, dict):
        raise bad("not a JSON object")
    if unknown := sorted(set(doc) - _FIELDS):
        raise bad(f"unknown field(s) {unknown} (written by a newer ganblocks, or edited)")
    if missing := sorted(_FIELDS - set(doc)):
        raise bad(f"missing field(s) {missing}")
    if doc["format"] != FORMAT:
        raise bad(f"'format' is {doc['format']!r}, expected {FORMAT!r}")
    version = doc["version"]
    if not is_int(version) or version < 1:
        raise bad(f"'version' is {version!r}, expected a positive integer")
    if version > FORMAT_VERSION:
        raise bad(
            f"format version {version} is newer than this ganblocks reads ({FORMAT_VERSION}); "
            "upgrade ganblocks"
        )
    if not is_int(doc["step"]) or doc["step"] < 0:
        raise bad(f"'step' is {doc['step']!r}, expected a non-negative integer")
    mods, opts = doc["modules"], doc["optimizers"]
    if not isinstance(mods, list) or not isinstance(opts, dict):
        raise bad("'modules' must be a list and 'optimizers' an object")
    try:
        check_names(mods, list(opts))
    except ValueError as e:
        raise bad(str(e)) from e
    for field, kind in (("rng", (dict, type(None))), ("meta", dict), ("written_by", dict)):
        if not isinstance(doc[field], kind):
            raise bad(f"'{field}' has the wrong type {type(doc[field]).__name__}")
    expected = {f"{m}.safetensors" for m in mods} | {f"optim-{o}.safetensors" for o in opts}
    if doc["rng"] is not None:
        expected.add(RNG_FILE)
    records = doc["files"]
    if not isinstance(records, dict) or set(records) != expected:
        got = sorted(records) if isinstance(records, dict) else records
        raise bad(f"'files' lists {got}, expected exactly {sorted(expected)}")
    for fname, rec in records.items():
        ok = isinstance(rec, dict) and set(rec) == {"bytes", "sha256"}
        if not (ok and is_int(rec["bytes"]) and _SHA.fullmatch(str(rec["sha256"]))):
            raise bad(f"'files'[{fname!r}] must be {{'bytes': int, 'sha256': 64 hex digits}}")
    return doc


def verify_file(fpath: Path, record: dict[str, Any]) -> None:
    """Check that a file exists, is safetensors (not a pickle), and has the recorded size, hash."""
    if not fpath.is_file():
        raise CheckpointError(f"{fpath} is missing; the checkpoint is incomplete")
    try:
        _files.sniff_safetensors(fpath)
        size, sha = _files.file_digest(fpath)
    except _files.UnsafeFileError as e:
        raise CheckpointError(str(e)) from e
    except OSError as e:
        raise CheckpointError(f"cannot read {fpath}: {e}") from e
    if size != record["bytes"]:
        raise CheckpointError(
            f"{fpath} is {size} bytes, {JSON_FILE} records {record['bytes']}: the file is "
            "truncated or was replaced"
        )
    if sha != record["sha256"]:
        raise CheckpointError(f"{fpath} does not match its SHA-256 in {JSON_FILE}: it is damaged")


def check_names(modules: list[Any], optimizers: list[Any]) -> None:
    """Raise ``ValueError`` unless the names make safe, distinct file names."""
    for kind, names in (("network", modules), ("optimizer", optimizers)):
        for n in names:
            if not isinstance(n, str) or not _NAME.fullmatch(n):
                raise ValueError(
                    f"{kind} name {n!r} must be 1-100 letters, digits, '_', '.' or '-', not "
                    "starting with '.' or '-'"
                )
    files = [f"{m}.safetensors" for m in modules] + [f"optim-{o}.safetensors" for o in optimizers]
    if RNG_FILE in files or len({f.lower() for f in files}) != len(files):
        raise ValueError(
            f"names must give distinct file names (case-insensitively), and no network may be "
            f"called 'rng' or start with 'optim-'; got networks {modules}, optimizers {optimizers}"
        )


def latest_name(root: Path) -> str | None:
    """The folder name ``root/latest`` holds, or ``None`` when it is missing or not a step name."""
    try:
        name = (root / LATEST).read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return name if _LATEST_NAME.fullmatch(name) else None


def final_name(name: str) -> str:
    """The step folder a temporary folder name is renamed to (``.tmp-step-N-x`` -> ``step-N``)."""
    match = _LATEST_NAME.fullmatch(name)
    return match[1] if match else name


def step_dirs(root: Path) -> list[Path]:
    """The ``step-*`` folders in ``root``, lowest step first."""
    try:
        dirs = [d for d in root.iterdir() if _STEP_DIR.fullmatch(d.name) and d.is_dir()]
    except OSError:
        return []
    return sorted(dirs, key=lambda d: int(d.name.removeprefix("step-")))


def publish(root: Path, tmp: Path, final: Path) -> None:
    """Rename the complete ``tmp`` folder to ``final`` and point ``latest`` at it."""
    latest = root / LATEST
    if not final.exists():
        _files.rename(tmp, final)
        _files.write_text_atomic(latest, final.name + "\n")
        return
    # Replacing an existing step: point `latest` at the complete temporary folder while the old
    # folder is moved aside, so that it names a complete checkpoint at every moment.
    _files.write_text_atomic(latest, tmp.name + "\n")
    old = root / f".old-{final.name}-{uuid.uuid4().hex[:8]}"
    _files.rename(final, old)
    _files.rename(tmp, final)
    _files.write_text_atomic(latest, final.name + "\n")
    _files.remove_tree(old)


def remove_stale(root: Path) -> None:
    """Delete temporary and half-deleted folders left by a killed process."""
    keep = latest_name(root)
    for d in root.iterdir():
        try:
            if d.name.startswith((".tmp-step-", ".old-step-")) and d.name != keep and d.is_dir():
                _files.remove_tree(d)
            elif d.name.startswith(f".{LATEST}.tmp-") and d.is_file():
                d.unlink()
        except OSError as e:
            warnings.warn(f"could not delete leftover {d}: {e}", stacklevel=3)


def prune(root: Path, keep: int) -> None:
    """Delete all but the ``keep`` highest steps, never the one ``latest`` names."""
    latest = latest_name(root)
    for d in step_dirs(root)[:-keep]:
        if d.name == latest:
            continue
        try:  # rename first, so no half-deleted folder is ever named step-*
            old = root / f".old-{d.name}-{uuid.uuid4().hex[:8]}"
            _files.rename(d, old)
            _files.remove_tree(old)
        except OSError as e:
            warnings.warn(f"could not delete old checkpoint {d}: {e}", stacklevel=3)


def is_int(x: object) -> bool:
    """An ``int`` that is not a ``bool``."""
    return isinstance(x, int) and not isinstance(x, bool)
