"""Train StyleGAN-T: stage 1 (generator + discriminator), stage 2 (text encoder), super-resolution.

    python examples/stylegan_t/train.py                       # ShapesT2I on the CPU, 2970 steps
    python examples/stylegan_t/train.py --steps 6 --out runs/x # a few steps
    python examples/stylegan_t/train.py --resume runs/x --steps 12
    python examples/stylegan_t/train.py --experiment examples/stylegan_t/experiments/affine.py
    python examples/stylegan_t/train.py --stage superres --resume runs/x --resolution 64 --out runs/x64 --steps 500
    python examples/stylegan_t/train.py --preset small --data my_images --check   # set up, then stop
    torchrun --nproc_per_node 8 examples/stylegan_t/train.py --preset small --data shards/

Reads top to bottom: ``main`` builds the run (config, data, networks, optimizers), resumes it,
trains stage after stage, and finishes (final checkpoint, evaluation, summary). The blocks,
losses and checkpoint I/O live in the ganblocks library; this file only wires them together.

Exit codes: 0 finished; 2 a bad argument, unreadable data, a checkpoint that cannot be loaded or
saved, or non-finite steps that a restore did not cure (one line on stderr says which);
128 + the signal number (130 for SIGINT, 143 for SIGTERM) when stopped by a signal, after writing
a checkpoint to resume from.
"""

import argparse
import contextlib
import copy
import dataclasses
import json
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ganblocks  # noqa: E402
from ganblocks.cli import ArgumentParser, fail, user_errors  # noqa: E402
from ganblocks.training import (  # noqa: E402
    CheckpointError, ema_beta, find_checkpoint, load_checkpoint, read_checkpoint_meta,
    save_checkpoint, update_ema,
)
from config import PRESETS, Config, add_config_arguments, config_overrides, load_experiment, preset  # noqa: E402
from data import BatchSource, create_batch_source  # noqa: E402
from evaluate import EMOJI_SUMMARY, evaluate_generator, save_sample_grid  # noqa: E402
from model import build_discriminator, build_generator, count_parameters, create_dino, create_frozen_clip  # noqa: E402
from runtime import Dist, SpectralNormSteps, StopSignals, agree, autocast_for, setup_distributed  # noqa: E402
from step import DiscriminatorLoss, Progress, TrainStep, set_trainable  # noqa: E402
from superres import carry_over, superres_trainable  # noqa: E402

STAGES = ("all", "generator", "text-encoder", "superres")
LOSSES = ("loss_d_real", "loss_d_fake", "loss_g", "loss_clip")  # the logged losses of a step


