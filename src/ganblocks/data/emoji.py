"""EmojiT2I: a small real text-to-image data set built from two emoji art sets.

The source is two npm packages of the ``emoji-datasource`` project, version 16.0.0::

    npm pack emoji-datasource-google@16.0.0 emoji-datasource-twitter@16.0.0

Each ``.tgz`` holds ``package/emoji.json`` (one record per emoji) and 64 px RGBA PNGs at
``package/img/<vendor>/64/<image>``. The vendor is the item's *style*: ``google`` (Noto Color
Emoji art, Apache-2.0) or ``twitter`` (Twemoji art, CC-BY-4.0: attribution required). The
packages' code and data are MIT.

Items: every record outside the ``Component`` category gives, in each style, its base emoji
(no skin tone) and one item per skin variation (one or two tones), where the style has an image.
Captions read ``"{name}[, {tone} skin tone | , {t1} and {t2} skin tones], {style} style"``, e.g.
``"father christmas, medium skin tone, twitter style"``. Captions are neither unique nor meant to
be parsed: every item keeps its fields (subject, style, tones, category, ...) in its metadata
line, and scoring uses the fields.

Held-out items, chosen by a hash $h(s)$ of a code point string (the first 8 bytes of its SHA-256,
big-endian, modulo 20): every ``twitter`` item of a subject with $h = 0$ and every ``google``
item of a subject with $h = 1$ (*held-out style*), and in both styles every toned item whose own
code points have $h = 2$ (*held-out tone*). They are written apart from the training items::

    OUT/
        train/metadata.jsonl      the training items: point the trainer at OUT/train
        train/google/1f600.png    64 px RGB (the RGBA art composited over white)
        heldout/metadata.jsonl    held-out items, split "heldout_style" or "heldout_tone"
        heldout/twitter/....png
        build.json                source versions and checksums, counts, skipped images
        ATTRIBUTION.md            the art sets' licences

``CaptionedImageFolder(OUT)`` reads every item (both metadata files), ``CaptionedImageFolder(OUT /
"train")`` only the training ones. Command line::

    python -m ganblocks.data.emoji build --google emoji-datasource-google-16.0.0.tgz \\
        --twitter emoji-datasource-twitter-16.0.0.tgz --out data/emoji
"""

import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from .._typing import Tensor, UInt8
from .folder import METADATA_FILE
from .transforms import BadSampleError, decode_image

__all__ = [
    "EMOJI_VERSION",
    "EMOJI_STYLES",
    "EMOJI_TONES",
    "TONE_CODES",
    "SPLITS",
    "EmojiItem",
    "EmojiBuild",
    "EmojiPackage",
    "heldout_hash",
    "split_of",
    "emoji_caption",
    "emoji_items",
    "read_emoji_package",
    "build_emoji",
    "read_emoji_items",
    "load_emoji_images",
    "main",
]

EMOJI_VERSION = "16.0.0"
"""The version of the two npm packages the data set is defined on."""

EMOJI_STYLES = ("google", "twitter")
"""The styles, in the order of a scorer's style classes; each is an npm package's vendor."""

EMOJI_TONES = ("none", "light", "medium-light", "medium", "medium-dark", "dark")
"""Tone classes: ``none`` (no skin tone) and the five Fitzpatrick-based modifiers."""

TONE_CODES = {"1F3FB": "light", "1F3FC": "medium-light", "1F3FD": "medium", "1F3FE": "medium-dark",
              "1F3FF": "dark"}
"""Skin tone modifier code points and their names."""

SPLITS = ("train", "heldout_style", "heldout_tone")
"""An item's split: training, or held out for its style or for its tone."""

SKIPPED_CATEGORY = "Component"
"""Records of this category (bare skin tone swatches, hair components) make no items."""

HELDOUT_BUCKETS = 20
"""``heldout_hash`` is taken modulo this."""

_IMAGE_DIR = "package/img/{style}/64/"


