"""What a training process needs besides its networks: processes, precision, signals.

- ``setup_distributed``: one process per device under ``torchrun`` (NCCL on GPUs, gloo on CPUs),
  with a timeout on every collective so that a lost process fails the job instead of hanging it.
- ``agree``: the ranks combine flags and numbers (stop requests, non-finite losses, logged
  losses) so that every decision is the same on every rank.
- ``autocast_for``: bf16/fp16 autocast and the fp16 gradient scaler, with a clear error where the
  device cannot run the precision.
- ``StopSignals``: SIGTERM and SIGINT become a request to write a checkpoint and stop.
- ``SpectralNormSteps``: one power iteration of every spectral norm per training step, on every
  rank alike, instead of one per forward call (which would depend on how the batch is split).
"""

import dataclasses
import os
import signal
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.utils import parametrize

from ganblocks.cli import resolve_device


@dataclasses.dataclass(frozen=True)
class Dist:
    """This process's place in the job (``torchrun`` sets RANK, WORLD_SIZE, LOCAL_RANK)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0 writes checkpoints, logs and samples."""
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, str(default))
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def setup_distributed(device_arg: str, *, timeout_minutes: float) -> tuple[Dist, torch.device]:
    """This process's rank and device; joins the process group when WORLD_SIZE > 1.

    Raises:
        ValueError: A bad device name, a missing CUDA device, or inconsistent rank variables.
    """
    info = Dist(_env_int("RANK", 0), _env_int("WORLD_SIZE", 1), _env_int("LOCAL_RANK", 0))
    if not 0 <= info.rank < info.world:
        raise ValueError(f"RANK={info.rank} is not in [0, WORLD_SIZE={info.world})")
    device = resolve_device(device_arg)
    if device.type == "cuda":
        if device.index is None:
            device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    if info.world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                timeout=timedelta(minutes=timeout_minutes))
    return info, device


def agree(values: Sequence[float], info: Dist, device: torch.device, *, op: str = "sum") -> list[float]:
    """Combine numbers over the ranks (``"sum"`` or ``"max"``); the identity in one process."""
    if info.world == 1:
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM if op == "sum" else dist.ReduceOp.MAX)
    return t.tolist()


def autocast_for(precision: str, device: torch.device) -> tuple[str, Callable[[], AbstractContextManager[Any]], torch.amp.GradScaler | None]:
    """The resolved precision, an autocast context factory and (fp16 only) a gradient scaler.

    ``auto`` is bf16 on GPUs that support it, else fp32. Losses are computed from ``.float()``
    values (the discriminator heads return fp32 logits; the CLIP guidance computes its distance
    from fp32 embeddings with autocast off), so they stay fp32 in every precision.

    Raises:
        ValueError: The device cannot autocast to the precision.
    """
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    if precision == "fp32":
        return precision, nullcontext, None
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    if device.type == "cuda" and dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise ValueError(f"--precision bf16: {torch.cuda.get_device_name(device)} does not support bf16; use fp16 or fp32")
    try:  # a device type without autocast, or without this dtype, fails here and not mid-run
        with torch.autocast(device.type, dtype=dtype):
            probe = torch.ones(2, 2, device=device)
            probe = probe @ probe
        if probe.dtype != dtype:
            raise RuntimeError(f"a matmul under autocast gave {probe.dtype}")
    except (RuntimeError, ValueError, AssertionError) as e:
        raise ValueError(f"--precision {precision} is not supported on {device}: {e}; use fp32") from None
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
    return precision, (lambda: torch.autocast(device.type, dtype=dtype)), scaler


class StopSignals:
    """Within ``with``, SIGTERM and SIGINT set ``received`` instead of killing the process.

    The trainer looks at ``received`` between steps, writes a checkpoint and stops. The previous
    handlers are put back on exit. Outside the main thread (where Python cannot install
    handlers) it does nothing.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.received: signal.Signals | None = None
        self._previous: dict[signal.Signals, Any] = {}

    def _handle(self, signum: int, _frame: Any) -> None:
        self.received = signal.Signals(signum)

    def __enter__(self) -> "StopSignals":
        try:
            for s in self.SIGNALS:
                self._previous[s] = signal.signal(s, self._handle)
        except ValueError:  # not the main thread
            pass
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous.clear()


class SpectralNormSteps:
    r"""Spectral normalisation with one power iteration per training step.

    torch's spectral norm runs a power iteration $u \leftarrow Wv / \lVert Wv \rVert$,
    $v \leftarrow W^\top u / \lVert W^\top u \rVert$ in every training-mode forward call. A step
    calls the discriminator a different number of times depending on how the global batch is
    split over devices and accumulation rounds, so the estimate of $\sigma(W) = u^\top W v$
    would depend on the split. Here forward calls use $u, v$ as they are, and ``step()`` runs
    the iteration once per training step: a function of the weights only, identical on every
    rank and for every split.
    """

    def __init__(self, module: nn.Module) -> None:
        self.norms = []
        for owner in module.modules():
            if parametrize.is_parametrized(owner, "weight"):
                for p in owner.parametrizations.weight:
                    if hasattr(p, "_power_method") and hasattr(p, "_u"):
                        self.norms.append((owner, p))

    @torch.no_grad()
    def step(self) -> None:
        """One power iteration of every spectral norm; forward calls stop iterating."""
        for owner, norm in self.norms:
            norm.train(False)
            weight = owner.parametrizations.weight.original
            norm._power_method(norm._reshape_weight_to_matrix(weight), norm.n_power_iterations)
