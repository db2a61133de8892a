"""The trainer survives faults: SIGKILL at any moment, SIGTERM/SIGINT, a full disk, NaNs.

GANBLOCKS_KILL_TRIALS sets the number of SIGKILL trials (CI: 2; e.g. 20 for a thorough run).
"""

import errno
import json
import math
import os
import random
import signal
import time
from pathlib import Path

import pytest
import torch

import ganblocks
from train_helpers import differing, latest, run, start, tensors, verify_all, wait_for
from train_helpers import train_here as train

STEPS = 6
KILL_TRIALS = int(os.environ.get("GANBLOCKS_KILL_TRIALS", "2"))


# ------------------------------------------------------------------ SIGKILL, then --resume


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, torch.Tensor]:
    """The final weights and optimizer states of an uninterrupted run."""
    out = tmp_path_factory.mktemp("reference") / "run"
    run("--steps", str(STEPS), "--out", str(out))
    return tensors(latest(out))


def tmp_folders(out: Path) -> list[Path]:
    return list((out / "checkpoints").glob(".tmp-step-*")) if (out / "checkpoints").is_dir() else []


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(KILL_TRIALS))
def test_sigkill_at_any_moment_then_resume_equals_an_uninterrupted_run(tmp_path: Path, reference, trial: int) -> None:
    out = tmp_path / "run"
    proc = start("--steps", str(STEPS), "--out", str(out))
    try:
        if trial == 0:  # in the middle of writing a checkpoint
            wait_for(lambda: bool(tmp_folders(out)), timeout=240, proc=proc, poll=0.001)
        else:  # at a random moment after the first checkpoint
            wait_for(lambda: (out / "checkpoints" / "latest").exists(), timeout=240, proc=proc)
            time.sleep(random.Random(trial).uniform(0.0, 2.5))
        proc.kill()
    finally:
        proc.wait()
    if trial == 0:  # the half-written folder is still there, or the save finished just in time
        assert proc.returncode == -signal.SIGKILL
        print(f"killed {'during' if tmp_folders(out) else 'just after'} a checkpoint write")
    steps = verify_all(out)  # every checkpoint left behind loads, hashes and sizes as recorded
    if (out / "checkpoints" / "latest").exists():
        # `latest` names a complete checkpoint, and it loads: the newest, or the one before when
        # the kill came between publishing a step folder and pointing `latest` at it
        from ganblocks.training import load_checkpoint

        assert load_checkpoint(out, modules={}, optimizers={}, restore_rng=False)["step"] >= max(steps, default=0) - 1
        run("--resume", str(out), "--steps", str(STEPS))
    else:  # killed while writing the very first checkpoint: start again
        assert not steps
        run("--steps", str(STEPS), "--out", str(out))
    different = differing(reference, tensors(latest(out)))
    assert not different, f"resumed run differs from the uninterrupted one: {different[:5]}"


# ------------------------------------------------------------------ SIGTERM / SIGINT


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_writes_a_checkpoint_and_exits_with_128_plus_its_number(tmp_path: Path, signum: int) -> None:
    out = tmp_path / "run"
    proc = start("--steps", "100000", "--checkpoint-every", "1000", "--out", str(out), log=tmp_path / "log")
    try:
        wait_for(lambda: (out / "metrics.jsonl").exists() and (out / "metrics.jsonl").read_text().count("\n") >= 2,
                 timeout=240, proc=proc)
        proc.send_signal(signum)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = (tmp_path / "log").read_text()
    assert code == 128 + signum, text[-2000:]
    assert f"received {signal.Signals(signum).name}: writing a checkpoint and stopping" in text
    assert "Traceback" not in text
    assert verify_all(out)
    from ganblocks.training import read_checkpoint_meta

    step = read_checkpoint_meta(out)["step"]
    logged = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert step == max(logged) >= 2  # the checkpoint holds the last step that was logged


# ------------------------------------------------------------------ disk full