def heldout_hash(code: str) -> int:
    """The held-out bucket of a code point string: ``int(sha256(code)[:8]) % 20``.

    Bucket 0 holds a subject's ``twitter`` items out, bucket 1 its ``google`` items; a toned
    item whose own ``unified`` is in bucket 2 is held out in both styles.
    """
    digest = hashlib.sha256(code.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % HELDOUT_BUCKETS


def split_of(subject: str, unified: str, style: str, tones: Sequence[str]) -> str:
    """``"heldout_style"``, ``"heldout_tone"`` or ``"train"`` (held-out style wins when both)."""
    bucket = heldout_hash(subject)
    if (bucket == 0 and style == "twitter") or (bucket == 1 and style == "google"):
        return "heldout_style"
    if tones and heldout_hash(unified) == 2:
        return "heldout_tone"
    return "train"


def emoji_caption(name: str, tones: Sequence[str], style: str) -> str:
    """An item's caption: its name, its tone(s) if any, its style.

    >>> emoji_caption("couple with heart: man, man", ["light", "dark"], "google")
    'couple with heart: man, man, light and dark skin tones, google style'
    """
    if not tones:
        tone_part = ""
    elif len(set(tones)) == 1:
        tone_part = f", {tones[0]} skin tone"
    else:
        tone_part = f", {' and '.join(tones)} skin tones"
    return f"{name}{tone_part}, {style} style"


@dataclass(frozen=True)
class EmojiItem:
    """One image of the data set and its fields.

    Attributes:
        subject: The base emoji's code points (``unified`` of its record), e.g. ``"1F385"``.
        unified: This item's own code points (with its tone modifiers), e.g. ``"1F385-1F3FD"``.
        name: The record's name in lower case, e.g. ``"father christmas"``.
        style: ``"google"`` or ``"twitter"``.
        tones: Tone names, none, one or two (``("light", "dark")``).
        category: One of nine (``"Smileys & Emotion"``, ``"Flags"``, ...).
        subcategory: The record's subcategory.
        split: ``"train"``, ``"heldout_style"`` or ``"heldout_tone"``.
        image: The file name of the image in the package (``"1f385-1f3fd.png"``).
        path: The image file on disk, for items read from a built data set (else ``None``).
    """

    subject: str
    unified: str
    name: str
    style: str
    tones: tuple[str, ...]
    category: str
    subcategory: str
    split: str
    image: str
    path: Path | None = field(default=None, compare=False)

    @property
    def caption(self) -> str:
        """See ``emoji_caption``."""
        return emoji_caption(self.name, self.tones, self.style)

    @property
    def tone(self) -> str | None:
        """The tone class: ``"none"``, the tone, or ``None`` for two different tones (not scored)."""
        if not self.tones:
            return "none"
        return self.tones[0] if len(set(self.tones)) == 1 else None

    @property
    def file_name(self) -> str:
        """Where the image goes inside its split's folder: ``"{style}/{image}"``."""
        return f"{self.style}/{self.image}"

    def metadata(self) -> dict[str, Any]:
        """The item's ``metadata.jsonl`` line (``file_name``, ``text`` and every field)."""
        d = asdict(self)
        d.pop("path")
        d["tones"] = list(self.tones)
        return {"file_name": self.file_name, "text": self.caption, **d}

    @classmethod
    def from_metadata(cls, line: dict[str, Any], path: Path | None = None) -> "EmojiItem":
        """The item of a ``metadata.jsonl`` line written by ``build_emoji``."""
        try:
            return cls(subject=line["subject"], unified=line["unified"], name=line["name"], style=line["style"],
                       tones=tuple(line["tones"]), category=line["category"], subcategory=line["subcategory"],
                       split=line["split"], image=line["image"], path=path)
        except (KeyError, TypeError) as e:
            raise ValueError(f"not an EmojiT2I metadata line (missing {e}): {line}") from None


def emoji_items(records: Iterable[dict[str, Any]], style: str) -> list[EmojiItem]:
    """The items of one style from ``emoji.json``'s records, in the records' order.

    Records of the ``Component`` category are skipped; a base emoji or a skin variation is an
    item when its ``has_img_<style>`` is true.

    Raises:
        ValueError: An unknown style, or a record without the fields used.
    """
    if style not in EMOJI_STYLES:
        raise ValueError(f"unknown style {style!r}; expected one of {', '.join(EMOJI_STYLES)}")
    flag = f"has_img_{style}"
    items = []
    for record in records:
        try:
            if record["category"] == SKIPPED_CATEGORY:
                continue
            subject, name = record["unified"], record["name"].lower()
            common = dict(subject=subject, name=name, style=style, category=record["category"],
                          subcategory=record["subcategory"])
            variants = [(subject, (), record)]
            for key, variation in (record.get("skin_variations") or {}).items():
                tones = tuple(TONE_CODES[code] for code in key.upper().split("-"))
                variants.append((variation["unified"], tones, variation))
            for unified, tones, source in variants:
                if source.get(flag):
                    items.append(EmojiItem(unified=unified, tones=tones, image=source["image"],
                                           split=split_of(subject, unified, style, tones), **common))
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"emoji.json: record {record.get('unified', '?') if isinstance(record, dict) else record!r} "
                             f"lacks a field or has one of the wrong type ({type(e).__name__}: {e})") from None
    return items


