"""Captioned image folders: images with a ``metadata.jsonl`` of captions, in a folder or a .zip.

The layout is Hugging Face's ``imagefolder`` convention::

    my_data/
        metadata.jsonl        {"file_name": "0001.jpg", "text": "a cat on a sofa"}  (one per line)
        0001.jpg
        photos/0002.png       {"file_name": "photos/0002.png", ...}

``file_name`` is relative to the folder holding the ``metadata.jsonl``; several metadata files in
subfolders are allowed. A .zip of such a folder (with or without one top-level folder inside)
reads the same, lazily, one member at a time; each worker process opens its own handle.
"""

import json
import os
import posixpath
import zipfile
import zlib
from pathlib import Path

import torch

from .._typing import Tensor, UInt8
from .badsamples import BadSampleLog
from .transforms import IMAGE_EXTENSIONS, MAX_CAPTION_CHARS, BadSample, BadSampleError, clean_caption, decode_image

__all__ = ["CaptionedImageFolder", "METADATA_FILE"]

METADATA_FILE = "metadata.jsonl"
_LAYOUT = ('expected images with a metadata.jsonl of lines {"file_name": "<image path>", '
           '"text": "<caption>"}')


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in posixpath.basename(name) else ""


class CaptionedImageFolder(torch.utils.data.Dataset):
    """An image folder (or a .zip of one) with captions in ``metadata.jsonl``.

    Items are ``(image, caption)``: the image centre-cropped and resized to ``resolution``,
    ``uint8`` RGB channels-first (see ``decode_image``), the caption cleaned and cut to
    ``max_caption_chars`` (see ``clean_caption``).

    The metadata is read once, at construction. Lines that cannot be used are recorded in
    ``problems`` (reasons ``bad_metadata``, ``missing_caption``, ``missing_image``,
    ``unsafe_path``), and so are images that no metadata line names (``missing_caption``).
    Images are decoded only when loaded: ``load`` returns a ``BadSample`` for an unreadable one,
    and ``__getitem__`` moves on to the next index instead, recording the skipped sample in
    ``bad`` (in each worker process its own copy).

    Args:
        root: The folder or ``.zip`` file.
        resolution: Side of the square images.
        max_caption_chars: Captions are cut to this many characters.
        caption_key: The metadata field holding the caption.
        max_skips: ``__getitem__`` gives up after this many unusable samples in a row.

    Raises:
        FileNotFoundError: ``root`` does not exist.
        ValueError: ``root`` is not a readable folder or zip, or holds no usable sample.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        resolution: int,
        max_caption_chars: int = MAX_CAPTION_CHARS,
        caption_key: str = "text",
        max_skips: int = 64,
    ) -> None:
        if resolution < 1:
            raise ValueError(f"resolution must be positive, got {resolution}")
        self.root = Path(root)
        self.resolution = resolution
        self.max_caption_chars = max_caption_chars
        self.caption_key = caption_key
        self.max_skips = max_skips
        if not self.root.exists():
            raise FileNotFoundError(f"{self.root}: no such folder or zip file")
        self.is_zip = self.root.is_file()
        self._zip: zipfile.ZipFile | None = None
        self._zip_pid = -1
        files, metadata = self._list_files()
        self.entries: list[tuple[str, str]] = []
        self.problems: list[BadSample] = []
        self._index(files, metadata)
        self.bad = BadSampleLog()
        self.bad.extend(self.problems)
        if not self.entries:
            found = BadSampleLog(log=False)
            found.extend(self.problems)
            raise ValueError(f"{self.root}: no usable samples ({len(metadata)} metadata files; "
                             f"skipped: {found.summary()}); {_LAYOUT}")

    # -- indexing --------------------------------------------------------------------------------

    def _list_files(self) -> tuple[set[str], list[str]]:
        """All files (posix paths relative to the root) and the metadata files among them."""
        if self.is_zip:
            try:
                with zipfile.ZipFile(self.root) as zf:
                    names = [i.filename for i in zf.infolist() if not i.is_dir()]
            except (zipfile.BadZipFile, OSError) as e:
                raise ValueError(f"{self.root}: not a readable zip file ({e}); {_LAYOUT}") from None
            files = {n for n in names if not n.startswith("__MACOSX/")}
        else:
            if not self.root.is_dir():
                raise ValueError(f"{self.root}: neither a folder nor a zip file; {_LAYOUT}")
            files = set()
            for folder, dirs, names in os.walk(self.root):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                rel = Path(folder).relative_to(self.root).as_posix()
                files.update(n if rel == "." else f"{rel}/{n}" for n in names)
        metadata = sorted(f for f in files if posixpath.basename(f) == METADATA_FILE)
        if not metadata:
            raise ValueError(f"{self.root}: no {METADATA_FILE} found; {_LAYOUT}")
        return files, metadata

    def _index(self, files: set[str], metadata: list[str]) -> None:
        captioned: set[str] = set()
        for meta in metadata:
            base = posixpath.dirname(meta)
            for lineno, line in enumerate(self._read(meta).decode("utf-8", "replace").split("\n"), 1):
                if not line.strip():
                    continue
                where = f"{meta}:{lineno}"
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as e:
                    self.problems.append(BadSample("bad_metadata", where, str(e)))
                    continue
                name = record.get("file_name") if isinstance(record, dict) else None
                if not isinstance(name, str) or not name:
                    self.problems.append(BadSample("bad_metadata", where, "no file_name"))
                    continue
                path = posixpath.normpath(posixpath.join(base, name.replace("\\", "/")))
                if posixpath.isabs(name) or path == ".." or path.startswith("../"):
                    self.problems.append(BadSample("unsafe_path", where, f"{name!r} leaves the folder"))
                    continue
                captioned.add(path)
                if path not in files:
                    self.problems.append(BadSample("missing_image", path, f"named in {where}"))
                    continue
                text = record.get(self.caption_key)
                try:
                    if not isinstance(text, str):
                        raise BadSampleError("missing_caption", f"no {self.caption_key!r} in {where}")
                    caption = clean_caption(text, max_chars=self.max_caption_chars)
                except BadSampleError as e:
                    self.problems.append(BadSample(e.reason, path, e.detail))
                    continue
                self.entries.append((path, caption))
        for path in sorted(files - captioned):
            if _extension(path) in IMAGE_EXTENSIONS:
                self.problems.append(BadSample("missing_caption", path, f"not in any {METADATA_FILE}"))

    # -- reading ---------------------------------------------------------------------------------

    def _read(self, member: str) -> bytes:
        if not self.is_zip:
            return (self.root / member).read_bytes()
        if self._zip is None or self._zip_pid != os.getpid():
            self._zip = zipfile.ZipFile(self.root)  # one handle per process: forked ones share offsets
            self._zip_pid = os.getpid()
        return self._zip.read(member)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_zip"], state["_zip_pid"] = None, -1
        return state

    def __len__(self) -> int:
        return len(self.entries)

    def name(self, index: int) -> str:
        """The image's path inside the folder or zip."""
        return self.entries[index][0]

    def caption(self, index: int) -> str:
        """The cleaned caption of item ``index`` (no image decoding)."""
        return self.entries[index][1]

    def read_bytes(self, index: int) -> bytes:
        """The image file's raw bytes.

        Raises:
            BadSampleError: ``"missing_image"`` or ``"unreadable_file"`` when it cannot be read.
        """
        path = self.entries[index][0]
        try:
            return self._read(path)
        except (FileNotFoundError, KeyError) as e:
            raise BadSampleError("missing_image", str(e)) from None
        except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as e:
            raise BadSampleError("unreadable_file", f"{type(e).__name__}: {e}") from None

    def load(
        self, index: int
    ) -> tuple[UInt8[Tensor, "3 {self.resolution} {self.resolution}"], str] | BadSample:
        """Item ``index``, or a ``BadSample`` saying why it cannot be used; never raises for bad
        data.

        Args:
            index: Item index in ``[0, len(self))``.
        """
        path, caption = self.entries[index]
        try:
            return decode_image(self.read_bytes(index), resolution=self.resolution), caption
        except BadSampleError as e:
            return BadSample(e.reason, path, e.detail)

    def verify(self, *, max_probes: int = 256) -> None:
        """Check that at least one image decodes, trying items in order, at most ``max_probes``.

        Unusable items met on the way are recorded in ``bad``.

        Raises:
            ValueError: None of the probed items can be used; the message names the folder and
                the reasons.
        """
        for index in range(min(max_probes, len(self.entries))):
            item = self.load(index)
            if not isinstance(item, BadSample):
                return
            self.bad.add(item)
        raise ValueError(f"{self.root}: no usable samples, none of the first "
                         f"{min(max_probes, len(self.entries))} images can be read "
                         f"(skipped: {self.bad.summary()}); {_LAYOUT}")

    def __getitem__(self, index: int) -> tuple[UInt8[Tensor, "3 {self.resolution} {self.resolution}"], str]:
        """Item ``index``; an unusable one is recorded in ``bad`` and the next index is tried."""
        n = len(self.entries)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} samples")
        for k in range(min(self.max_skips, n)):
            item = self.load((index + k) % n)
            if not isinstance(item, BadSample):
                return item
            self.bad.add(item)
        raise RuntimeError(f"{self.root}: {min(self.max_skips, n)} unusable samples in a row from "
                           f"index {index}; skipped so far: {self.bad.summary()}")
