"""pack_shards and `python -m ganblocks.data.pack`: from an image folder to WebDataset shards."""

import json
import subprocess
import sys
import tarfile

import pytest
import torch
from data_samples import EXPECTED_BAD, write_bad_samples, write_folder, zip_folder

from ganblocks.data import BadSampleLog, CaptionedImageFolder, CaptionedShards, pack_shards


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    root = tmp_path_factory.mktemp("pack") / "images"
    write_folder(root, 50)
    return root


def contents(items) -> dict[str, torch.Tensor]:
    return {caption + f"#{k}": image for k, (image, caption) in enumerate(items)}


def test_pack_round_trips_images_and_captions(good, tmp_path) -> None:
    shards = pack_shards(good, tmp_path / "out", shard_size=16)
    assert [p.name for p in shards] == ["000000.tar", "000001.tar", "000002.tar", "000003.tar"]
    with tarfile.open(shards[3]) as t:
        names = t.getnames()
    assert len(names) == 2 * 3 and {n.rsplit(".", 1)[1] for n in names} <= {"jpg", "png", "webp", "txt", "json"}
    folder = CaptionedImageFolder(good, resolution=32)
    streamed = list(CaptionedShards(shards, resolution=32, shuffle=False))
    assert len(streamed) == 50
    for i, (image, caption) in enumerate(streamed):  # same order, same bytes: identical decoding
        assert caption == folder.caption(i) and torch.equal(image, folder[i][0])


def test_pack_records_the_source_name(good, tmp_path) -> None:
    shards = pack_shards(good, tmp_path / "out", shard_size=100)
    with tarfile.open(shards[0]) as t:
        record = json.loads(t.extractfile("000000004.json").read())
    assert record == {"file_name": "sub/img004.png", "caption": CaptionedImageFolder(good, resolution=8).caption(4)}


def test_pack_leaves_out_bad_samples_unless_told_not_to_verify(tmp_path) -> None:
    root = tmp_path / "images"
    write_folder(root, 6)
    write_bad_samples(root)
    log = BadSampleLog(log=False)
    shards = pack_shards(root, tmp_path / "verified", log=log)
    assert log.counts() == EXPECTED_BAD
    assert len(list(CaptionedShards(shards, resolution=8))) == 6 + 5
    unverified = pack_shards(root, tmp_path / "raw", verify=False, log=BadSampleLog(log=False))
    stream = CaptionedShards(unverified, resolution=8)
    assert len(list(stream)) == 6 + 5
    assert stream.bad.counts() == {"corrupt_image": 2, "empty_file": 1}


def test_pack_can_resize_and_reencode(good, tmp_path) -> None:
    shards = pack_shards(zip_folder(good, tmp_path / "a.zip"), tmp_path / "out", resolution=24, image_format="png")
    with tarfile.open(shards[0]) as t:
        assert all(n.endswith((".png", ".txt", ".json")) for n in t.getnames())
    images = [x for x, _ in CaptionedShards(shards, resolution=24, shuffle=False)]
    reference = [CaptionedImageFolder(good, resolution=24)[i][0] for i in range(50)]
    assert all(torch.equal(a, b) for a, b in zip(images, reference))


def test_pack_refuses_a_folder_that_already_holds_shards(good, tmp_path) -> None:
    pack_shards(good, tmp_path / "out", shard_size=100)
    with pytest.raises(ValueError, match="already holds .tar files"):
        pack_shards(good, tmp_path / "out")


def test_command_line_packs_and_reports(good, tmp_path) -> None:
    out = tmp_path / "shards"
    r = subprocess.run([sys.executable, "-m", "ganblocks.data.pack", str(good), str(out), "--shard-size", "20"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"wrote 3 shards: {out}/{{000000..000002}}.tar"
    assert r.stderr == ""
    assert len(list(CaptionedShards(f"{out}/{{000000..000002}}.tar", resolution=8))) == 50


@pytest.mark.parametrize("args,needle", [
    (["/nonexistent/images", "OUT"], "/nonexistent/images"),
    (["SRC", "OUT", "--shard-size", "0"], "--shard-size"),
])
def test_command_line_errors_are_one_line(tmp_path, args, needle) -> None:
    args = [a.replace("OUT", str(tmp_path / "o")).replace("SRC", str(tmp_path)) for a in args]
    r = subprocess.run([sys.executable, "-m", "ganblocks.data.pack", *args], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], lines


def test_nothing_to_pack_leaves_no_output_folder_behind(tmp_path) -> None:
    root = tmp_path / "images"
    root.mkdir()
    (root / "a.png").write_bytes(b"not an image")
    (root / "metadata.jsonl").write_text(json.dumps({"file_name": "a.png", "text": "a red circle"}) + "\n")
    with pytest.raises(ValueError, match="no usable samples"):
        pack_shards(root, tmp_path / "new" / "out", log=BadSampleLog(log=False))
    assert not (tmp_path / "new" / "out").exists()
    (tmp_path / "kept").mkdir()
    with pytest.raises(ValueError, match="no usable samples"):
        pack_shards(root, tmp_path / "kept", log=BadSampleLog(log=False))
    assert (tmp_path / "kept").is_dir()  # a folder that was there stays
