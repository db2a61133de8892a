"""Decoding real images and captions into the trainer's format: ``uint8`` RGB squares and clean text.

Every loader of ganblocks (image folders, zips, WebDataset shards) goes through
``decode_image`` and ``clean_caption``, so all formats give the same pixels and the same text
for the same file. A sample that cannot be used raises ``BadSampleError`` with a short reason
(``"corrupt_image"``, ``"empty_file"``, ...); loaders catch it, skip the sample and count it.
"""

import io
import math
import re
import struct
import unicodedata
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .._typing import Tensor, UInt8

__all__ = [
    "MAX_CAPTION_CHARS",
    "IMAGE_EXTENSIONS",
    "BadSample",
    "BadSampleError",
    "to_rgb",
    "center_crop_resize",
    "decode_image",
    "clean_caption",
]

MAX_CAPTION_CHARS = 1000
"""Captions longer than this are cut (at a word boundary when one is near); CLIP's tokenizer keeps
only the first 77 tokens anyway."""

IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"})
"""File extensions (lower case, no dot) read as images."""

_CONTROL = re.compile(r"[\u0000-\u001f\u007f-\u009f\u2028\u2029]+")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class BadSample:
    """A sample that was skipped: why (a short snake_case reason) and which (a file or key).

    Attributes:
        reason: ``"corrupt_image"``, ``"empty_file"``, ``"missing_caption"``, ``"missing_image"``,
            ``"bad_metadata"``, ``"unsafe_path"``, ``"truncated_shard"`` or ``"unreadable_shard"``.
        name: The file, archive member or shard key.
        detail: The error message, for the log.
    """

    reason: str
    name: str
    detail: str = ""


class BadSampleError(ValueError):
    """A sample cannot be used; ``reason`` says why (see ``BadSample``)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def to_rgb(image: Image.Image, *, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB.

    Grey and palette images are expanded; transparent images (RGBA, LA, palette with a
    transparent colour) are composited over ``background``; 16- and 32-bit integer images are
    scaled by their bit depth ($v \\cdot 255 / (2^{16}-1)$ for 16 bit) rather than clipped; float
    images are read as $[0, 1]$ when their maximum is at most 1, else as $[0, 255]$.

    Args:
        image: A decoded PIL image of any mode.
        background: Colour under transparent pixels.
    """
    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I;16") or mode in ("I", "F"):
        a = np.asarray(image, dtype=np.float64)
        if mode == "F":
            scale = 255.0 if a.size and np.nanmax(a) <= 1.0 else 1.0
        else:
            scale = 255.0 / 65535.0 if mode.startswith("I;16") or a.max(initial=0) > 255 else 1.0
        grey = np.clip(np.nan_to_num(a * scale), 0, 255).round().astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    transparent = mode in ("RGBA", "LA", "RGBa", "La", "PA") or (mode == "P" and "transparency" in image.info)
    if transparent:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")


def center_crop_resize(image: Image.Image, resolution: int) -> Image.Image:
    """Cut the largest centred square and resize it to ``resolution``.

    Downscaling averages over each output pixel's footprint (``Image.reduce``, an area filter)
    and finishes with Lanczos; upscaling is bicubic.

    Args:
        image: An RGB image.
        resolution: Side of the square output in pixels.
    """
    w, h = image.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    if (w, h) != (s, s):
        image = image.crop((left, top, left + s, top + s))  # crop first: resize(box=...) reads outside it
    if s == resolution:
        return image
    if s > resolution:
        return image.resize((resolution, resolution), Image.Resampling.LANCZOS, reducing_gap=2.0)
    return image.resize((resolution, resolution), Image.Resampling.BICUBIC)


def decode_image(data: bytes, *, resolution: int) -> UInt8[Tensor, "3 {resolution} {resolution}"]:
    """Decode encoded image bytes into a centre-cropped, resized ``uint8`` RGB tensor.

    JPEGs are decoded at a reduced scale when the image is much larger than needed (PIL's
    ``draft``), EXIF orientation is applied, then ``to_rgb`` and ``center_crop_resize``.

    Args:
        data: The file's bytes (JPEG, PNG, WebP, ...).
        resolution: Side of the output square.

    Raises:
        BadSampleError: ``"empty_file"`` for no bytes, ``"corrupt_image"`` when PIL cannot decode
            the image (truncated, not an image, zero size, more pixels than PIL's
            ``Image.MAX_IMAGE_PIXELS``, a decompression-bomb guard).
    """
    if not data:
        raise BadSampleError("empty_file", "0 bytes")
    try:
        image = Image.open(io.BytesIO(data))
        w, h = image.size
        limit = Image.MAX_IMAGE_PIXELS
        if w < 1 or h < 1 or (limit and w * h > limit):
            raise ValueError(f"image size {w}x{h} (limit {limit} pixels)")
        if image.format == "JPEG":
            s = min(w, h)
            image.draft("RGB", (math.ceil(w * resolution / s), math.ceil(h * resolution / s)))
        image.load()
        try:
            image = ImageOps.exif_transpose(image)
        except Exception:  # a broken EXIF block: keep the pixels as stored
            pass
        image = center_crop_resize(to_rgb(image), resolution)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError, MemoryError,
            struct.error, ZeroDivisionError) as e:
        detail = "not a recognised image format" if isinstance(e, UnidentifiedImageError) else f"{type(e).__name__}: {e}"
        raise BadSampleError("corrupt_image", detail) from None
    array = np.asarray(image, dtype=np.uint8)
    return torch.from_numpy(array.transpose(2, 0, 1).copy())


def clean_caption(text: str, *, max_chars: int = MAX_CAPTION_CHARS) -> str:
    """Normalise a caption: NFC Unicode, no control or invisible characters, single spaces, cut
    to ``max_chars`` characters.

    Lone surrogates (possible in JSON) become U+FFFD so the text can be encoded; a cut prefers
    the last space within the final 10 % of ``max_chars``.

    Args:
        text: The raw caption.
        max_chars: Maximum length of the result.

    Raises:
        BadSampleError: ``"missing_caption"`` when nothing is left.
    """
    text = _SURROGATE.sub("\ufffd", text)
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", _CONTROL.sub(" ", text))
    text = _SPACES.sub(" ", text).strip()
    if len(text) > max_chars:
        cut = text.rfind(" ", 0, max_chars + 1)
        text = text[: cut if cut >= max_chars * 0.9 else max_chars].rstrip()
    if not text:
        raise BadSampleError("missing_caption", "empty caption")
    return text
