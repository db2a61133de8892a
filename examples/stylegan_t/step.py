"""One StyleGAN-T training iteration: a discriminator step, then a generator step.

Both steps see the same fakes, ``G(z)`` with ``z`` drawn from the generator step's seed. With one
accumulation round the generator's forward pass runs once, with gradients, before the D step:
the D step trains on the detached fakes and the G step back-propagates through the kept graph,
so an iteration needs one generator forward instead of two. With several rounds the D step
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

import ganblocks
from config import Config
from data import BatchSource
from runtime import Dist, agree


@dataclasses.dataclass
class Batch:
    """One accumulation round's inputs, shared by the D and the G step.

    The fakes take the captions of the reals, except with the diversity term on: then the last
    ``pairs`` fakes repeat the captions of the first ``pairs`` (``rows`` says whose caption each
    fake takes), so that each such pair shares a caption and differs only in its latent."""

    slot: int
    reals: Tensor
    captions: list[str]
    c: Tensor  # the frozen CLIP's text embedding of the reals' captions (the critics' condition)
    c_g: ganblocks.TextEncoding  # the generator's text encoding of the fakes' captions
    c_fake: Tensor  # the critics' condition of the fakes
    fake_captions: list[str]
    rows: Tensor | None = None  # the real whose caption each fake takes (None: its own)
    pairs: int = 0  # fakes[:pairs] and fakes[-pairs:] share their captions
    fakes: Tensor | None = None  # the generator's output with its graph, when computed once per iteration


def paired_rows(n: int) -> tuple[list[int], int]:
    """Rows of a batch of ``n`` whose captions ``n`` fakes take so that ``n // 2`` pairs share
    one: ``[0, 1, ..., n - p - 1, 0, 1, ..., p - 1]`` with ``p = n // 2``."""
    pairs = n // 2
    return list(range(n - pairs)) + list(range(pairs)), pairs


def make_batch(slot: int, reals: Tensor, captions: list[str], c: Tensor, c_g: ganblocks.TextEncoding, *,
               paired: bool) -> Batch:
    """A round's batch; ``paired``: the fakes' captions come in pairs (see ``Batch``)."""
    if not paired:
        return Batch(slot, reals, captions, c, c_g, c_fake=c, fake_captions=captions)
    rows, pairs = paired_rows(len(captions))
    index = torch.tensor(rows, device=c.device)
    return Batch(slot, reals, captions, c, ganblocks.TextEncoding(*(t[index] for t in c_g)), c_fake=c[index],
                 fake_captions=[captions[i] for i in rows], rows=index, pairs=pairs)


