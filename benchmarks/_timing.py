"""Timing helpers shared by the benchmark scripts."""

import time
from collections.abc import Callable

import torch


def device_clock(device: torch.device) -> Callable[[], float]:
    """A ``perf_counter`` that first waits for queued CUDA work, so intervals are real."""

    def now() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter()

    return now
