"""A small pair of emoji-datasource packages in the npm layout, for the EmojiT2I tests.

The records cover what the builder has to handle: plain emoji, one-tone and two-tone skin
variations, a ``Component`` record, an image only one style has, an image ``emoji.json`` promises
but the package lacks, and a corrupt PNG. Code points are picked so that every held-out rule
applies to some item. Images are drawn so that a tiny scorer can tell everything apart: the
style is the outline (disc or square), the tone the fill colour, the subject a coloured mark.
"""

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from PIL import Image, ImageDraw

from ganblocks.data.emoji import heldout_hash

TONE_FILL = {"": (250, 200, 40), "1F3FB": (250, 220, 190), "1F3FC": (230, 190, 150), "1F3FD": (200, 150, 100),
             "1F3FE": (150, 100, 60), "1F3FF": (90, 60, 40)}
MARKS = [(230, 30, 30), (30, 160, 30), (30, 60, 230), (160, 30, 200), (20, 180, 200), (0, 0, 0), (240, 120, 0),
         (120, 120, 120)]


def _code(bucket_ok, start: int) -> str:
    """The first code point string from ``start`` whose held-out bucket passes ``bucket_ok``."""
    n = start
    while not bucket_ok(f"{n:X}"):
        n += 1
    return f"{n:X}"


def _tone_subject(start: int) -> str:
    """A subject in no held-out bucket whose medium variation is held out and light one is not."""
    n = start
    while True:
        s = f"{n:X}"
        if (heldout_hash(s) > 2 and heldout_hash(f"{s}-1F3FD") == 2 and heldout_hash(f"{s}-1F3FB") != 2
                and heldout_hash(f"{s}-1F3FB-1F3FF") != 2 and heldout_hash(f"{s}-1F3FB-1F3FB") != 2):
            return s
        n += 1


def _pair_subject(start: int) -> str:
    n = start
    while True:
        s = f"{n:X}"
        if heldout_hash(s) > 2 and all(heldout_hash(f"{s}-{k}") != 2 for k in ("1F3FB-1F3FF", "1F3FB-1F3FB")):
            return s
        n += 1


def fixture_records() -> list[dict]:
    """``emoji.json`` records of the fixture (both styles share them, as the real packages do)."""
    train = _code(lambda s: heldout_hash(s) > 2, 0x1F600)
    h0 = _code(lambda s: heldout_hash(s) == 0, 0x1F400)
    h1 = _code(lambda s: heldout_hash(s) == 1, 0x1F400)
    tone = _tone_subject(0x1F380)
    pair = _pair_subject(0x1F460)
    flag = _code(lambda s: heldout_hash(s) > 2, 0x1F1E6)
    missing = _code(lambda s: heldout_hash(s) > 2, 0x1F300)
    corrupt = _code(lambda s: heldout_hash(s) > 2, 0x1F900)

    def rec(name, unified, category, sub, *, google=True, twitter=True, variations=None):
        r = {"name": name, "unified": unified, "image": unified.lower() + ".png", "category": category,
             "subcategory": sub, "short_name": name.lower().replace(" ", "_"), "has_img_apple": True,
             "has_img_google": google, "has_img_twitter": twitter, "has_img_facebook": False}
        if variations:
            r["skin_variations"] = {k: {"unified": f"{unified}-{k}", "image": f"{unified}-{k}".lower() + ".png",
                                        "has_img_google": True, "has_img_twitter": True} for k in variations}
        return r

    return [
        rec("GRINNING FACE", train, "Smileys & Emotion", "face-smiling"),
        rec("DOG FACE", h0, "Animals & Nature", "animal-mammal"),
        rec("RED APPLE", h1, "Food & Drink", "food-fruit"),
        rec("FATHER CHRISTMAS", tone, "People & Body", "person-fantasy", variations=["1F3FB", "1F3FD"]),
        rec("COUPLE WITH HEART: MAN, MAN", pair, "People & Body", "family", variations=["1F3FB-1F3FF", "1F3FB-1F3FB"]),
        rec("EMOJI MODIFIER FITZPATRICK TYPE-1-2", "1F3FB", "Component", "skin-tone"),
        rec("FLAG: TEST", flag, "Flags", "country-flag", twitter=False),
        rec("CYCLONE", missing, "Travel & Places", "sky & weather"),
        rec("ROBOT", corrupt, "Objects", "other-object"),
    ]


