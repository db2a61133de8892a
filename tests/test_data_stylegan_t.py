"""The StyleGAN-T example trains from an image folder and from its shards, bad samples included."""

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch
from data_samples import write_bad_samples, write_folder, zip_folder

from ganblocks.data import BadSampleLog, pack_shards

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "stylegan_t"
TRAIN = EXAMPLE / "train.py"
TINY = ["--resolution", "32", "--channel-base", "1024", "--channel-max", "32", "--batch", "8",
        "--d-virtual-batch", "4", "--eval-every", "0", "--sample-every", "0", "--eval-samples", "8", "--steps", "2"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("trainer_data")
    folder = base / "images"
    write_folder(folder, 50)
    write_bad_samples(folder)
    shards = pack_shards(folder, base / "shards", shard_size=16, verify=False, log=BadSampleLog(log=False))
    with tarfile.open(shards[1]) as t:  # cut the second shard in the middle of an image
        cut = t.getmember("000000024.json").offset_data - 700
    shards[1].write_bytes(shards[1].read_bytes()[:cut])
    return folder, base / "shards"


def source(data: Path | str, **overrides):
    from config import preset
    from data import create_batch_source

    cfg = preset("shapes", data=str(data), batch=8, resolution=32, **overrides)
    return create_batch_source(cfg, rank=0, world=1, per_device=4, accum=2)


def test_batch_sources_for_folders_zips_and_shards(data, tmp_path) -> None:
    folder, shards = data
    for spec in (folder, zip_folder(folder, tmp_path / "images.zip"), shards, f"{shards}/{{000000..000003}}.tar"):
        src = source(spec)
        images, captions = src.batch(0, 1)
        assert images.dtype == torch.uint8 and images.shape == (4, 3, 32, 32) and len(captions) == 4
    a, b = source(folder), source(folder)
    for step in range(8):  # one pass over the 58 entries
        a.batch(step, 0), a.batch(step, 1)
    assert torch.equal(a.batch(8, 1)[0], b.batch(8, 1)[0])  # a fresh source resumes exactly
    assert a.bad_samples()["missing_caption"] == 2
    assert a.bad_sample_names()["missing_caption"] == ["bad/blank_caption.png", "bad/uncaptioned.png"]


def test_missing_or_unusable_data_is_refused_at_start(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        source(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"000000.tar: no such shard \(and 1 more of 2 shards\)"):
        source(f"{tmp_path}/{{000000..000001}}.tar")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty"):
        source(tmp_path / "empty")


def train(data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, str(TRAIN), "--data", str(data), *TINY, "--out", str(out), *extra],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "steps 2," in r.stdout
    return r


def skipped(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith("skipped data samples:"))


@pytest.mark.slow
def test_trains_from_a_folder_with_bad_samples(data, tmp_path) -> None:
    r = train(data[0], tmp_path / "run")
    line = skipped(r.stdout)
    for reason in ("missing_caption", "missing_image", "bad_metadata"):
        assert f"'{reason}'" in line
    assert "data: skipping bad/uncaptioned.png: missing_caption" in r.stderr
    assert (tmp_path / "run" / "checkpoints" / "latest").is_file()


@pytest.mark.slow
def test_trains_from_shards_with_a_truncated_one(data, tmp_path) -> None:
    r = train(data[1], tmp_path / "run", "--num-workers", "2")
    assert "'truncated_shard': 1" in skipped(r.stdout)  # corrupt images show up once the stream reaches them
    assert "000001.tar: truncated_shard" in r.stderr