def build_parser(*, show_all: bool) -> argparse.ArgumentParser:
    """The CLI; without ``show_all`` the help lists the common flags only (all are accepted)."""
    def more(text: str) -> str:
        return text if show_all else argparse.SUPPRESS

    p = ArgumentParser(description=__doc__)
    p.add_argument("--help-all", action="store_true", help="show every flag and exit")
    p.add_argument("--preset", default="shapes", choices=sorted(PRESETS), help="named configuration (default: shapes); "
                   "--experiment and the config flags below override its settings")
    p.add_argument("--experiment", type=Path, default=None, metavar="FILE", help="a Python file of setting "
                   "overrides (experiments/*.py), applied over the preset or the resumed run's config")
    p.add_argument("--out", type=Path, default=None, help="run folder; everything of the run goes there (default: the --resume run folder, else a new folder under runs/)")
    p.add_argument("--resume", type=Path, default=None, help="continue from a run folder or checkpoint folder")
    p.add_argument("--steps", type=int, default=None, help="total steps of the run, counted across resumes and stages; replaces --kimg")
    p.add_argument("--minutes", type=float, default=None, help="wall-clock cap of this invocation in minutes, set-up included (default: none)")
    p.add_argument("--stage", choices=STAGES, default="all", help="all: stage 1 then stage 2; generator: stage 1 only; text-encoder: stage 2 only; superres: grow a trained generator to --resolution (new blocks added, the rest carried over; optimizers start fresh)")
    p.add_argument("--freeze-lower", action="store_true", help=more("superres: train only the new blocks and the toRGB layers (default: everything)"))
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto, a GPU when there is "
                   "one; under torchrun cuda:LOCAL_RANK)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto", help="autocast precision; losses and the CLIP distance stay fp32; fp16 adds a gradient scaler (auto: bf16 on GPUs that support it, else fp32)")
    p.add_argument("--compile", action="store_true", help=more("torch.compile the mapping and synthesis networks and the discriminator heads (needs a C++ compiler on the CPU; the first steps compile, for about a minute; checkpoints and resume are unaffected)"))
    p.add_argument("--compile-backend", default="inductor", help=more("torch.compile backend for --compile (default inductor; aot_eager traces without code generation)"))
    p.add_argument("--channels-last", action="store_true", help=more("keep the synthesis network's conv weights, and so its activations, channels-last (NHWC): faster convolutions on GPUs with bf16/fp16 tensor cores; checkpoints are unaffected"))
    p.add_argument("--dist-timeout", type=float, default=30.0, help=more("minutes a process waits for the others (a lost or hung rank) before the job fails (default 30)"))
    p.add_argument("--no-final-eval", dest="final_eval", action="store_false", help=more("end without the final evaluation (ShapesT2I or EmojiT2I) and sample grid (the final checkpoint is still written)"))
    p.add_argument("--check", action="store_true", help="set everything up (config, networks and their weights, data, "
                   "the checkpoint to resume), then stop without training or writing the run folder")
    add_config_arguments(p, show_all=show_all)
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = build_parser(show_all=False)
    args = p.parse_args(argv)
    if args.help_all:
        build_parser(show_all=True).print_help()
        raise SystemExit(0)
    for name in ("steps", "minutes", "dist_timeout"):
        value = getattr(args, name)
        if value is not None and not value > 0:
            p.error(f"--{name.replace('_', '-')} must be positive, got {value}")
    if args.stage in ("text-encoder", "superres") and args.resume is None:
        p.error(f"--stage {args.stage} continues a trained generator: pass --resume DIR")
    if args.stage in ("text-encoder", "superres") and args.steps is None and args.minutes is None \
            and getattr(args, "cfg_kimg", None) is None:
        p.error(f"--stage {args.stage} starts a new stretch of training: say how long with --steps (total, "
                "counted from the resumed step), --kimg or --minutes")
    if args.freeze_lower and args.stage != "superres" and args.resume is None:
        p.error("--freeze-lower belongs to --stage superres (or the --resume of a superres run)")
    return args


@dataclasses.dataclass
class Run:
    """A training run's state: its settings, networks, optimizers and progress.

    ``enter_stage`` sets the stage's part (what trains, with which optimizer and guidance weight,
    wrapped in DDP when distributed); ``checkpoint`` and ``restore`` save and reload the rest."""

    args: argparse.Namespace
    cfg: Config
    out: Path
    dist: Dist
    device: torch.device
    precision: str
    scaler: torch.amp.GradScaler | None
    source: BatchSource
    G: nn.Module
    G_ema: nn.Module
    D: nn.Module
    optimizers: dict[str, torch.optim.Optimizer]  # "G" (mapping, synthesis), "text", "D"
    it: TrainStep
    spectral: SpectralNormSteps
    start_time: float
    prog: Progress = dataclasses.field(default_factory=Progress)
    superres: dict[str, Any] | None = None  # {"lower_resolution", "freeze_lower"} in the superres stage
    total_steps: int | None = None
    stage1_end: int | None = None  # the step at which `--stage all` switches to stage 2 (None: by time)
    minutes: float | None = None
    start_step: int = 0
    # the current stage's part, set by enter_stage
    g_step: nn.Module | None = None  # G, or G in DDP
    d_loss: nn.Module | None = None  # the discriminator loss, or it in DDP
    g_trained: list[nn.Parameter] = dataclasses.field(default_factory=list)
    opt_gen: torch.optim.Optimizer | None = None
    clip_weight: float = 0.0
    # bookkeeping
    configured: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    saved: tuple[int | None, Path | None] = (None, None)  # (step, path) of this process's last save
    restores_in_a_row: int = 0
    bad_steps: int = 0
    total_bad: int = 0
    overflows: int = 0
    stop: StopSignals | None = None
    log_file: IO[str] | None = None
    bar: Any = None  # the tqdm progress bar (rank 0)

    @property
    def modules(self) -> dict[str, nn.Module]:
        return {"G": self.G, "G_ema": self.G_ema, "D": self.D}

    def minutes_used(self) -> float:
        return (time.perf_counter() - self.start_time) / 60.0

    def log(self, record: dict[str, Any]) -> None:
        if self.log_file is not None:
            with writing(self.out / "metrics.jsonl"):
                self.log_file.write(json.dumps(record) + "\n")
                self.log_file.flush()

    def log_eval(self, name: str, scores: dict[str, Any]) -> None:
        if not scores:  # data without periodic scores (a captioned folder other than EmojiT2I)
            return
        self.log({"step": self.prog.step, "kimg": self.prog.images_seen / 1000, "stage": self.prog.stage,
                  **{f"{name}/{k}": v for k, v in scores.items()}})


