"""One StyleGAN-T training iteration: a discriminator step, then a generator step.

Both steps see the same fakes, ``G(z)`` with ``z`` drawn from the generator step's seed. With one
accumulation round the generator's forward pass runs once, with gradients, before the D step:
the D step trains on the detached fakes and the G step back-propagates through the kept graph,
so an iteration needs one generator forward instead of two.

Each phase of a step runs under a ``torch.profiler.record_function`` label (``PHASES``), so a
profile of training (``benchmarks/bench_train.py --account``) says where a step's time goes. With several rounds the D step
computes the same fakes without gradients and the G step recomputes them (keeping every round's
graph alive would undo what accumulation is for); both ways give the same numbers.

Losses are means over the *global* batch: each device's mean is divided by the accumulation
rounds and DDP averages over devices, so the gradient does not depend on how the batch is split.
Randomness (latents, noise, augmentation, crops) is drawn per *slot* of the global batch,
``slot = round * world + rank``, the same slot the data comes from, seeded from
(seed, step, slot, phase): N devices and N accumulation rounds on one device draw the same
numbers, and a resumed run needs no RNG state.

A step whose loss or gradient is not finite is not applied. With fp16 the gradient scaler skips
overflowing steps itself ("overflow": expected while it finds its scale, not an error).
"""

import dataclasses
import math
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import Tensor, nn
from torch.profiler import record_function

import ganblocks
from config import Config
from data import BatchSource
from runtime import Dist, agree


PHASES = ("data", "text encoding", "G forward", "D on reals", "D on fakes", "D backward", "D optimizer",
          "D on fakes (G step)", "CLIP guidance", "G backward", "G optimizer")
"""The profiler labels of a step's phases, in the order they run (the trainer adds "EMA")."""


@dataclasses.dataclass
class Batch:
    """One accumulation round's inputs, shared by the D and the G step."""

    slot: int
    reals: Tensor
    captions: list[str]
    c: Tensor  # the frozen CLIP's text embedding of the captions (the discriminator's condition)
    c_g: ganblocks.TextEncoding  # the generator's text encoding of the captions
    fakes: Tensor | None = None  # the generator's output with its graph, when computed once per iteration


class DiscriminatorLoss(nn.Module):
    """Hinge losses [real, fake] of D on one real and one fake batch (separate D calls, as in
    StyleGAN-T), both blurred by ``sigma``. A module so that DDP wraps the whole D forward."""

    def __init__(self, D: nn.Module) -> None:
        super().__init__()
        self.D = D

    def forward(self, reals: Tensor, fakes: Tensor, c: Tensor, sigma: float) -> tuple[Tensor, Tensor]:
        with record_function("D on reals"):
            real_loss = ganblocks.hinge_d_loss_real(self.D(ganblocks.gaussian_blur(reals, sigma), c).float())
        with record_function("D on fakes"):
            fake_loss = ganblocks.hinge_d_loss_fake(self.D(ganblocks.gaussian_blur(fakes, sigma), c).float())
        return real_loss, fake_loss


