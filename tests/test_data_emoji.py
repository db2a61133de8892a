"""EmojiT2I builder: items, captions, held-out splits, the folder it writes, and its refusals."""

import json
import os
import subprocess
import sys
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from emoji_helpers import EXPECTED_ITEMS, EXPECTED_WRITTEN, fixture_records, make_package, make_packages, real_packages
from ganblocks.data import CaptionedImageFolder
from ganblocks.data.emoji import (
    EMOJI_TONES,
    SPLITS,
    EmojiItem,
    build_emoji,
    emoji_caption,
    emoji_items,
    heldout_hash,
    load_emoji_images,
    main,
    read_emoji_items,
    split_of,
)


@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> tuple[Path, Path]:
    return make_packages(tmp_path_factory.mktemp("npm"))


@pytest.fixture(scope="module")
def built(packages, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("built") / "emoji"
    build_emoji(*packages, out)
    return out


def test_captions_follow_the_grammar():
    assert emoji_caption("grinning face", (), "google") == "grinning face, google style"
    assert emoji_caption("father christmas", ("medium",), "twitter") == "father christmas, medium skin tone, twitter style"
    assert (emoji_caption("couple with heart: man, man", ("light", "dark"), "google")
            == "couple with heart: man, man, light and dark skin tones, google style")
    assert emoji_caption("kiss", ("dark", "dark"), "google") == "kiss, dark skin tone, google style"


def test_heldout_hash_is_the_first_eight_bytes_of_sha256_mod_20():
    import hashlib

    for s in ["1F600", "1F385-1F3FD", "0023-FE0F-20E3"]:
        assert heldout_hash(s) == int.from_bytes(hashlib.sha256(s.encode()).digest()[:8], "big") % 20
    assert heldout_hash("1F600") == 2  # a fixed value: the splits must never move


def test_split_rules():
    records = fixture_records()
    subject = {r["name"]: r["unified"] for r in records}
    assert split_of(subject["DOG FACE"], subject["DOG FACE"], "twitter", ()) == "heldout_style"
    assert split_of(subject["DOG FACE"], subject["DOG FACE"], "google", ()) == "train"
    assert split_of(subject["RED APPLE"], subject["RED APPLE"], "google", ()) == "heldout_style"
    assert split_of(subject["RED APPLE"], subject["RED APPLE"], "twitter", ()) == "train"
    s = subject["FATHER CHRISTMAS"]
    for style in ("google", "twitter"):
        assert split_of(s, f"{s}-1F3FD", style, ("medium",)) == "heldout_tone"
        assert split_of(s, f"{s}-1F3FB", style, ("light",)) == "train"
        assert split_of(s, s, style, ()) == "train"  # the tone rule needs a tone


def test_items_of_the_records():
    records = fixture_records()
    for style in ("google", "twitter"):
        items = emoji_items(records, style)
        assert len(items) == EXPECTED_ITEMS[style]
        assert all(it.category != "Component" for it in items)
        assert len({it.unified for it in items}) == len(items)
    items = {it.unified: it for it in emoji_items(records, "twitter")}
    father = next(r for r in records if r["name"] == "FATHER CHRISTMAS")["unified"]
    medium = items[f"{father}-1F3FD"]
    assert medium.subject == father and medium.tones == ("medium",) and medium.tone == "medium"
    assert medium.name == "father christmas" and medium.category == "People & Body"
    assert medium.caption == "father christmas, medium skin tone, twitter style"
    assert items[father].tones == () and items[father].tone == "none"
    pair = next(r for r in records if r["name"].startswith("COUPLE"))["unified"]
    mixed = items[f"{pair}-1F3FB-1F3FF"]
    assert mixed.tones == ("light", "dark") and mixed.tone is None
    assert mixed.caption == "couple with heart: man, man, light and dark skin tones, twitter style"
    same = items[f"{pair}-1F3FB-1F3FB"]
    assert same.tone == "light" and same.caption == "couple with heart: man, man, light skin tone, twitter style"
    assert all(it.tone in EMOJI_TONES or it.tone is None for it in items.values())


def test_metadata_line_round_trips():
    item = emoji_items(fixture_records(), "google")[3]
    line = json.loads(json.dumps(item.metadata()))
    assert line["file_name"] == f"google/{item.image}" and line["text"] == item.caption
    assert EmojiItem.from_metadata(line) == item


def test_build_writes_the_training_items_apart(built):
    info = json.loads((built / "build.json").read_text())
    assert info["total"] == sum(EXPECTED_WRITTEN.values())
    assert Counter(s["reason"] for s in info["skipped"]) == {"missing_image": 1, "corrupt_image": 1}
    assert [s["version"] for s in info["sources"]] == ["16.0.0", "16.0.0"]
    assert (built / "ATTRIBUTION.md").read_text().count("CC-BY 4.0") == 1
    items = read_emoji_items(built)
    assert Counter(it.style for it in items) == EXPECTED_WRITTEN
    assert set(info["items"]) == set(SPLITS) and sum(info["items"].values()) == len(items)
    assert {it.split for it in items} == set(SPLITS)
    train = read_emoji_items(built / "train")
    assert train and all(it.split == "train" for it in train)
    assert all(it.split != "train" for it in read_emoji_items(built / "heldout"))
    assert read_emoji_items(built, splits=["heldout_tone"]) == [it for it in items if it.split == "heldout_tone"]
    # what the trainer reads: the training captions only, and every item from the top folder
    folder = CaptionedImageFolder(built / "train", resolution=32)
    assert sorted(folder.caption(i) for i in range(len(folder))) == sorted(it.caption for it in train)
    assert not folder.problems
    assert len(CaptionedImageFolder(built, resolution=32)) == len(items)
    assert not list(built.parent.glob(".emoji.*"))


def test_images_are_64px_rgb_over_white(built):
    items = read_emoji_items(built)
    for item in items:
        with Image.open(item.path) as im:
            assert im.mode == "RGB" and im.size == (64, 64)
    pixels = load_emoji_images(items, resolution=64)
    assert pixels.dtype == torch.uint8 and pixels.shape == (len(items), 3, 64, 64)
    assert (pixels[:, :, 0, 0] == 255).all()  # the transparent corner is white
    small = load_emoji_images(items[:2], resolution=32)
    # anti-aliased: each 32 px pixel is close to the mean of its 2x2 footprint
    mean = pixels[:2].float().reshape(2, 3, 32, 2, 32, 2).mean((3, 5))
    assert (small.float() - mean).abs().mean() < 6


def test_build_reads_extracted_folders(packages, tmp_path):
    folders = []
    for tgz in packages:
        target = tmp_path / tgz.stem
        with tarfile.open(tgz) as tar:
            tar.extractall(target, filter="data")
        folders.append(target)
    result = build_emoji(folders[0], folders[1] / "package", tmp_path / "out")
    assert result.total == sum(EXPECTED_WRITTEN.values()) and len(result.skipped) == 2


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    return subprocess.run([sys.executable, "-m", "ganblocks.data.emoji", *args], capture_output=True, text=True,
                          env=env, cwd=cwd)


def test_command_builds_and_reports_skips(packages, tmp_path):
    out = tmp_path / "emoji"
    r = _cli("build", "--google", str(packages[0]), "--twitter", str(packages[1]), "--out", str(out), "--no-progress")
    assert r.returncode == 0, r.stderr
    assert f"wrote {sum(EXPECTED_WRITTEN.values())} items" in r.stdout
    assert "skipped 2 images (1 corrupt_image, 1 missing_image)" in r.stderr
    assert "Traceback" not in r.stderr
    again = _cli("build", "--google", str(packages[0]), "--twitter", str(packages[1]), "--out", str(out))
    assert again.returncode == 2 and "already exists" in again.stderr and "--overwrite" in again.stderr


def _refused(capsys, tmp_path, google, twitter) -> str:
    with pytest.raises(SystemExit) as e:
        main(["build", "--google", str(google), "--twitter", str(twitter), "--out", str(tmp_path / "out"),
              "--no-progress"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]
    return err


def test_refuses_a_missing_tarball(capsys, tmp_path, packages):
    err = _refused(capsys, tmp_path, tmp_path / "nope.tgz", packages[1])
    assert "nope.tgz" in err and "no such file" in err and "npm pack emoji-datasource-google@16.0.0" in err


def test_refuses_a_corrupt_tarball(capsys, tmp_path, packages):
    bad = tmp_path / "bad.tgz"
    bad.write_bytes(b"\x1f\x8b" + os.urandom(300))
    assert "not a readable .tgz" in _refused(capsys, tmp_path, packages[0], bad)
    cut = tmp_path / "cut.tgz"
    cut.write_bytes(packages[0].read_bytes()[:-200])
    assert "not a readable .tgz" in _refused(capsys, tmp_path, cut, packages[1])


def test_refuses_another_version_saying_what_differs(capsys, tmp_path):
    google = make_package(tmp_path / "a", "google", version="15.1.2")
    twitter = make_package(tmp_path / "b", "twitter")
    err = _refused(capsys, tmp_path, google, twitter)
    assert "emoji-datasource-google version 15.1.2, expected 16.0.0" in err


def test_refuses_swapped_packages(capsys, tmp_path, packages):
    err = _refused(capsys, tmp_path, packages[1], packages[0])
    assert "'emoji-datasource-twitter', expected 'emoji-datasource-google'" in err


def test_refuses_a_package_without_emoji_json(capsys, tmp_path, packages):
    path = tmp_path / "nojson.tgz"
    with tarfile.open(packages[0]) as src, tarfile.open(path, "w:gz") as dst:
        for m in src:
            if m.name != "package/emoji.json":
                dst.addfile(m, src.extractfile(m))
    assert "no package/emoji.json" in _refused(capsys, tmp_path, path, packages[1])


def test_a_failed_build_leaves_the_old_folder(tmp_path, packages):
    out = tmp_path / "emoji"
    build_emoji(*packages, out)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    empty = tmp_path / "not_a_package"
    empty.mkdir()
    with pytest.raises(ValueError, match="not an extracted npm package"):
        build_emoji(packages[0], empty, out, overwrite=True)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    result = build_emoji(*packages, out, overwrite=True)
    assert result.total == sum(EXPECTED_WRITTEN.values())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emoji", "not_a_package"]


# -- the real packages ---------------------------------------------------------------------------


@pytest.mark.slow
def test_real_packages_conform(tmp_path):
    google, twitter = real_packages()
    result = build_emoji(google, twitter, tmp_path / "emoji")
    assert not result.skipped
    items = read_emoji_items(result.out)
    assert len(items) == 7562 and result.subjects == 1906
    assert Counter(it.style for it in items) == {"google": 3781, "twitter": 3781}
    assert len({it.subject for it in items}) == 1906
    assert len({it.category for it in items}) == 9
    assert result.items == {"train": 7059, "heldout_style": 297, "heldout_tone": 206}
    assert len(read_emoji_items(result.out / "train")) == 7059
    by_key = {(it.style, it.unified): it for it in items}
    assert by_key[("google", "1F600")].caption == "grinning face, google style"
    assert by_key[("twitter", "1F385-1F3FD")].caption == "father christmas, medium skin tone, twitter style"
    pixels = load_emoji_images(items[:8], resolution=64)
    assert np.isclose(pixels[:, :, 0, 0].float().mean().item(), 255, atol=1)