# -- reading the packages ------------------------------------------------------------------------


@dataclass
class EmojiPackage:
    """One npm package as ``read_emoji_package`` read it.

    Attributes:
        style: ``"google"`` or ``"twitter"``.
        version: Its ``package.json`` version.
        records: The records of its ``emoji.json``.
        images: The 64 px PNGs of its style, by file name (bytes).
        source: The tarball or folder read.
        sha256: The tarball's SHA-256 (``None`` for a folder).
    """

    style: str
    version: str
    records: list[dict[str, Any]]
    images: dict[str, bytes]
    source: str
    sha256: str | None


def _check_package(pkg_json: bytes, emoji_json: bytes | None, style: str, source: str,
                   version: str) -> tuple[str, list[dict[str, Any]]]:
    try:
        meta = json.loads(pkg_json)
        name, found = meta.get("name"), meta.get("version")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as e:
        raise ValueError(f"{source}: package/package.json is not readable JSON ({e})") from None
    expected = f"emoji-datasource-{style}"
    if name != expected:
        raise ValueError(f"{source}: holds the package {name!r}, expected {expected!r} "
                         f"(is it the other style's tarball?)")
    if found != version:
        raise ValueError(f"{source}: {name} version {found}, expected {version}: item counts and held-out "
                         f"splits are defined on {version} (npm pack {expected}@{version})")
    if emoji_json is None:
        raise ValueError(f"{source}: no package/emoji.json")
    try:
        records = json.loads(emoji_json)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{source}: package/emoji.json is not readable JSON ({e})") from None
    if not isinstance(records, list):
        raise ValueError(f"{source}: package/emoji.json is not a list of records")
    return found, records


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_emoji_package(path: str | os.PathLike, style: str, *, version: str = EMOJI_VERSION) -> EmojiPackage:
    """Read one npm package: its ``.tgz`` or the folder it was extracted into.

    A folder may be the one holding ``package/`` or ``package/`` itself. Only ``package.json``,
    ``emoji.json`` and the 64 px images of ``style`` are kept (as bytes).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: Not a readable tarball or package folder, another package or version, or no
            ``emoji.json``.
    """
    path = Path(path)
    source = str(path)
    prefix = _IMAGE_DIR.format(style=style)
    if not path.exists():
        raise FileNotFoundError(f"{source}: no such file or folder (npm pack emoji-datasource-{style}@{version})")
    pkg_json = emoji_json = None
    images: dict[str, bytes] = {}
    if path.is_dir():
        root = path if (path / "package.json").is_file() and not (path / "package").is_dir() else path / "package"
        if not (root / "package.json").is_file():
            raise ValueError(f"{source}: no package/package.json: not an extracted npm package")
        pkg_json = (root / "package.json").read_bytes()
        emoji_json = (root / "emoji.json").read_bytes() if (root / "emoji.json").is_file() else None
        found, records = _check_package(pkg_json, emoji_json, style, source, version)
        folder = root / "img" / style / "64"
        if folder.is_dir():
            for f in folder.iterdir():
                if f.is_file():
                    images[f.name] = f.read_bytes()
        return EmojiPackage(style, found, records, images, source, None)
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                n = member.name[2:] if member.name.startswith("./") else member.name
                if n == "package/package.json":
                    pkg_json = tar.extractfile(member).read()
                elif n == "package/emoji.json":
                    emoji_json = tar.extractfile(member).read()
                elif n.startswith(prefix) and "/" not in n[len(prefix):]:
                    images[n[len(prefix):]] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        raise ValueError(f"{source}: not a readable .tgz ({type(e).__name__}: {e}); download it again "
                         f"with npm pack emoji-datasource-{style}@{version}") from None
    if pkg_json is None:
        raise ValueError(f"{source}: no package/package.json: not an npm package tarball")
    found, records = _check_package(pkg_json, emoji_json, style, source, version)
    return EmojiPackage(style, found, records, images, source, _sha256(path))


# -- building ------------------------------------------------------------------------------------