def set_trainable(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


def grads_finite(params: list[nn.Parameter]) -> bool:
    grads = [p.grad for p in params if p.grad is not None]
    return not grads or bool(torch.isfinite(torch.stack([g.float().norm() for g in grads])).all())


def seed_slot(seed: int, step: int, slot: int, phase: int, restores: int) -> None:
    """Seed the global RNGs for one slot of one step (phase 0: the D step's discriminator, 1: the
    generator's latents and noise, 2: the G step's discriminator and guidance).

    ``restores`` (restores of the last checkpoint after non-finite steps) changes every draw of
    the steps replayed after a restore.
    """
    torch.manual_seed(hash((seed, step, slot, phase, restores)) & 0x7FFF_FFFF_FFFF_FFFF)


@dataclasses.dataclass
class Progress:
    """The counters a checkpoint carries besides the weights."""

    step: int = 0
    images_seen: int = 0
    stage: str = "generator"
    restores: int = 0  # restores after non-finite steps so far; part of the seeds after a restore


@dataclasses.dataclass
class TrainStep:
    """The parts an iteration uses; ``discriminator`` then ``generator`` make one training step."""

    cfg: Config
    G: nn.Module
    D: nn.Module
    clip: Any
    guidance: nn.Module
    source: BatchSource
    dist: Dist
    device: torch.device
    accum: int
    autocast: Callable[[], AbstractContextManager[Any]]
    scaler: torch.amp.GradScaler | None
    # the generator's text encoder is the frozen CLIP's text tower, weight for weight, and this
    # stage does not train it: one text pass gives both the D condition and G's encoding
    shares_text_encoder: bool = False

    def share_text_encoder(self, stage: str) -> None:
        """Decide ``shares_text_encoder`` for a stage: only where the generator's text encoder is
        frozen and holds the CLIP text tower's weights (stage 1 until stage 2 tunes it)."""
        mine = dict(self.G.text_encoder.named_parameters())
        clips = dict(self.clip.model.named_parameters())
        self.shares_text_encoder = stage != "text-encoder" and all(
            name in clips and clips[name].shape == p.shape and torch.equal(clips[name].to(p.device), p)
            for name, p in mine.items())

    def keeps_fakes(self) -> bool:
        """Whether the D step keeps the generator's output with its graph for the G step (one
        accumulation round) instead of the G step recomputing it."""
        return self.accum == 1

    def discriminator(self, d_loss: nn.Module, opt: torch.optim.Optimizer, g_step: nn.Module, *, step: int,
                      sigma: float, restores: int, text_encoder: bool) -> tuple[list[float], list[Batch], str]:
        """The D step over every accumulation round: losses [real, fake], the rounds' batches
        (with one round, holding the generator's output with its graph for the G step), outcome."""
        opt.zero_grad(set_to_none=True)
        set_trainable(self.D.heads, True)
        rounds, batches = [], []
        for r in range(self.accum):
            batch = self._batch(step, r)
            if self.keeps_fakes():  # G's gradients then sync in the G step's backward pass
                batch.fakes = self._fakes(g_step, batch, step=step, restores=restores, text_encoder=text_encoder)
                fakes = batch.fakes.detach()
            else:
                with torch.no_grad():
                    fakes = self._fakes(self.G, batch, step=step, restores=restores, text_encoder=False)
            batches.append(batch)
            seed_slot(self.cfg.seed, step, batch.slot, 0, restores)
            with self._sync(d_loss, r):
                with self.autocast():
                    real_loss, fake_loss = d_loss(batch.reals, fakes.float(), batch.c, sigma)
                with record_function("D backward"):
                    self._backward((real_loss + fake_loss) / self.accum)
            rounds.append(torch.stack([real_loss, fake_loss]).detach())
        stats, loss_ok = self._mean_over_ranks(self._round_means(rounds))
        with record_function("D optimizer"):
            return stats, batches, self._apply(opt, [p for p in self.D.parameters() if p.requires_grad], loss_ok)

    def generator(self, g_step: nn.Module, opt: torch.optim.Optimizer, trained: list[nn.Parameter],
                  batches: list[Batch], *, step: int, sigma: float, restores: int, clip_weight: float,
                  text_encoder: bool) -> tuple[list[float], str]:
        """The G step on the D step's batches and fakes (kept or recomputed; stage 2: through the
        text encoder): losses [G, CLIP guidance], outcome."""
        opt.zero_grad(set_to_none=True)
        set_trainable(self.D.heads, False)
        rounds = []
        for r, batch in enumerate(batches):
            with self._sync(g_step, r):
                fakes = batch.fakes
                if fakes is None:
                    fakes = self._fakes(g_step, batch, step=step, restores=restores, text_encoder=text_encoder)
                batch.fakes = None  # the graph is freed with the backward pass
                seed_slot(self.cfg.seed, step, batch.slot, 2, restores)
                with self.autocast():
                    with record_function("D on fakes (G step)"):
                        loss_g = ganblocks.hinge_g_loss(self.D(ganblocks.gaussian_blur(fakes, sigma), batch.c).float())
                    # the CLIP image tower runs in the autocast precision, its distance in fp32
                    with record_function("CLIP guidance"):
                        loss_clip = (self.guidance(fakes, batch.c) if clip_weight > 0
                                     else torch.zeros((), device=self.device))
                with record_function("G backward"):
                    self._backward((loss_g + clip_weight * loss_clip) / self.accum)
            rounds.append(torch.stack([loss_g, loss_clip]).detach())
        stats, loss_ok = self._mean_over_ranks(self._round_means(rounds))
        with record_function("G optimizer"):
            outcome = self._apply(opt, trained, loss_ok)
            if self.scaler is not None:
                self.scaler.update()
        return stats, outcome

    # --- the parts of a step ---
    def _batch(self, step: int, r: int) -> Batch:
        """Round ``r``'s reals in [-1, 1] and their text encodings."""
        slot = r * self.dist.world + self.dist.rank
        with record_function("data"):
            reals, captions = self.source.batch(step, r)
            reals = reals.to(self.device, non_blocking=True).float() / 127.5 - 1.0
        with torch.no_grad(), record_function("text encoding"):
            c_g = self.G.encode(captions)  # pooled embedding, word tokens and mask
            c = c_g.embedding if self.shares_text_encoder else self.clip.encode_text(captions)
        return Batch(slot, reals, captions, c, c_g)

    def _fakes(self, g_step: nn.Module, batch: Batch, *, step: int, restores: int, text_encoder: bool) -> Tensor:
        """``G(z)`` for one round, ``z`` and noise drawn from the round's generator seed (in the
        autocast precision; with gradients unless called under ``torch.no_grad``)."""
        seed_slot(self.cfg.seed, step, batch.slot, 1, restores)
        z = torch.randn(batch.reals.shape[0], self.cfg.generator.z_dim, device=self.device)
        update_avg = batch.slot == 0 and torch.is_grad_enabled()  # the mapping's running mean follows slot 0
        with self.autocast(), record_function("G forward"):
            if text_encoder:
                return g_step(z, None, prompts=batch.captions, update_avg=update_avg)
            return g_step(z, batch.c_g, update_avg=update_avg)

    def _round_means(self, rounds: list[Tensor]) -> list[float]:
        """The losses' means over the accumulation rounds, read from the device once per phase
        (one synchronisation, not one per loss and round)."""
        stats = [0.0] * rounds[0].numel()
        for values in torch.stack(rounds).tolist():
            stats = [s + v / self.accum for s, v in zip(stats, values)]
        return stats

    def _backward(self, loss: Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def _sync(self, wrapped: nn.Module, r: int) -> AbstractContextManager[Any]:
        """DDP gradient all-reduce only in the last accumulation round."""
        return nullcontext() if r == self.accum - 1 or self.dist.world == 1 else wrapped.no_sync()

    def _apply(self, opt: torch.optim.Optimizer, params: list[nn.Parameter], loss_ok: bool) -> str:
        """Step ``opt`` unless a loss or gradient is non-finite: "ok", "bad" or "overflow"."""
        if self.scaler is None:
            if loss_ok and grads_finite(params):
                opt.step()
                return "ok"
            return "bad"
        self.scaler.unscale_(opt)
        grads_ok = grads_finite(params)
        self.scaler.step(opt)  # skips the update when a gradient is non-finite
        return "ok" if grads_ok else "overflow" if loss_ok else "bad"

    def _mean_over_ranks(self, stats: list[float]) -> tuple[list[float], bool]:
        """Losses averaged over the ranks, and whether every rank's were finite."""
        *total, bad = agree([*stats, not math.isfinite(sum(stats))], self.dist, self.device)
        return [t / self.dist.world for t in total], bad == 0
