"""A captioned image folder (or a .zip of one) as the reference set of FID, KID, FD-DINO and the
CLIP score: measure a generator against one's own training data.

The folder has the layout of [`CaptionedImageFolder`][ganblocks.data.folder.CaptionedImageFolder]
(images and a ``metadata.jsonl`` of captions). The first ``count`` usable items, in the folder's
order, are the reference; the generator draws one image per caption of them.
"""

import hashlib
import os
import re
import zipfile
from pathlib import Path

from .._typing import Tensor, UInt8

__all__ = ["FolderReference"]


class FolderReference:
    """The images and captions of a captioned image folder, centre-cropped to ``resolution``.

    ``dataset_id`` names the folder and a fingerprint of its file names, captions, sizes and
    modification times, so cached reference statistics are recomputed when the folder changes.

    Args:
        root: The folder or ``.zip`` file.
        resolution: Image side; the generator's resolution.

    Raises:
        FileNotFoundError: ``root`` does not exist.
        ValueError: ``root`` is not a captioned image folder or zip (the message shows the layout).
    """

    def __init__(self, root: str | os.PathLike, *, resolution: int) -> None:
        from ..data.folder import CaptionedImageFolder

        self.root = Path(root)
        self.resolution = resolution
        self.folder = CaptionedImageFolder(self.root, resolution=resolution)
        digest = hashlib.sha256()
        stats = self._file_stats()
        for name, caption in self.folder.entries:
            digest.update(f"{name}\0{caption}\0{stats.get(name, '')}\n".encode())
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.root.name)[:40] or "folder"
        self.dataset_id = f"folder-{name}-{digest.hexdigest()[:16]}"

    def _file_stats(self) -> dict[str, str]:
        if self.folder.is_zip:
            with zipfile.ZipFile(self.root) as zf:
                return {i.filename: f"{i.file_size}:{i.CRC}" for i in zf.infolist()}
        out = {}
        for name, _ in self.folder.entries:
            try:
                st = (self.root / name).stat()
                out[name] = f"{st.st_size}:{st.st_mtime_ns}"
            except OSError:
                out[name] = "missing"
        return out

    def __len__(self) -> int:
        return len(self.folder)

    def _check_count(self, count: int) -> None:
        if count > len(self.folder):
            raise ValueError(f"the reference folder {self.root} has {len(self.folder)} captioned images, fewer "
                             f"than the {count} samples asked for: pass {len(self.folder)} samples or fewer")

    def captions(self, count: int) -> list[str]:
        """The captions of the first ``count`` items."""
        self._check_count(count)
        return [self.folder.caption(i) for i in range(count)]

    def images(self, start: int, stop: int) -> UInt8[Tensor, "b 3 {self.resolution} {self.resolution}"]:
        """Items ``start`` to ``stop`` as ``uint8`` images.

        Raises:
            ValueError: An image cannot be read or decoded (naming the file and why): remove it
                or its ``metadata.jsonl`` line, since the reference must be the same every time.
        """
        import torch

        from ..data.transforms import BadSample

        self._check_count(stop)
        out = []
        for i in range(start, stop):
            item = self.folder.load(i)
            if isinstance(item, BadSample):
                raise ValueError(f"reference image {self.root}/{item.name} cannot be used ({item.reason}: "
                                 f"{item.detail}); remove it or its metadata.jsonl line")
            out.append(item[0])
        return torch.stack(out)
