"""FolderReference: a captioned image folder or zip as a fixed, fingerprinted metric reference."""

import json
import os
from pathlib import Path

import pytest
import torch

from data_samples import write_bad_samples, write_folder, zip_folder
from ganblocks.data import CaptionedImageFolder
from ganblocks.metrics import FolderReference, Reference


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("refdata") / "my images"
    write_folder(root, n=12)
    return root


def test_captions_and_images_are_the_folders_in_order(folder: Path) -> None:
    ref = FolderReference(folder, resolution=32)
    assert isinstance(ref, Reference) and len(ref) == 12
    data = CaptionedImageFolder(folder, resolution=32)
    assert ref.captions(5) == [data.caption(i) for i in range(5)]
    images = ref.images(2, 6)
    assert images.dtype == torch.uint8 and images.shape == (4, 3, 32, 32)
    assert torch.equal(images[1], data[3][0])


def test_zip_reads_the_same_items_as_the_folder(folder: Path, tmp_path: Path) -> None:
    zipped = FolderReference(zip_folder(folder, tmp_path / "data.zip"), resolution=16)
    plain = FolderReference(folder, resolution=16)
    assert zipped.captions(12) == plain.captions(12)
    assert torch.equal(zipped.images(0, 12), plain.images(0, 12))


def test_dataset_id_changes_when_the_folder_changes(folder: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    write_folder(copy, n=12)
    a, b = FolderReference(copy, resolution=16), FolderReference(copy, resolution=16)
    assert a.dataset_id == b.dataset_id and a.dataset_id.startswith("folder-copy-")
    assert FolderReference(folder, resolution=16).dataset_id.startswith("folder-my_images-")
    lines = (copy / "metadata.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    (copy / "metadata.jsonl").write_text("\n".join([json.dumps({**first, "text": "another caption"}), *lines[1:]]))
    assert FolderReference(copy, resolution=16).dataset_id != a.dataset_id
    image = copy / first["file_name"]
    image.write_bytes(image.read_bytes() + b"\0")  # same captions, changed image file
    os.utime(image)
    assert FolderReference(copy, resolution=16).dataset_id not in (a.dataset_id,)


def test_too_few_images_and_unreadable_images_are_named(folder: Path, tmp_path: Path) -> None:
    ref = FolderReference(folder, resolution=16)
    with pytest.raises(ValueError, match=f"{folder} has 12 captioned images, fewer than the 20 samples"):
        ref.captions(20)
    bad = tmp_path / "bad"
    bad.mkdir()
    write_bad_samples(bad)
    bad_ref = FolderReference(bad, resolution=16)
    with pytest.raises(ValueError, match=f"reference image {bad}/bad/corrupt.jpg cannot be used .*remove it or its "
                       "metadata.jsonl line"):
        bad_ref.images(0, len(bad_ref))
    with pytest.raises(FileNotFoundError, match="nowhere"):
        FolderReference(tmp_path / "nowhere", resolution=16)