@dataclass
class EmojiBuild:
    """What ``build_emoji`` wrote.

    Attributes:
        out: The data set folder.
        items: Items written, per split.
        skipped: Items left out, ``(style/image, reason)``: ``missing_image`` (the package
            lacks a file its ``emoji.json`` promises) or ``corrupt_image``.
        subjects: Distinct subjects written.
        seconds: Wall time of the build.
    """

    out: Path
    items: dict[str, int]
    skipped: list[tuple[str, str]]
    subjects: int
    seconds: float

    @property
    def total(self) -> int:
        """Items written in all splits."""
        return sum(self.items.values())


def _progress(iterable: Sequence, *, enabled: bool, desc: str) -> Iterable:
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, desc=desc, unit="img", file=sys.stderr)


ATTRIBUTION = """# EmojiT2I: licences and attribution

The images of this data set come from two npm packages of the emoji-datasource project
(https://github.com/iamcal/emoji-data), version {version}, whose code and data are MIT-licensed:

- `google` style: Noto Color Emoji, Copyright Google Inc., Apache License 2.0
  (https://github.com/googlefonts/noto-emoji).
- `twitter` style: Twemoji, Copyright Twitter, Inc. and other contributors, graphics licensed
  under CC-BY 4.0 (https://creativecommons.org/licenses/by/4.0/). Attribution is required.

The images here are the packages' 64 px art composited over white. Share a model trained on them
with the attribution of both art sets.
"""


def build_emoji(
    google: str | os.PathLike,
    twitter: str | os.PathLike,
    out: str | os.PathLike,
    *,
    overwrite: bool = False,
    progress: bool = False,
    version: str = EMOJI_VERSION,
) -> EmojiBuild:
    """Build EmojiT2I from the two npm packages into ``out`` (see the module's description).

    Everything is written into a temporary folder beside ``out`` and renamed at the end, so a
    failed build leaves nothing behind. An image that is missing or cannot be decoded skips its
    item (listed in ``EmojiBuild.skipped`` and ``build.json``); anything else wrong with the input
    raises.

    Args:
        google: ``emoji-datasource-google-16.0.0.tgz`` or its extracted folder.
        twitter: ``emoji-datasource-twitter-16.0.0.tgz`` or its extracted folder.
        out: The data set folder to create.
        overwrite: Replace ``out`` if it exists (else refuse).
        progress: Show a tqdm progress bar on stderr (when tqdm is installed).
        version: The package version required.

    Raises:
        FileExistsError: ``out`` exists and ``overwrite`` is false.
        FileNotFoundError: A package is missing.
        ValueError: A package cannot be read, is another package or version, or no image could be
            used.
    """
    start = time.perf_counter()
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; remove it or pass overwrite (--overwrite)")
    packages = [read_emoji_package(google, "google", version=version),
                read_emoji_package(twitter, "twitter", version=version)]
    work = [(pkg, item) for pkg in packages for item in emoji_items(pkg.records, pkg.style)]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.building-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        counts = {split: 0 for split in SPLITS}
        skipped: list[tuple[str, str]] = []
        lines: dict[str, list[str]] = {"train": [], "heldout": []}
        subjects = set()
        made_dirs = set()
        for pkg, item in _progress(work, enabled=progress, desc="EmojiT2I"):
            data = pkg.images.get(item.image)
            if data is None:
                skipped.append((item.file_name, "missing_image"))
                continue
            try:
                pixels = decode_image(data, resolution=64)
            except BadSampleError as e:
                skipped.append((item.file_name, e.reason))
                continue
            folder = "train" if item.split == "train" else "heldout"
            target = tmp / folder / item.file_name
            if target.parent not in made_dirs:
                target.parent.mkdir(parents=True, exist_ok=True)
                made_dirs.add(target.parent)
            Image.fromarray(pixels.permute(1, 2, 0).numpy()).save(target, optimize=False)
            lines[folder].append(json.dumps(item.metadata(), ensure_ascii=False))
            counts[item.split] += 1
            subjects.add(item.subject)
        if not subjects:
            raise ValueError(f"no usable image in {google} and {twitter} ({len(skipped)} skipped)")
        for folder, rows in lines.items():
            (tmp / folder).mkdir(exist_ok=True)
            (tmp / folder / METADATA_FILE).write_text("".join(r + "\n" for r in rows), encoding="utf-8")
        info = {
            "dataset": "EmojiT2I",
            "sources": [{"style": p.style, "package": f"emoji-datasource-{p.style}", "version": p.version,
                         "file": Path(p.source).name, "sha256": p.sha256} for p in packages],
            "items": counts,
            "total": sum(counts.values()),
            "subjects": len(subjects),
            "skipped": [{"file": f, "reason": r} for f, r in skipped],
            "resolution": 64,
        }
        (tmp / "build.json").write_text(json.dumps(info, indent=1, ensure_ascii=False) + "\n")
        (tmp / "ATTRIBUTION.md").write_text(ATTRIBUTION.format(version=version))
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return EmojiBuild(out, counts, skipped, len(subjects), time.perf_counter() - start)


