"""A run resumed halfway equals the same run uninterrupted: every logged loss and every tensor."""

import json
from pathlib import Path

import pytest

from train_helpers import differing, latest, tensors
from train_helpers import train_here as train

STEPS = 12  # stage 2 on the last fifth: the resumed half crosses the stage switch


def losses(run: Path) -> dict[int, dict[str, float]]:
    """The logged losses of each step (a later line for a step replaces an earlier one)."""
    out = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "loss_g" in record:
            out[record["step"]] = {k: v for k, v in record.items() if k.startswith("loss_") or k == "stage"}
    return out


@pytest.mark.slow
def test_a_run_resumed_halfway_equals_the_uninterrupted_run(tmp_path: Path) -> None:
    train("--steps", str(STEPS), "--out", str(tmp_path / "full"))
    # the first half has no stage 2 (it would come at four fifths of 6 steps); the resumed run
    # switches where the uninterrupted one does
    train("--steps", str(STEPS // 2), "--stage2-fraction", "0", "--out", str(tmp_path / "half"))
    train("--resume", str(tmp_path / "half"), "--steps", str(STEPS), "--stage2-fraction", "0.2")
    full, half = losses(tmp_path / "full"), losses(tmp_path / "half")
    assert sorted(full) == sorted(half) == list(range(1, STEPS + 1))
    assert full == half
    assert full[STEPS]["stage"] == "text-encoder"
    assert differing(tensors(latest(tmp_path / "full")), tensors(latest(tmp_path / "half"))) == []
