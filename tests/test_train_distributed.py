"""The trainer under torchrun: N processes equal one process with N accumulation rounds; a lost
rank fails the whole job in bounded time; the per-step pieces that make ranks agree."""

import json
import os
import signal
import time
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from train_helpers import differing, latest, run, start, tensors, verify_all, wait_for


@pytest.mark.slow
def test_two_processes_equal_one_process_with_accumulation(tmp_path: Path) -> None:
    """--batch 8: 2 processes x 4 images against 1 process x 4 images x 2 accumulation rounds.

    Also the two ways of getting the fakes: with one round (here, each process) the generator's
    forward pass is computed once and kept for the G step, with two it is recomputed."""
    steps = ["--steps", "3"]  # the third step is stage 2 (text encoder): both stages are compared
    one = run(*steps, "--out", str(tmp_path / "one"))
    two = run(*steps, "--out", str(tmp_path / "two"), processes=2)
    assert "batch 8 = 1 x 4 x 2" in one.stdout and "batch 8 = 2 x 4 x 1" in two.stdout
    a, b = tensors(latest(tmp_path / "one")), tensors(latest(tmp_path / "two"))
    # On the CPU the two runs agree bitwise today (every sum has two terms and every scale is a
    # power of two); the contract is float tolerance, which other kernels or devices may need.
    close = [k for k in differing(a, b) if not torch.allclose(a[k], b[k], rtol=1e-5, atol=1e-6)]
    assert not close, f"{len(close)} tensors differ beyond float tolerance, e.g. {close[:4]}"
    # Only rank 0 writes: one log line per step, one summary, the losses of the global batch.
    logs = [[json.loads(x) for x in (tmp_path / run_name / "metrics.jsonl").read_text().splitlines()]
            for run_name in ("one", "two")]
    assert [x["step"] for x in logs[1]] == [1, 2, 3]
    for x, y in zip(*logs):
        for key in ("loss_d_real", "loss_d_fake", "loss_g", "loss_clip"):
            assert x[key] == pytest.approx(y[key], rel=1e-5), key
    assert two.stdout.count("== StyleGAN-T run finished ==") == 1


def worker_pids(launcher: int) -> dict[int, int]:
    """RANK -> pid of the workers torchrun started."""
    children = Path(f"/proc/{launcher}/task/{launcher}/children").read_text().split()
    ranks = {}
    for pid in map(int, children):
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        rank = next((int(v.split(b"=", 1)[1]) for v in environ if v.startswith(b"RANK=")), None)
        if rank is not None:
            ranks[rank] = pid
    return ranks


@pytest.mark.slow
@pytest.mark.skipif(not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(),
                    reason="finds torchrun's workers through /proc/PID/task/PID/children (Linux)")
def test_killing_one_rank_fails_the_job_in_bounded_time(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = start("--steps", "100000", "--out", str(out), "--dist-timeout", "1", processes=2, log=tmp_path / "log")
    try:
        wait_for(lambda: (out / "checkpoints" / "latest").exists(), timeout=240, proc=proc)
        wait_for(lambda: len(worker_pids(proc.pid)) == 2, timeout=30, proc=proc)
        os.kill(worker_pids(proc.pid)[1], signal.SIGKILL)
        killed = time.monotonic()
        code = proc.wait(timeout=120)  # torchrun stops the other rank (SIGTERM, then SIGKILL after 30 s)
        assert code != 0
        assert time.monotonic() - killed < 90
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    steps = verify_all(out)
    assert steps and latest(out).name == f"step-{max(steps):09d}"


# ------------------------------------------------------------------ pieces that make ranks agree


def test_agree_and_dist_in_one_process() -> None:
    from runtime import Dist, agree

    assert agree([1, 2.5, True], Dist(), torch.device("cpu"), op="max") == [1.0, 2.5, 1.0]
    assert Dist().main and not Dist(rank=1, world=2).main


def test_inconsistent_rank_variables_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from runtime import setup_distributed

    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="RANK=2"):
        setup_distributed("cpu", timeout_minutes=1)
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match="WORLD_SIZE"):
        setup_distributed("cpu", timeout_minutes=1)


def heads(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(spectral_norm(nn.Conv1d(6, 5, 3)), nn.LeakyReLU(0.2), spectral_norm(nn.Linear(4, 3)))


def buffers(m: nn.Module) -> list[torch.Tensor]:
    return [b.clone() for b in m.buffers()]


@pytest.mark.parametrize("calls", [1, 3])
def test_spectral_norm_iterates_once_per_step_however_often_it_is_called(calls: int) -> None:
    from runtime import SpectralNormSteps

    reference, net = heads(0), heads(0)
    once, steps = SpectralNormSteps(reference), SpectralNormSteps(net)
    assert len(steps.norms) == 2
    x = torch.randn(2, 6, 6)
    for _ in range(2):
        once.step()
        reference[0](x)
        steps.step()
        for _ in range(calls):
            before = buffers(net)
            y = net[0](x)
            assert all(torch.equal(p, q) for p, q in zip(before, buffers(net)))  # calls do not iterate
        assert torch.equal(y, reference[0](x))
    assert all(torch.equal(p, q) for p, q in zip(buffers(reference), buffers(net)))
    plain = heads(0)  # torch's own behaviour: every training-mode call iterates
    plain[0](x)
    assert not all(torch.equal(p, q) for p, q in zip(buffers(plain), buffers(heads(0))))


def test_seed_slot_draws_depend_on_step_slot_phase_and_restores() -> None:
    from step import seed_slot

    def draw(*key: int) -> torch.Tensor:
        seed_slot(0, *key)
        return torch.randn(4)

    assert torch.equal(draw(3, 1, 0, 0), draw(3, 1, 0, 0))
    base = draw(3, 1, 0, 0)
    for other in [(4, 1, 0, 0), (3, 0, 0, 0), (3, 1, 1, 0), (3, 1, 0, 1)]:
        assert not torch.equal(base, draw(*other)), other
