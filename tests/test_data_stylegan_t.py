"""The StyleGAN-T example trains from an image folder and from its shards, bad samples included."""

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from data_samples import write_bad_samples, write_folder

from ganblocks.data import BadSampleLog, pack_shards

TRAIN = Path(__file__).resolve().parents[1] / "examples" / "stylegan_t" / "train.py"
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
    r = train(data[1], tmp_path / "run", "--num-workers", "2", "--d-mismatch-weight", "0.5")
    assert "'truncated_shard': 1" in skipped(r.stdout)  # corrupt images show up once the stream reaches them
    assert "000001.tar: truncated_shard" in r.stderr
