"""CaptionedImageFolder: image folders and zips with metadata.jsonl, and what happens to bad data."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from data_samples import EXPECTED_BAD, LONG_CAPTION, write_bad_samples, write_folder, zip_folder

from ganblocks.data import BadSample, CaptionedImageFolder, MAX_CAPTION_CHARS


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> tuple[Path, list[tuple[str, str]]]:
    root = tmp_path_factory.mktemp("good") / "images"
    return root, write_folder(root, 50)


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("bad") / "images"
    write_folder(root, 12, seed=3)
    return root, write_bad_samples(root)


def items(data: CaptionedImageFolder) -> dict[str, tuple[torch.Tensor, str] | BadSample]:
    return {data.name(i): data.load(i) for i in range(len(data))}


@pytest.mark.parametrize("resolution", [16, 64])
def test_folder_yields_uint8_squares_with_their_captions(good, resolution) -> None:
    root, entries = good
    data = CaptionedImageFolder(root, resolution=resolution)
    assert len(data) == 50 and not data.problems
    for i, (name, caption) in enumerate(entries):
        image, text = data[i]
        assert image.dtype == torch.uint8 and image.shape == (3, resolution, resolution)
        assert data.name(i) == name and text == caption
        assert image.float().std() > 1  # a picture, not a blank


@pytest.mark.parametrize("top", [None, "my_images"])
def test_zip_reads_like_the_folder(good, tmp_path, top) -> None:
    root, _ = good
    archive = zip_folder(root, tmp_path / "images.zip", top=top)
    folder, zipped = CaptionedImageFolder(root, resolution=32), CaptionedImageFolder(archive, resolution=32)
    assert len(zipped) == len(folder)
    for i in range(len(folder)):
        (a, ca), (b, cb) = folder[i], zipped[i]
        assert torch.equal(a, b) and ca == cb
        assert zipped.name(i) == (f"{top}/{folder.name(i)}" if top else folder.name(i))


def test_zip_is_read_by_worker_processes(good, tmp_path) -> None:
    archive = zip_folder(good[0], tmp_path / "images.zip")
    data = CaptionedImageFolder(archive, resolution=16)
    data[0]  # opens a handle in this process; the workers must open their own
    loader = torch.utils.data.DataLoader(data, batch_size=10, num_workers=2)
    images = torch.cat([x for x, _ in loader])
    assert torch.equal(images, torch.stack([data[i][0] for i in range(len(data))]))


def test_bad_folder_skips_and_counts_by_reason(bad) -> None:
    root, usable = bad
    data = CaptionedImageFolder(root, resolution=32)
    loaded = items(data)
    for name, item in loaded.items():
        if isinstance(item, BadSample):
            data.bad.add(item)
    assert data.bad.counts() == EXPECTED_BAD
    for name in usable:  # grey, RGBA, 16-bit, odd Unicode, 10,000 characters: kept
        image, caption = loaded[name]
        assert image.shape == (3, 32, 32) and caption
    assert len(loaded["bad/long.png"][1]) <= MAX_CAPTION_CHARS and LONG_CAPTION.startswith(loaded["bad/long.png"][1])
    assert data.bad.examples()["corrupt_image"] == ["bad/corrupt.jpg", "bad/truncated.png"]


def test_getitem_moves_past_unusable_images(bad) -> None:
    data = CaptionedImageFolder(bad[0], resolution=16)
    i = next(i for i in range(len(data)) if data.name(i) == "bad/corrupt.jpg")
    assert data.name(i + 1) == "bad/truncated.png" and data.name(i + 2) == "bad/empty.png"
    image, caption = data[i]  # the next usable one, bad/grey.png
    assert torch.equal(image, data.load(i + 3)[0]) and caption == data.caption(i + 3)
    assert {"corrupt_image", "empty_file"} <= set(data.bad.counts())


def test_empty_folder_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ValueError, match=rf"{tmp_path}.*metadata\.jsonl"):
        CaptionedImageFolder(tmp_path, resolution=32)


def test_folder_without_usable_lines_is_a_clear_error(tmp_path) -> None:
    (tmp_path / "metadata.jsonl").write_text('{"file_name": "gone.png", "text": "x"}\nnonsense\n')
    with pytest.raises(ValueError, match="no usable samples") as e:
        CaptionedImageFolder(tmp_path, resolution=32)
    assert "missing_image 1 (gone.png)" in str(e.value) and "bad_metadata 1" in str(e.value)


def test_folder_of_only_corrupt_images_fails_verification(tmp_path) -> None:
    lines = []
    for i in range(3):
        (tmp_path / f"{i}.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
        lines.append(json.dumps({"file_name": f"{i}.jpg", "text": "a photo"}))
    (tmp_path / "metadata.jsonl").write_text("\n".join(lines))
    data = CaptionedImageFolder(tmp_path, resolution=32)
    with pytest.raises(ValueError, match=rf"{tmp_path}: no usable samples.*corrupt_image 3"):
        data.verify()
    with pytest.raises(RuntimeError, match="unusable samples in a row"):
        data[0]


def test_missing_and_non_folder_paths_are_refused(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        CaptionedImageFolder(tmp_path / "nowhere", resolution=32)
    (tmp_path / "fake.zip").write_bytes(b"PK not a zip")
    with pytest.raises(ValueError, match="not a readable zip"):
        CaptionedImageFolder(tmp_path / "fake.zip", resolution=32)


def test_paths_leaving_the_folder_are_refused(good, tmp_path) -> None:
    root = tmp_path / "data"
    shutil.copytree(good[0], root)
    with open(root / "metadata.jsonl", "a") as f:
        f.write(json.dumps({"file_name": "../secret.png", "text": "x"}) + "\n")
        f.write(json.dumps({"file_name": "/etc/hostname", "text": "x"}) + "\n")
    data = CaptionedImageFolder(root, resolution=16)
    assert len(data) == 50 and data.bad.counts() == {"unsafe_path": 2}


def test_line_separators_inside_captions_do_not_split_lines(tmp_path, good) -> None:
    shutil.copy(good[0] / "img000.jpg", tmp_path / "a.jpg")
    line = json.dumps({"file_name": "a.jpg", "text": "one\u2028two\u0085three"}, ensure_ascii=False)
    (tmp_path / "metadata.jsonl").write_text(line + "\n", encoding="utf-8")
    data = CaptionedImageFolder(tmp_path, resolution=16)
    assert len(data) == 1 and data.caption(0) == "one two three" and not data.problems


def test_metadata_in_subfolders_is_relative_to_its_folder(good, tmp_path) -> None:
    for part in ("a", "b"):
        sub = tmp_path / part
        sub.mkdir()
        shutil.copy(good[0] / "img001.png", sub / "x.png")
        (sub / "metadata.jsonl").write_text(json.dumps({"file_name": "x.png", "text": f"from {part}"}))
    data = CaptionedImageFolder(tmp_path, resolution=16)
    assert [(data.name(i), data.caption(i)) for i in range(2)] == [("a/x.png", "from a"), ("b/x.png", "from b")]
