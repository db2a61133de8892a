"""Durable file operations and safe tensor-file reading, the primitives of checkpoint I/O.

Every write is followed by ``fsync`` of the file and, after a rename, of its folder, so that a
rename never reaches the disk before the data it publishes. Tensor files are read with
safetensors only; a pickle or ``torch.save`` archive is recognised by its first bytes and refused
before anything parses it.
"""

import hashlib
import json
import os
import shutil
import struct
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .._typing import Tensor

_CHUNK = 1 << 20
_PICKLE_MAGIC = (b"\x80",)  # protocol 2+ opcode PROTO
_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's archive format
_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own header limit


class UnsafeFileError(ValueError):
    """A file is not what it must be (a pickle, a torch.save archive, a damaged file)."""


def fsync_file(path: Path) -> None:
    """Flush a written file's data to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (creations, renames) to the disk, where the platform allows."""
    if not hasattr(os, "O_DIRECTORY"):
        return  # Windows: folder entries are durable once the rename returns
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_tensors(path: Path, tensors: dict[str, Tensor]) -> None:
    """Write a safetensors file and flush it."""
    save_file(tensors, path)
    fsync_file(path)


def write_bytes(path: Path, data: bytes) -> None:
    """Write bytes to a new file and flush it."""
    with open(path, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path``'s content atomically: readers see the old or the new text, never a mix."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    if tmp.exists():
        tmp.unlink()
    write_bytes(tmp, text.encode("utf-8"))
    os.replace(tmp, path)
    fsync_dir(path.parent)


def rename(src: Path, dst: Path) -> None:
    """Rename atomically (``dst`` must not be a non-empty folder) and flush the folder."""
    os.replace(src, dst)
    fsync_dir(dst.parent)


def remove_tree(path: Path) -> None:
    """Delete a folder and everything in it."""
    shutil.rmtree(path)


def file_digest(path: Path) -> tuple[int, str]:
    """Size in bytes and SHA-256 (hex) of a file."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def sniff_safetensors(path: Path) -> None:
    """Raise ``UnsafeFileError`` unless ``path`` starts like a safetensors file.

    A safetensors file is an 8-byte little-endian header length, then a JSON header starting with
    ``{``. Pickles and ``torch.save`` archives are named as such in the message.
    """
    with open(path, "rb") as f:
        head = f.read(9)
    size = path.stat().st_size
    header_len = struct.unpack("<Q", head[:8])[0] if len(head) == 9 else -1
    if head[8:9] == b"{" and 0 < header_len <= _MAX_HEADER and 8 + header_len <= size:
        return
    if head.startswith(_ZIP_MAGIC) or head.startswith(_PICKLE_MAGIC):
        raise UnsafeFileError(
            f"{path} is a pickle or torch.save file, not safetensors; refusing to open it "
            "(unpickling a file can run arbitrary code)"
        )
    raise UnsafeFileError(f"{path} is not a safetensors file (bad header) or is truncated")


def read_tensors(path: Path, device: str | torch.device = "cpu") -> dict[str, Tensor]:
    """Read every tensor of a safetensors file into memory it owns (no pickle, no mmap left open).

    Raises:
        UnsafeFileError: the file is a pickle, truncated, or otherwise not valid safetensors.
    """
    sniff_safetensors(path)
    try:
        with safe_open(path, framework="pt", device="cpu") as f:
            out = {k: f.get_tensor(k).to(device, copy=True) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error type for every parse failure
        raise UnsafeFileError(f"{path} is not a valid safetensors file: {e}") from e
    return out


def read_json(path: Path, max_bytes: int = 64 * 1024 * 1024) -> Any:
    """Parse a JSON file, refusing files larger than ``max_bytes`` or not valid UTF-8 JSON."""
    size = path.stat().st_size
    if size > max_bytes:
        raise UnsafeFileError(f"{path} is {size} bytes, more than the {max_bytes} allowed")
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(_ZIP_MAGIC) or data.startswith(_PICKLE_MAGIC):
        raise UnsafeFileError(f"{path} is a pickle or torch.save file, not JSON; refusing it")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise UnsafeFileError(f"{path} is not valid JSON: {e}") from e