def draw(style: str, unified: str, subject_index: int) -> Image.Image:
    """The fixture's 64 px RGBA art of one item."""
    parts = unified.split("-")[1:]
    fill = TONE_FILL[parts[0] if parts else ""]
    img = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    if style == "google":
        d.ellipse((4, 4, 59, 59), fill=(*fill, 255), outline=(0, 0, 0, 255), width=3)
    else:
        d.rectangle((6, 6, 57, 57), fill=(*fill, 255), outline=(0, 0, 0, 255), width=3)
    mark = MARKS[subject_index % len(MARKS)]
    x, y = 14 + 8 * (subject_index % 4), 16 + 8 * (subject_index // 8)
    d.rectangle((x, y, x + 12, y + 12), fill=(*mark, 255))
    if len(parts) == 2:  # the second tone: the lower half
        d.rectangle((16, 38, 48, 52), fill=(*TONE_FILL[parts[1]], 255))
    return img


def make_package(folder: Path, style: str, *, version: str = "16.0.0", name: str | None = None,
                 records: list[dict] | None = None) -> Path:
    """``emoji-datasource-{style}-{version}.tgz`` in ``folder``; returns its path."""
    records = fixture_records() if records is None else records
    files: dict[str, bytes] = {
        "package/package.json": json.dumps({"name": name or f"emoji-datasource-{style}", "version": version}).encode(),
        "package/emoji.json": json.dumps(records).encode(),
        "package/README.md": b"fixture\n",
    }
    subjects = [r["unified"] for r in records]
    for i, r in enumerate(records):
        entries = [(r["unified"], r)] + [(v["unified"], v) for v in (r.get("skin_variations") or {}).values()]
        for unified, src in entries:
            if not src.get(f"has_img_{style}"):
                continue
            if r["name"] == "CYCLONE" and style == "google":
                continue  # promised by emoji.json, missing from the package
            if r["name"] == "ROBOT" and style == "twitter":
                data = b"\x89PNG\r\n\x1a\n" + b"not really a png" * 4
            else:
                buf = io.BytesIO()
                draw(style, unified, subjects.index(r["unified"])).save(buf, format="PNG")
                data = buf.getvalue()
            files[f"package/img/{style}/64/{src['image']}"] = data
    path = Path(folder) / f"emoji-datasource-{style}-{version}.tgz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for member, data in files.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def make_packages(folder: Path, **kwargs) -> tuple[Path, Path]:
    """The google and the twitter fixture tarballs."""
    return make_package(folder, "google", **kwargs), make_package(folder, "twitter", **kwargs)


# What the fixture gives, per style (Component skipped, CYCLONE's google image and ROBOT's twitter
# image lost, FLAG without a twitter image).
EXPECTED_ITEMS = {"google": 12, "twitter": 11}
EXPECTED_WRITTEN = {"google": 11, "twitter": 10}


def real_packages() -> tuple[Path, Path]:
    """The real 16.0.0 tarballs from ``GANBLOCKS_EMOJI_CACHE`` (default ``~/.cache/ganblocks/emoji``),
    or skip the test."""
    cache = Path(os.environ.get("GANBLOCKS_EMOJI_CACHE", Path.home() / ".cache" / "ganblocks" / "emoji"))
    paths = tuple(cache / f"emoji-datasource-{style}-16.0.0.tgz" for style in ("google", "twitter"))
    if not all(p.is_file() for p in paths):
        pytest.skip(f"the emoji-datasource 16.0.0 tarballs are not in {cache} (set GANBLOCKS_EMOJI_CACHE; "
                    "npm pack emoji-datasource-google@16.0.0 emoji-datasource-twitter@16.0.0)")
    return paths