class DiscriminatorLoss(nn.Module):
    """Hinge loss of D on one real and one fake batch (separate D calls, as in StyleGAN-T).

    With a pixel-space critic ``P``, its hinge losses on the unblurred images are added with
    weight ``pixel_weight``. Wrapped in DDP as one module, so every critic call happens inside a
    single DDP forward.
    """

    def __init__(self, D: nn.Module, P: nn.Module | None = None, pixel_weight: float = 0.0) -> None:
        super().__init__()
        self.D, self.P, self.pixel_weight = D, P, pixel_weight

    def forward(self, reals: Tensor, fakes: Tensor, c: Tensor, sigma: float,
                c_wrong: Tensor | None = None, *, c_fake: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Losses [real, fake, mismatch]; ``c_fake`` is the fakes' condition (default: ``c``)."""
        c_fake = c if c_fake is None else c_fake
        blurred = ganblocks.gaussian_blur(reals, sigma)
        real_loss = ganblocks.hinge_d_loss_real(self.D(blurred, c).float())
        fake_loss = ganblocks.hinge_d_loss_fake(self.D(ganblocks.gaussian_blur(fakes, sigma), c_fake).float())
        if self.P is not None:
            real_loss = real_loss + self.pixel_weight * ganblocks.hinge_d_loss_real(self.P(reals, c).float())
            fake_loss = fake_loss + self.pixel_weight * ganblocks.hinge_d_loss_fake(self.P(fakes, c_fake).float())
        mismatch = torch.zeros((), device=reals.device)
        if c_wrong is not None:  # matching-aware: a real image under a wrong caption is fake
            mismatch = ganblocks.hinge_d_loss_fake(self.D(blurred, c_wrong).float())
        return real_loss, fake_loss, mismatch


def recon_weight(cfg: Config, images_seen: int) -> float:
    """Weight of the stage-1 reconstruction term: ``g_recon_weight``, fading linearly to 0 at
    ``g_recon_fade_kimg`` (the same linear fade as the discriminator's blur width)."""
    return ganblocks.blur_sigma(images_seen, sigma_start=cfg.g_recon_weight, fade_kimg=cfg.g_recon_fade_kimg)


def set_trainable(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


def grads_finite(params: list[nn.Parameter]) -> bool:
    grads = [p.grad for p in params if p.grad is not None]
    return not grads or bool(torch.isfinite(torch.stack([g.float().norm() for g in grads])).all())


def seed_slot(seed: int, step: int, slot: int, phase: int, restores: int) -> None:
    """Seed the global RNGs for one slot of one step (phase 0: the D step's critics, 1: the
    generator's latents and noise, 2: the G step's critics and guidance).

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
    P: nn.Module | None = None  # the pixel-space critic beside D, if any

    def critic_parameters(self) -> list[nn.Parameter]:
        """The trainable parameters of D and of the pixel-space critic."""
        critics = [self.D] if self.P is None else [self.D, self.P]
        return [p for net in critics for p in net.parameters() if p.requires_grad]

    def _critics_trainable(self, flag: bool) -> None:
        set_trainable(self.D.heads, flag)
        if self.P is not None:
            set_trainable(self.P, flag)

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

    def keeps_fakes(self) -> bool:
        """Whether the D step keeps the generator's output with its graph for the G step (one
        accumulation round) instead of the G step recomputing it."""
        return self.accum == 1

    def _fakes(self, g_step: nn.Module, batch: Batch, *, step: int, restores: int, text_encoder: bool) -> Tensor:
        """``G(z)`` for one round, ``z`` and noise drawn from the round's generator seed (in the
        autocast precision; with gradients unless called under ``torch.no_grad``)."""
        seed_slot(self.cfg.seed, step, batch.slot, 1, restores)
        z = torch.randn(batch.reals.shape[0], self.cfg.z_dim, device=self.device)
        update_avg = batch.slot == 0 and torch.is_grad_enabled()  # the mapping's running mean follows slot 0
        with self.autocast():
            if text_encoder:
                return g_step(z, None, prompts=batch.fake_captions, update_avg=update_avg)
            return g_step(z, batch.c_g, update_avg=update_avg)

    def discriminator(self, d_loss: nn.Module, opt: torch.optim.Optimizer, g_step: nn.Module, *, step: int,
                      sigma: float, restores: int, text_encoder: bool) -> tuple[list[float], list[Batch], str]:
        """The D step over every accumulation round: losses [real, fake, mismatch], batches, outcome.

        With one round the batch keeps the generator's output with its graph for the G step."""
        cfg, source = self.cfg, self.source
        opt.zero_grad(set_to_none=True)
        self._critics_trainable(True)
        stats, batches = [0.0, 0.0, 0.0], []
        share = self.keeps_fakes()
        for r in range(self.accum):
            slot = r * self.dist.world + self.dist.rank
            reals, captions = source.batch(step, r)
            reals = reals.to(self.device, non_blocking=True).float() / 127.5 - 1.0
            with torch.no_grad():
                c = self.clip.encode_text(captions)
                c_g = self.G.encode(captions)  # pooled embedding, word tokens and mask
                c_wrong = self.clip.encode_text(source.wrong_captions(captions, step, slot)) if cfg.d_mismatch_weight > 0 else None
            batch = make_batch(slot, reals, captions, c, c_g, paired=cfg.g_diversity_weight > 0)
            if share:  # one round: G's gradients sync in the G step's backward pass, as without sharing
                batch.fakes = self._fakes(g_step, batch, step=step, restores=restores, text_encoder=text_encoder)
                fakes = batch.fakes.detach()
            else:
                with torch.no_grad():
                    fakes = self._fakes(self.G, batch, step=step, restores=restores, text_encoder=False)
            batches.append(batch)
            seed_slot(cfg.seed, step, slot, 0, restores)
            with self._sync(d_loss, r):
                with self.autocast():
                    real_loss, fake_loss, mismatch = d_loss(reals, fakes.float(), c, sigma, c_wrong,
                                                            c_fake=batch.c_fake)
                self._backward((real_loss + fake_loss + cfg.d_mismatch_weight * mismatch) / self.accum)
            for i, value in enumerate((real_loss, fake_loss, mismatch)):
                stats[i] += value.item() / self.accum
        stats, loss_ok = self._mean_over_ranks(stats)
        return stats, batches, self._apply(opt, self.critic_parameters(), loss_ok)

    def generator(self, g_step: nn.Module, opt: torch.optim.Optimizer, trained: list[nn.Parameter],
                  batches: list[Batch], *, step: int, sigma: float, restores: int, clip_weight: float,
                  text_encoder: bool, recon_weight: float = 0.0) -> tuple[list[float], str]:
        """The G step on the D step's batches and fakes (kept or recomputed; stage 2: through the
        text encoder): losses [G, CLIP, reconstruction, diversity], outcome. The reconstruction term
        (``recon_weight > 0``) is the mean squared pixel error between each fake and the real
        image of its caption; the diversity term (``g_diversity_weight > 0``) is the mode-seeking
        loss of the fakes that share a caption."""
        opt.zero_grad(set_to_none=True)
        self._critics_trainable(False)
        stats = [0.0, 0.0, 0.0, 0.0]
        for r, batch in enumerate(batches):
            with self._sync(g_step, r):
                fakes = batch.fakes
                if fakes is None:
                    fakes = self._fakes(g_step, batch, step=step, restores=restores, text_encoder=text_encoder)
                batch.fakes = None  # the graph is freed with the backward pass
                seed_slot(self.cfg.seed, step, batch.slot, 2, restores)
                c = batch.c_fake
                with self.autocast():
                    loss_g = ganblocks.hinge_g_loss(self.D(ganblocks.gaussian_blur(fakes, sigma), c).float())
                    if self.P is not None:
                        loss_g = loss_g + self.cfg.d_pixel_weight * ganblocks.hinge_g_loss(self.P(fakes, c).float())
                    # the CLIP image tower runs in the autocast precision, its distance in fp32
                    loss_clip = (self.guidance(fakes, c) if clip_weight > 0
                                 else torch.zeros((), device=self.device))
                zero = torch.zeros((), device=self.device)
                loss_rec = zero
                if recon_weight > 0:  # against the real image of each fake's caption
                    reals = batch.reals if batch.rows is None else batch.reals[batch.rows]
                    loss_rec = (fakes.float() - reals).square().mean()
                loss_div = (ganblocks.diversity_loss(fakes[:batch.pairs], fakes[-batch.pairs:],
                                                     sigma=self.cfg.g_diversity_sigma)
                            if batch.pairs > 0 else zero)
                total = (loss_g + clip_weight * loss_clip + recon_weight * loss_rec
                         + self.cfg.g_diversity_weight * loss_div)
                self._backward(total / self.accum)
            for i, value in enumerate((loss_g, loss_clip, loss_rec, loss_div)):
                stats[i] += value.item() / self.accum
        stats, loss_ok = self._mean_over_ranks(stats)
        outcome = self._apply(opt, trained, loss_ok)
        if self.scaler is not None:
            self.scaler.update()
        return stats, outcome
