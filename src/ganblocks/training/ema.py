"""Exponential moving average of a network's weights (StyleGAN-T's generator EMA).

The averaged generator is what gets evaluated and shipped. Its decay is set by a half-life in
images, so it does not change with the batch size, and a ramp-up keeps the average from being
dominated by the random initial weights early in training.
"""

import copy
from collections.abc import Mapping

import torch
from torch import nn

from .._typing import Tensor

__all__ = ["EMA", "ema_beta", "update_ema"]


def ema_beta(
    batch_size: int,
    *,
    ema_kimg: float | None = None,
    images_seen: int,
    rampup: float | None = 0.05,
) -> float:
    r"""Per-step EMA decay for a half-life given in thousands of images.

    With half-life $n$ images and batch $B$, the weight kept per step is

    $$\beta = 0.5^{B / \max(n, 10^{-8})}, \qquad n = 1000 \cdot \text{ema\_kimg},$$

    so after $n$ images the initial weights count half. The default half-life is
    $\text{ema\_kimg} = 10 B / 32$, which gives $\beta = 0.5^{32/10000} \approx 0.99778$ whatever
    the batch. With a ramp-up $r$, $n \leftarrow \min(n, r \cdot \text{images\_seen})$: the
    half-life grows with training, and at the very start ($\text{images\_seen} = 0$) $\beta = 0$,
    so the average starts as a copy of the network.

    Args:
        batch_size: Images per optimisation step (the total batch, over devices and
            accumulation steps).
        ema_kimg: Half-life in thousands of images; ``None`` for $10 B / 32$.
        images_seen: Images the network has been trained on before this step.
        rampup: Ramp-up ratio $r$; ``None`` for no ramp-up.

    Returns:
        $\beta \in [0, 1)$: the weight of the old average in the update.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if images_seen < 0:
        raise ValueError(f"images_seen must be non-negative, got {images_seen}")
    if ema_kimg is not None and not ema_kimg >= 0:
        raise ValueError(f"ema_kimg must be non-negative or None, got {ema_kimg}")
    if rampup is not None and not rampup > 0:
        raise ValueError(f"rampup must be positive or None, got {rampup}")
    kimg = batch_size * 10 / 32 if ema_kimg is None else ema_kimg
    ema_nimg = kimg * 1000
    if rampup is not None:
        ema_nimg = min(ema_nimg, rampup * images_seen)
    return float(0.5 ** (batch_size / max(ema_nimg, 1e-8)))


@torch.no_grad()
def update_ema(ema_module: nn.Module, module: nn.Module, beta: float) -> None:
    r"""Move ``ema_module``'s parameters towards ``module``'s and copy its buffers.

    For every parameter, $\theta_\text{ema} \leftarrow \beta\,\theta_\text{ema} + (1 - \beta)\,
    \theta$ (a ``lerp``; $\beta = 0$ copies exactly, $\beta = 1$ leaves the average unchanged).
    Buffers (running statistics such as the generator's $\bar{w}$) are copied, not averaged.
    Frozen parameters are averaged like the others.

    Args:
        ema_module: The averaged copy, updated in place.
        module: The network being trained; same architecture (same parameter and buffer names
            and shapes).
        beta: Weight of the old average, in $[0, 1]$.
    """
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be in [0, 1], got {beta}")
    params = _matching(
        dict(ema_module.named_parameters()), dict(module.named_parameters()), "parameter"
    )
    buffers = _matching(dict(ema_module.named_buffers()), dict(module.named_buffers()), "buffer")
    # one multi-tensor lerp per (device, dtype) group: the same per-element arithmetic as a lerp
    # per parameter, with one dispatch instead of one per tensor
    groups: dict[tuple[torch.device, torch.dtype], tuple[list[Tensor], list[Tensor]]] = {}
    for ema_p, p in params:
        ema_list, live_list = groups.setdefault((ema_p.device, ema_p.dtype), ([], []))
        ema_list.append(ema_p.data)
        live_list.append(p.detach().to(device=ema_p.device, dtype=ema_p.dtype))
    for ema_list, live_list in groups.values():
        torch._foreach_lerp_(ema_list, live_list, 1.0 - beta)
    for ema_b, b in buffers:
        ema_b.copy_(b.detach())


def _matching(
    ema: dict[str, Tensor], live: dict[str, Tensor], kind: str
) -> list[tuple[Tensor, Tensor]]:
    if set(ema) != set(live):
        missing, extra = sorted(set(live) - set(ema)), sorted(set(ema) - set(live))
        raise ValueError(
            f"EMA and module differ in {kind}s: only in module {missing[:5]}, "
            f"only in EMA {extra[:5]}; build the EMA from the same architecture"
        )
    for name, t in live.items():
        if ema[name].shape != t.shape:
            raise ValueError(
                f"EMA {kind} {name!r} has shape {list(ema[name].shape)}, "
                f"module has {list(t.shape)}"
            )
    return [(ema[name], live[name]) for name in live]


class EMA:
    """A frozen, eval-mode copy of a network that tracks its weights' moving average.

    Holds the hyperparameters of [`ema_beta`][ganblocks.training.ema.ema_beta]; each
    [`update`][ganblocks.training.ema.EMA.update] computes $\\beta$ from the batch size and the
    images seen and calls [`update_ema`][ganblocks.training.ema.update_ema]. Save the averaged
    network like any other (``modules={"G_ema": ema.module}`` in
    [`save_checkpoint`][ganblocks.training.checkpoint.save_checkpoint]); its state dict has the
    same keys as the network's, so it loads into a plain network for inference.

    Args:
        module: The network to average; it is deep-copied, the original is not changed.
        ema_kimg: Half-life in thousands of images; ``None`` for $10 B / 32$.
        rampup: Ramp-up ratio; ``None`` for none.
    """

    def __init__(
        self, module: nn.Module, *, ema_kimg: float | None = None, rampup: float | None = 0.05
    ) -> None:
        ema_beta(1, ema_kimg=ema_kimg, images_seen=0, rampup=rampup)  # validate early
        self.module = copy.deepcopy(module).eval().requires_grad_(False)
        self.ema_kimg = ema_kimg
        self.rampup = rampup

    def update(self, module: nn.Module, *, batch_size: int, images_seen: int) -> float:
        """Average one optimisation step of ``module`` in.

        Args:
            module: The network being trained.
            batch_size: Images in the step.
            images_seen: Images trained on before the step.

        Returns:
            The $\\beta$ used.
        """
        beta = ema_beta(
            batch_size, ema_kimg=self.ema_kimg, images_seen=images_seen, rampup=self.rampup
        )
        update_ema(self.module, module, beta)
        return beta

    def state_dict(self) -> dict[str, Tensor]:
        """The averaged network's state dict (same keys as the trained network's)."""
        return self.module.state_dict()

    def load_state_dict(self, state_dict: Mapping[str, Tensor], strict: bool = True) -> None:
        """Load averaged weights saved by [`state_dict`][ganblocks.training.ema.EMA.state_dict].

        Args:
            state_dict: The tensors.
            strict: As in ``nn.Module.load_state_dict``.
        """
        self.module.load_state_dict(state_dict, strict=strict)
