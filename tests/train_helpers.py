"""Shared by the trainer tests (tests/test_train_*.py): a tiny config, runners, checkpoint reads."""

import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "stylegan_t"

# 32 px, 32 channels, batch 8 = 2 x 4 (one local batch-norm group per device), random tiny
# backbones (no CLIP pretraining), a checkpoint every step, no evaluation, stage 2 on the last fifth
# of the steps (a 4-step run switches after step 3).
TINY = [
    "--resolution", "32", "--channel-base", "2048", "--channel-max", "32", "--z-dim", "8",
    "--batch", "8", "--batch-per-device", "4", "--d-virtual-batch", "4", "--d-cmap-dim", "16",
    "--clip-weights", "none", "--dino-model", "tiny", "--eval-every", "0", "--sample-every", "0",
    "--log-every", "1", "--eval-samples", "8", "--checkpoint-every", "1", "--keep-checkpoints", "2",
    "--blur-sigma", "2", "--blur-fade-kimg", "0.05", "--no-final-eval", "--stage2-fraction", "0.2",
]
NETWORKS = ("G", "G_ema", "D")
OPTIMIZERS = ("optim-G", "optim-text", "optim-D")


def train_here(*args: str) -> dict:
    """Run the trainer in this process with the tiny config (lets a test patch its parts)."""
    import train as train_module

    return train_module.main([*TINY, *args])


def env() -> dict[str, str]:
    """One thread per process (results do not depend on the thread count), offline."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def command(*args: str, processes: int = 1) -> list[str]:
    script = str(EXAMPLE / "train.py")
    if processes == 1:
        return [sys.executable, script, *TINY, *args]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
            "--monitor-interval=0.2", script, *TINY, *args]


def run(*args: str, processes: int = 1, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the trainer in fresh processes; raises with its output if it fails."""
    r = subprocess.run(command(*args, processes=processes), env=env(), capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"train.py exited {r.returncode}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def start(*args: str, processes: int = 1, log: Path | None = None) -> subprocess.Popen:
    """Start the trainer in the background, its output going to ``log`` (default: discarded)."""
    out = open(log, "w") if log is not None else subprocess.DEVNULL
    return subprocess.Popen(command(*args, processes=processes), env=env(), stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for(condition, timeout: float, proc: subprocess.Popen | None = None, poll: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the trainer exited ({proc.returncode}) before the condition held")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s")
        time.sleep(poll)


def latest(run_dir: Path) -> Path:
    from ganblocks.training import find_checkpoint

    return find_checkpoint(run_dir)


def tensors(folder: Path, names: tuple[str, ...] = NETWORKS + OPTIMIZERS) -> dict[str, torch.Tensor]:
    """Every tensor of the named files of a checkpoint folder, keyed ``file/tensor``."""
    out = {}
    for name in names:
        out.update({f"{name}/{k}": v for k, v in load_file(folder / f"{name}.safetensors").items()})
    return out


def differing(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> list[str]:
    assert a.keys() == b.keys(), sorted(set(a) ^ set(b))[:5]
    return [k for k in a if not torch.equal(a[k], b[k])]


def verify_all(run_dir: Path) -> list[int]:
    """Validate every checkpoint of a run completely (sizes, hashes, JSON); their steps."""
    from ganblocks.training import load_checkpoint
    from ganblocks.training._layout import step_dirs

    steps = []
    for folder in step_dirs(run_dir / "checkpoints"):
        meta = load_checkpoint(folder, modules={}, optimizers={}, restore_rng=False)
        steps.append(meta["step"])
    return steps