def test_a_full_disk_fails_with_one_line_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch, capsys) -> None:
    from ganblocks.training import _files

    write = _files.write_tensors

    def full_at_step_3(path: Path, data: dict) -> None:
        if "step-000000003" in str(path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        write(path, data)

    monkeypatch.setattr(_files, "write_tensors", full_at_step_3)
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as e:
        train("--steps", str(STEPS), "--out", str(out))
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: could not save a checkpoint") and "No space left on device" in err
    assert "step-000000002) is intact" in err
    assert verify_all(out) == [1, 2] and latest(out).name == "step-000000002"
    assert not tmp_folders(out)


# ------------------------------------------------------------------ non-finite losses and gradients


class NaNGradient(torch.autograd.Function):
    """Identity forward, NaN backward: a finite loss with a non-finite gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return torch.full_like(grad, math.nan)


def poison(monkeypatch, steps: set[int], *, kind: str, once: bool) -> None:
    """Make the generator step of the given (0-based) steps non-finite: its loss or its gradient.

    ``once``: only the first time a step runs (a replay after a restore is clean).
    """
    import step as step_module

    state = {"active": False, "done": set()}
    generator = step_module.TrainStep.generator

    def watched(self, *args, step: int, **kwargs):
        state["active"] = step in steps and not (once and step in state["done"])
        try:
            return generator(self, *args, step=step, **kwargs)
        finally:
            if state["active"]:
                state["done"].add(step)
            state["active"] = False

    monkeypatch.setattr(step_module.TrainStep, "generator", watched)
    if kind == "loss":
        hinge = ganblocks.hinge_g_loss
        monkeypatch.setattr(ganblocks, "hinge_g_loss", lambda x: hinge(x) * math.nan if state["active"] else hinge(x))
    else:
        blur = ganblocks.gaussian_blur
        monkeypatch.setattr(ganblocks, "gaussian_blur",
                            lambda x, s: NaNGradient.apply(blur(x, s)) if state["active"] else blur(x, s))


def all_finite(out: Path) -> bool:
    from ganblocks.training._layout import step_dirs

    return all(bool(torch.isfinite(t.float()).all()) for d in step_dirs(out / "checkpoints") for t in tensors(d).values())


def test_non_finite_steps_are_skipped_then_the_last_checkpoint_restored(tmp_path, monkeypatch, capsys) -> None:
    poison(monkeypatch, {2, 3}, kind="loss", once=True)
    out = tmp_path / "run"
    summary = train("--steps", str(STEPS), "--out", str(out), "--checkpoint-every", "2", "--max-bad-steps", "2")
    assert summary["step"] == STEPS and summary["skipped_steps"] == 2 and summary["restores"] == 1
    err = capsys.readouterr().err
    assert "2 consecutive non-finite steps: restored" in err and "step-000000002" in err
    events = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events if e.get("event") == "restore"] == [2]
    assert all_finite(out)


def test_a_non_finite_gradient_skips_the_update(tmp_path, monkeypatch) -> None:
    poison(monkeypatch, {2}, kind="gradient", once=True)
    out = tmp_path / "run"
    summary = train("--steps", "4", "--stage", "generator", "--out", str(out), "--keep-checkpoints", "5")
    assert summary["skipped_steps"] == 1 and summary["restores"] == 0
    checkpoints = out / "checkpoints"
    before, after = (tensors(checkpoints / f"step-{s:09d}", ("G",)) for s in (2, 3))
    trained = [k for k in before if k.startswith("G/synthesis.") and k.endswith("weight")]
    assert all(torch.equal(before[k], after[k]) for k in trained), "the skipped step changed G"
    final = tensors(checkpoints / "step-000000004", ("G",))
    assert any(not torch.equal(after[k], final[k]) for k in trained), "training did not go on"
    assert all_finite(out)


def test_non_finite_steps_that_return_after_restores_end_the_run(tmp_path, monkeypatch, capsys) -> None:
    poison(monkeypatch, {2, 3, 4, 5}, kind="loss", once=False)
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as e:
        train("--steps", str(STEPS), "--out", str(out), "--checkpoint-every", "2", "--max-bad-steps", "2",
              "--max-restores", "1")
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: 2 consecutive non-finite steps, again after 1 restores")
    assert all_finite(out) and verify_all(out)