# -- reading a built data set --------------------------------------------------------------------


def read_emoji_items(root: str | os.PathLike, splits: Sequence[str] | None = None) -> list[EmojiItem]:
    """The items of a built EmojiT2I folder (or its ``train``/``heldout`` subfolder), in file order.

    Every ``metadata.jsonl`` under ``root`` is read; each item's ``path`` is its image file.

    Args:
        root: The folder ``build_emoji`` wrote, or one of its split folders.
        splits: Keep only these splits (default: all).

    Raises:
        FileNotFoundError: ``root`` does not exist.
        ValueError: No metadata, or lines that are not EmojiT2I items.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder (build it with python -m ganblocks.data.emoji build)")
    for split in splits or ():
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected some of {', '.join(SPLITS)}")
    items = []
    metadata = sorted(root.rglob(METADATA_FILE))
    if not metadata:
        raise ValueError(f"{root}: no {METADATA_FILE}: not an EmojiT2I folder (python -m ganblocks.data.emoji build)")
    for meta in metadata:
        for lineno, line in enumerate(meta.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{meta}:{lineno}: not JSON ({e})") from None
            item = EmojiItem.from_metadata(record, meta.parent / record["file_name"])
            if splits is None or item.split in splits:
                items.append(item)
    return items


def load_emoji_images(items: Sequence[EmojiItem], *, resolution: int = 64) -> UInt8[Tensor, "n 3 r r"]:
    """The real images of ``items`` (read from their ``path``), ``uint8`` RGB at ``resolution``.

    Downsampling is anti-aliased (``decode_image``: Lanczos over the pixel footprint), as in the
    trainer's loader.

    Raises:
        ValueError: An item without a path (not read from a built data set).
        BadSampleError: An image cannot be decoded.
    """
    out = torch.empty(len(items), 3, resolution, resolution, dtype=torch.uint8)
    for i, item in enumerate(items):
        if item.path is None:
            raise ValueError(f"item {item.unified} ({item.style}) has no image path: read items with read_emoji_items")
        out[i] = decode_image(Path(item.path).read_bytes(), resolution=resolution)
    return out


# -- command line --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m ganblocks.data.emoji build --google G.tgz --twitter T.tgz --out DIR``."""
    from ..cli import ArgumentParser, fail, user_errors

    parser = ArgumentParser(prog="python -m ganblocks.data.emoji", description=__doc__.split("\n\n")[0] + "\n\n"
                            "Fetch the packages with: npm pack emoji-datasource-google@16.0.0 "
                            "emoji-datasource-twitter@16.0.0")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the data set folder from the two npm packages",
                           description="Build EmojiT2I: OUT/train (training items), OUT/heldout, build.json.")
    build.add_argument("--google", required=True, help="emoji-datasource-google-16.0.0.tgz or its extracted folder")
    build.add_argument("--twitter", required=True, help="emoji-datasource-twitter-16.0.0.tgz or its extracted folder")
    build.add_argument("--out", required=True, help="data set folder to create")
    build.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    build.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    with user_errors("cannot build EmojiT2I"):
        result = build_emoji(args.google, args.twitter, args.out, overwrite=args.overwrite,
                             progress=not args.no_progress)
    if result.skipped:
        reasons: dict[str, int] = {}
        for _, reason in result.skipped:
            reasons[reason] = reasons.get(reason, 0) + 1
        print(f"warning: skipped {len(result.skipped)} images ("
              + ", ".join(f"{n} {r}" for r, n in sorted(reasons.items())) + f"); listed in {result.out}/build.json",
              file=sys.stderr)
    splits = ", ".join(f"{n} {s}" for s, n in result.items.items())
    print(f"wrote {result.total} items of {result.subjects} subjects ({splits}) to {result.out} "
          f"in {result.seconds:.1f} s; train with --data {result.out / 'train'}")
    if not result.total:
        fail("no items written")


if __name__ == "__main__":
    main()