# --- build -----------------------------------------------------------------------------------------
def load_config(args: argparse.Namespace) -> Config:
    """The preset's config (or the resumed run's), then the experiment file's and the flags' settings."""
    overrides = config_overrides(args)
    with user_errors():
        if args.experiment is not None:
            overrides = {**load_experiment(args.experiment), **overrides}
    if args.resume is None:
        with user_errors():
            return preset(args.preset, **overrides)
    with user_errors(f"cannot resume from {args.resume}"):
        saved = Config.from_dict(read_checkpoint_meta(args.resume)["config"])
        if args.stage in ("text-encoder", "superres") and "kimg" not in overrides:
            overrides["kimg"] = None  # a new stage's length is given anew (--steps, --kimg, --minutes)
        cfg = saved.override(**overrides)
    if args.stage == "superres" and cfg.resolution <= saved.resolution:
        fail(f"--stage superres needs --resolution above the checkpoint's {saved.resolution}")
    return cfg


def build(args: argparse.Namespace, cfg: Config, start_time: float) -> Run:
    """Processes, data, networks and optimizers of a run, before any checkpoint is loaded."""
    with user_errors():
        distinfo, device = setup_distributed(args.device, timeout_minutes=args.dist_timeout)
        precision, autocast, scaler = autocast_for(args.precision, device)
    world = distinfo.world
    per_device = cfg.batch_per_device or max(cfg.batch // world, 1)
    accum = cfg.batch // (per_device * world)
    if accum * per_device * world != cfg.batch:
        fail(f"--batch {cfg.batch} is not divisible into {world} devices x {per_device} per device")
    with user_errors():  # the data first: a wrong --data fails before the networks are built
        source = create_batch_source(cfg, rank=distinfo.rank, world=world, per_device=per_device, accum=accum)

    torch.manual_seed(cfg.seed)  # the same initial weights on every rank
    if world > 1 and not distinfo.main:
        dist.barrier()  # rank 0 pretrains and caches the tiny CLIP (if needed) alone, first
    with user_errors("cannot build the networks"):  # widths, names, missing or unusable weights
        clip = create_frozen_clip(cfg, device)
        if world > 1 and distinfo.main:
            dist.barrier()
        G = build_generator(cfg, clip).to(device)
        D = build_discriminator(cfg, create_dino(cfg, clip, device), clip.embed_dim).to(device)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    betas = (cfg.adam_beta1, cfg.adam_beta2)
    optimizers = {
        "G": torch.optim.Adam([*G.mapping.parameters(), *G.synthesis.parameters()], lr=cfg.lr_g, betas=betas, eps=1e-8),
        "text": torch.optim.Adam(G.text_encoder.parameters(), lr=cfg.lr_text, betas=betas, eps=1e-8),
        "D": torch.optim.Adam([p for p in D.parameters() if p.requires_grad], lr=cfg.lr_d, betas=betas, eps=1e-8),
    }
    if args.channels_last:  # conv outputs follow their weights' layout; saved tensors are made contiguous
        for net in (G, G_ema):
            net.synthesis.to(memory_format=torch.channels_last)
    if args.compile:  # compiles the forward in place: parameter names (checkpoint keys) unchanged
        # the parts measured faster compiled (docs/results.md): G's mapping and synthesis and D's
        # heads; the frozen feature network and the CLIP image tower gain nothing on the CPU
        for net in (G.mapping, G.synthesis, D.heads):
            net.compile(backend=args.compile_backend)

    out = args.out
    if out is None and args.resume is not None and args.stage != "superres" and (args.resume / "checkpoints").is_dir():
        out = args.resume
    if out is None:
        out = Path("runs") / time.strftime(f"%Y%m%d-%H%M%S-{args.preset}" + ("-superres" if args.stage == "superres" else ""))
    it = TrainStep(cfg, G, D, clip, ganblocks.CLIPGuidanceLoss(clip, crop=cfg.clip_crop), source, distinfo, device,
                   accum, autocast, scaler)
    run = Run(args, cfg, out, distinfo, device, precision, scaler, source, G, G_ema, D, optimizers, it,
              SpectralNormSteps(D), start_time, minutes=args.minutes)
    # Loading an optimizer's state also loads the settings (learning rate, betas) it was saved
    # with; the optimizers as built from this config decide them (a resume with --lr-text 3e-5
    # must train at 3e-5; unchanged flags give the saved values, so a plain resume stays bitwise).
    run.configured = {name: [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
                      for name, opt in optimizers.items()}
    return run


def use_config_hyperparameters(run: Run) -> None:
    for name, opt in run.optimizers.items():
        for group, settings in zip(opt.param_groups, run.configured[name]):
            group.update(settings)


# --- resume ----------------------------------------------------------------------------------------
def resume(run: Run) -> None:
    """Load ``--resume``'s checkpoint (for superres: carry its weights over to the grown networks)."""
    args = run.args
    with user_errors(f"cannot resume from {args.resume}"):
        if args.stage == "superres":
            meta = carry_over(args.resume, run.G, run.G_ema, run.D)
            run.superres = {"lower_resolution": Config.from_dict(meta["config"]).resolution,
                            "freeze_lower": args.freeze_lower}
        else:
            meta = load_checkpoint(args.resume, modules=run.modules, optimizers=run.optimizers,
                                   restore_rng=False, map_location=run.device)
            use_config_hyperparameters(run)
            run.superres = meta.get("superres")
            if run.superres is not None and args.freeze_lower:
                run.superres = {**run.superres, "freeze_lower": True}
            if run.scaler is not None and meta.get("scaler"):
                run.scaler.load_state_dict(meta["scaler"])
    run.prog = Progress(meta["step"], meta["images_seen"], meta.get("stage", "generator"), meta.get("restores", 0))
    if args.stage in ("text-encoder", "superres"):
        run.prog.stage = args.stage


def schedule(cfg: Config, *, steps: int | None, stage: str) -> tuple[int | None, int | None]:
    """The run's length in steps (``steps``, else the config's kimg, else none) and the step at
    which ``--stage all`` switches to stage 2 (None: no switch by steps)."""
    total = steps if steps is not None or cfg.kimg is None else math.ceil(cfg.kimg * 1000 / cfg.batch)
    stage1_end = round(total * (1.0 - cfg.stage2_fraction)) if stage == "all" and total is not None else None
    return total, stage1_end


def plan(run: Run) -> None:
    """Where the run ends and where stage 2 starts."""
    run.total_steps, run.stage1_end = schedule(run.cfg, steps=run.args.steps, stage=run.args.stage)
    run.start_step = run.prog.step


# --- stages ----------------------------------------------------------------------------------------
def enter_stage(run: Run, name: str) -> None:
    """Freeze/unfreeze for a stage; wrap the trained parts in DDP when distributed."""
    G, cfg = run.G, run.cfg
    set_trainable(G, False)
    if name == "text-encoder":
        # Stage 2 tunes the text encoder for the generator that is kept, the EMA one: the
        # frozen mapping and synthesis take G_ema's weights (a no-op once they hold them), so
        # the EMA does not drift from its average towards the last raw weights meanwhile.
        with torch.no_grad():
            G.mapping.load_state_dict(run.G_ema.mapping.state_dict())
            G.synthesis.load_state_dict(run.G_ema.synthesis.state_dict())
        set_trainable(G.text_encoder, True)
        run.g_trained, run.opt_gen, run.clip_weight = list(G.text_encoder.parameters()), run.optimizers["text"], cfg.clip_weight_stage2
    else:
        set_trainable(G.mapping, True)
        set_trainable(G.synthesis, True)
        if name == "superres":
            superres_trainable(G, **run.superres)
        run.g_trained = [p for p in [*G.mapping.parameters(), *G.synthesis.parameters()] if p.requires_grad]
        run.opt_gen, run.clip_weight = run.optimizers["G"], cfg.clip_weight
    set_trainable(run.D.heads, True)  # DDP registers the parameters that require gradients
    run.it.share_text_encoder(name)
    run.g_step, run.d_loss = G, DiscriminatorLoss(run.D)
    if run.dist.world > 1:
        ids = [run.device.index] if run.device.type == "cuda" else None
        run.g_step = DistributedDataParallel(G, device_ids=ids)
        run.d_loss = DistributedDataParallel(run.d_loss, device_ids=ids)


def next_event(run: Run) -> str | None:
    """What ends the current stretch of steps, decided alike on every rank (a signal or the clock
    may reach one rank first): "done" (steps or time up), "signal", "stage 2", or None."""
    prog, args, minutes = run.prog, run.args, run.minutes
    stage1 = prog.stage == "generator" and args.stage == "all"
    switch_by_time = (stage1 and run.stage1_end is None and minutes is not None
                      and run.minutes_used() >= minutes * (1.0 - run.cfg.stage2_fraction))
    signalled, time_up, switch_by_time = agree(
        [run.stop.received is not None, minutes is not None and run.minutes_used() >= minutes, switch_by_time],
        run.dist, run.device, op="max")
    if (run.total_steps is not None and prog.step >= run.total_steps) or time_up:
        return "done"
    if signalled:
        return "signal"
    if stage1 and ((run.stage1_end is not None and prog.step >= run.stage1_end) or switch_by_time):
        return "stage 2"
    return None


def train_stage(run: Run) -> str:
    """Train steps until the stage ends; returns why: "done", "signal" or "stage 2"."""
    window = {"t": time.perf_counter(), "images": 0, **dict.fromkeys(("d_step", "g_step", "ema"), 0.0)}
    while (event := next_event(run)) is None:
        losses, sigma = train_step(run, window)
        if losses is not None:
            after_step(run, losses, sigma, window)
    return event


def train_step(run: Run, window: dict[str, float]) -> tuple[dict[str, float] | None, float]:
    """One D and one G step, then the EMA update; the step's losses (None after a restore)."""
    prog, it = run.prog, run.it
    sigma = ganblocks.blur_sigma(prog.images_seen, sigma_start=run.cfg.blur_sigma, fade_kimg=run.cfg.blur_fade_kimg)
    run.spectral.step()  # one power iteration of D's spectral norms per step
    through_text = prog.stage == "text-encoder"  # stage 2: G's gradient reaches its text encoder
    t0 = time.perf_counter()
    d_stats, batches, ok_d = it.discriminator(run.d_loss, run.optimizers["D"], run.g_step, step=prog.step, sigma=sigma,
                                              restores=prog.restores, text_encoder=through_text)
    t1 = time.perf_counter()
    g_stats, ok_g = it.generator(run.g_step, run.opt_gen, run.g_trained, batches, step=prog.step, sigma=sigma,
                                 restores=prog.restores, clip_weight=run.clip_weight, text_encoder=through_text)
    t2 = time.perf_counter()
    window["d_step"] += t1 - t0
    window["g_step"] += t2 - t1

    prog.images_seen += run.cfg.batch
    prog.step += 1
    run.overflows += "overflow" in (ok_d, ok_g)
    if "bad" in (ok_d, ok_g):
        run.bad_steps += 1
        run.total_bad += 1
        if run.dist.main:
            print(f"\nstep {prog.step}: non-finite loss or gradient, update skipped ({run.bad_steps} in a row)", file=sys.stderr)
        run.log({"step": prog.step, "event": "skipped", "bad_in_a_row": run.bad_steps})
        if run.bad_steps >= run.cfg.max_bad_steps:
            restore(run, f"{run.bad_steps} consecutive non-finite steps")
            run.bad_steps = 0
            return None, sigma
    else:
        run.bad_steps = 0
    t3 = time.perf_counter()
    with torch.profiler.record_function("EMA"):
        update_ema(run.G_ema, run.G, ema_beta(run.cfg.batch, ema_kimg=run.cfg.ema_kimg, images_seen=prog.images_seen,
                                              rampup=run.cfg.ema_rampup))
    window["ema"] += time.perf_counter() - t3
    return dict(zip(LOSSES, (*d_stats, *g_stats))), sigma


def after_step(run: Run, losses: dict[str, float], sigma: float, window: dict[str, float]) -> None:
    """Logging, evaluation, samples, checkpoints (rank 0 writes; every rank saves together)."""
    cfg, prog, main = run.cfg, run.prog, run.dist.main
    window["images"] += cfg.batch
    if run.bar is not None:
        run.bar.update(1)
    if prog.step % cfg.log_every == 0 and main:
        now = time.perf_counter()
        rate = window["images"] / max(now - window["t"], 1e-9)
        # mean milliseconds per step of each phase: the D step (text encoding, G's forward, D
        # forward and backward), the G step (D and CLIP guidance forward, backward through them
        # and G; G's forward too when accumulation recomputes it), the EMA update
        phase_ms = {f"ms_{k}": 1000 * window[k] * cfg.batch / max(window["images"], 1) for k in ("d_step", "g_step", "ema")}
        window.update({"t": now, "images": 0, "d_step": 0.0, "g_step": 0.0, "ema": 0.0})
        run.log({"step": prog.step, "kimg": prog.images_seen / 1000, "stage": prog.stage, "img_per_s": rate,
                 **phase_ms, **losses, "blur_sigma": sigma})
        if run.bar is not None:
            run.bar.set_postfix(stage=prog.stage[:4], img_s=f"{rate:.0f}", d=f"{losses['loss_d_real'] + losses['loss_d_fake']:.3f}",
                                g=f"{losses['loss_g']:.3f}", clip=f"{losses['loss_clip']:.3f}")
    if cfg.eval_every and prog.step % cfg.eval_every == 0 and main:
        run.log_eval("eval", evaluate_generator(run.G_ema, cfg, run.device))
    if cfg.sample_every and prog.step % cfg.sample_every == 0 and main:
        with writing(run.out / "samples"):
            save_sample_grid(run.G_ema, cfg, run.out / "samples" / f"step-{prog.step:09d}.png", run.device)
    if cfg.checkpoint_every and prog.step % cfg.checkpoint_every == 0:
        checkpoint(run)


# --- checkpoints -----------------------------------------------------------------------------------
def checkpoint(run: Run) -> Path | None:
    """Save a checkpoint (rank 0 writes; every rank stops together if it fails)."""
    cfg = run.cfg
    meta = {"config": cfg.to_dict(), "generator": run.G.config.to_dict(), "training": cfg.card_info(run.args.preset),
            **dataclasses.asdict(run.prog), "preset": run.args.preset, "world_size": run.dist.world,
            "superres": run.superres, "precision": run.precision,
            "scaler": run.scaler.state_dict() if run.scaler is not None else None}
    path, error = None, ""
    if run.dist.main:
        try:
            path = save_checkpoint(run.out, step=run.prog.step, modules=run.modules, optimizers=run.optimizers,
                                   meta=meta, keep=cfg.keep_checkpoints)
        except CheckpointError as e:
            error = str(e)
    if agree([bool(error)], run.dist, run.device, op="max")[0]:
        fail(f"could not save a checkpoint: {error or 'rank 0 failed to write it'}")
    run.restores_in_a_row, run.saved = 0, (run.prog.step, path)
    return path


def restore(run: Run, reason: str) -> None:
    """Reload the last checkpoint after non-finite steps; give up after ``max_restores`` in a row."""
    cfg, args, prog = run.cfg, run.args, run.prog
    run.restores_in_a_row += 1
    if run.restores_in_a_row > cfg.max_restores:
        fail(f"{reason}, again after {cfg.max_restores} restores of the last checkpoint; "
             f"try a lower learning rate (--lr-g, --lr-d) or --precision fp32")
    candidates = [run.out] + ([args.resume] if args.resume is not None and args.stage != "superres" else [])
    for folder in candidates:
        try:
            ckpt = find_checkpoint(folder)
            break
        except CheckpointError:
            continue
    else:
        fail(f"{reason}, and no checkpoint to restore yet; try a lower learning rate (--lr-g, --lr-d)")
    try:
        restored = load_checkpoint(ckpt, modules=run.modules, optimizers=run.optimizers, restore_rng=False,
                                   map_location=run.device)
    except CheckpointError as e:
        fail(f"{reason}, and restoring {ckpt} failed: {e}")
    use_config_hyperparameters(run)
    if run.scaler is not None and restored.get("scaler"):
        run.scaler.load_state_dict(restored["scaler"])
    previous_stage = prog.stage
    prog.step, prog.images_seen = restored["step"], restored["images_seen"]
    prog.stage, prog.restores = restored.get("stage", prog.stage), prog.restores + 1
    if prog.stage != previous_stage:
        enter_stage(run, prog.stage)
    if run.dist.main:
        print(f"\n{reason}: restored {ckpt} (step {prog.step}); continuing with fresh latents "
              f"(restore {run.restores_in_a_row} of at most {cfg.max_restores} in a row)", file=sys.stderr)
    run.log({"step": prog.step, "event": "restore", "from": str(ckpt), "reason": reason})
    if run.bar is not None:
        run.bar.n = prog.step
        run.bar.refresh()


# --- finish ----------------------------------------------------------------------------------------
def finish(run: Run) -> dict[str, Any]:
    """The final checkpoint, sample grid and evaluation; the run's summary."""
    prog, out = run.prog, run.out
    if run.bar is not None:
        run.bar.close()
    ckpt = run.saved[1] if run.saved[0] == prog.step else checkpoint(run)  # the last step's save may be the final one
    summary: dict[str, Any] = {"run": str(out), "checkpoint": str(ckpt), "step": prog.step,
                               "images_seen": prog.images_seen, "stage": prog.stage,
                               "minutes": run.minutes_used(), "skipped_steps": run.total_bad,
                               "restores": prog.restores, "fp16_overflows": run.overflows,
                               "stopped_by": run.stop.received.name if run.stop.received is not None else None,
                               "bad_samples": run.source.bad_samples(), "bad_sample_names": run.source.bad_sample_names()}
    if run.dist.main:
        if run.args.final_eval and summary["stopped_by"] is None:
            with writing(out / "samples"):
                summary["samples"] = str(save_sample_grid(run.G_ema, run.cfg, out / "samples" / "final.png", run.device))
            if prog.step > run.start_step or not (out / "final_eval.json").exists():
                scores = evaluate_generator(run.G_ema, run.cfg, run.device, final=True)
                if scores:
                    with writing(out / "final_eval.json"):
                        (out / "final_eval.json").write_text(json.dumps(scores, indent=2))
                    run.log_eval("final", scores)
                    summary["scores"] = scores
        print_summary(summary)
    return summary


def open_run_folder(run: Run) -> None:
    """Rank 0 writes config.json, prints what the run is and starts the progress bar."""
    if not run.dist.main:
        return
    cfg, world, accum = run.cfg, run.dist.world, run.it.accum
    with writing(run.out / "config.json"):  # the run folder appears once everything is in place
        run.out.mkdir(parents=True, exist_ok=True)
        (run.out / "config.json").write_text(cfg.to_json())
    print(f"{header(run)}, D trainable {count_parameters(run.D, trainable_only=True) / 1e6:.2f}M | "
          f"batch {cfg.batch} = {world} x {cfg.batch // (world * accum)} x {accum} | device {run.device} "
          f"{run.precision} | run folder {run.out}")
    from tqdm import tqdm  # with a total (--steps or --kimg) it shows the time left

    run.bar = tqdm(total=run.total_steps, initial=run.prog.step, unit="step", dynamic_ncols=True, disable=None)


def header(run: Run) -> str:
    return (f"StyleGAN-T | preset {run.args.preset} | {run.cfg.resolution}px | stage {run.prog.stage} | "
            f"G {count_parameters(run.G) / 1e6:.2f}M params")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    start_time = time.perf_counter()  # --minutes counts everything: pretraining, training, stage 2
    cfg = load_config(args)
    run = build(args, cfg, start_time)
    if args.resume is not None:
        resume(run)
    plan(run)
    enter_stage(run, run.prog.stage)
    if args.check:
        if run.dist.main:
            print(f"{header(run)} | set-up checked; nothing was written")
        if run.dist.world > 1:
            dist.destroy_process_group()
        return {"run": str(run.out), "step": run.prog.step, "stage": run.prog.stage, "stopped_by": None, "checked": True}

    open_run_folder(run)
    with StopSignals() as run.stop, contextlib.ExitStack() as files:
        if run.dist.main:
            run.log_file = files.enter_context(open(run.out / "metrics.jsonl", "a"))
        while (event := train_stage(run)) == "stage 2":
            if cfg.eval_every and run.dist.main:
                run.log_eval("eval", evaluate_generator(run.G_ema, cfg, run.device))
            run.prog.stage = "text-encoder"
            enter_stage(run, run.prog.stage)
        if event == "signal":
            name = run.stop.received.name if run.stop.received is not None else "a signal (on another rank)"
            print(f"\nreceived {name}: writing a checkpoint and stopping", file=sys.stderr)
        summary = finish(run)
    if run.dist.world > 1:
        dist.destroy_process_group()
    return summary


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """A full disk or a read-only folder ends the run with one line, not a traceback."""
    try:
        yield
    except OSError as e:
        fail(f"cannot write {path}: {e.strerror or e}")


def print_summary(summary: dict[str, Any]) -> None:
    print("\n== StyleGAN-T run finished ==" if summary["stopped_by"] is None else
          f"\n== StyleGAN-T run stopped by {summary['stopped_by']}; resume with --resume {summary['run']} ==")
    print(f"run folder : {summary['run']}")
    print(f"checkpoint : {summary['checkpoint']}")
    print(f"samples    : {summary.get('samples')}")
    print(f"steps {summary['step']}, {summary['images_seen'] / 1000:.1f} kimg, {summary['minutes']:.1f} min, "
          f"stage {summary['stage']}, skipped steps {summary['skipped_steps']}, restores {summary['restores']}")
    if summary.get("bad_samples"):
        print(f"skipped data samples: {summary['bad_samples']}")
        for reason, names in (summary.get("bad_sample_names") or {}).items():
            print(f"  {reason}: {', '.join(names)}")
    scores = summary.get("scores")
    if scores:
        keys = ["all_correct/single_seen", "all_correct/single_heldout", "binding", "colour",
                "position", "shape", "extra", "diversity"]
        if any(k in scores for k in keys):
            print("ShapesT2I scores of the EMA generator (all scores in final_eval.json):")
            print("  " + ", ".join(f"{k} {scores[k]:.3f}" for k in keys if k in scores))
        else:
            print("EmojiT2I scores of the EMA generator (all scores in final_eval.json):")
            for group in ("seen", "heldout_style", "heldout_tone"):
                print(f"  {group}: " + ", ".join(f"{k.split('/')[1]} {scores[k]:.3f}" for k in EMOJI_SUMMARY
                                                   if k.startswith(group + "/") and k in scores))


if __name__ == "__main__":
    result = main()
    if result["stopped_by"] is not None:
        import signal

        raise SystemExit(128 + signal.Signals[result["stopped_by"]].value)
