"""Train StyleGAN-T: stage 1 (generator + discriminator), stage 2 (text encoder), super-resolution.

    python examples/stylegan_t/train.py                       # ShapesT2I on the CPU, ~15 minutes
    python examples/stylegan_t/train.py --steps 6 --out runs/x # a few steps
    python examples/stylegan_t/train.py --resume runs/x --steps 12
    torchrun --nproc_per_node 8 examples/stylegan_t/train.py --preset small --data shards/

Reads top to bottom: config -> build -> loop -> save. The blocks, losses and checkpoint I/O live
in the ganblocks library; this file only wires them together.
"""

import argparse
import copy
import dataclasses
import json
import math
import os
import signal
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ganblocks  # noqa: E402
from ganblocks.training import (  # noqa: E402
    CheckpointError, ema_beta, load_checkpoint, read_checkpoint_meta, save_checkpoint, update_ema,
)
from config import PRESETS, Config, add_config_arguments, config_overrides, preset  # noqa: E402
from data import create_batch_source  # noqa: E402
from evaluate import evaluate_generator, save_sample_grid  # noqa: E402
from model import (  # noqa: E402
    build_discriminator, build_generator, count_parameters, create_dino, create_frozen_clip,
)

STAGES = ("all", "generator", "text-encoder", "superres")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="shapes", choices=sorted(PRESETS), help="named configuration (default: shapes)")
    p.add_argument("--out", type=Path, default=None, help="run folder; everything of the run goes there (default: a new folder under runs/)")
    p.add_argument("--resume", type=Path, default=None, help="continue from a run folder or checkpoint folder")
    p.add_argument("--steps", type=int, default=None, help="total steps of the run, counted across resumes (default: no limit; the shapes preset stops after --minutes)")
    p.add_argument("--minutes", type=float, default=None, help="wall-clock budget of this invocation in minutes, set-up included (default: 14 for the shapes preset without --steps)")
    p.add_argument("--stage", choices=STAGES, default="all", help="all: stage 1 then stage 2; generator: stage 1 only; text-encoder: stage 2 only; superres: grow a trained generator to --resolution")
    p.add_argument("--freeze-lower", action="store_true", help="superres: train only the new blocks and the toRGB layers")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto", help="autocast precision (auto: bf16 on GPUs that support it, else fp32)")
    p.add_argument("--compile", action="store_true", help="torch.compile the generator and discriminator (checkpoints are unaffected)")
    add_config_arguments(p)
    args = p.parse_args(argv)
    if args.steps is not None and args.steps <= 0:
        p.error(f"--steps must be positive, got {args.steps}")
    if args.minutes is not None and args.minutes <= 0:
        p.error(f"--minutes must be positive, got {args.minutes}")
    if args.stage in ("text-encoder", "superres") and args.resume is None:
        p.error(f"--stage {args.stage} continues a trained generator: pass --resume DIR")
    return args


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


# ----------------------------------------------------------------------------------------------
# Setup: distributed, device, precision.


@dataclasses.dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed(device_arg: str) -> tuple[Dist, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    info = Dist(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))
    if device_arg == "auto":
        device_arg = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device_arg)
    if device.type == "cuda":
        if device.index is None:
            device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return info, device


def autocast_for(precision: str, device: torch.device) -> tuple[Any, torch.amp.GradScaler | None]:
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    if precision == "fp32":
        return nullcontext, None
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
    return (lambda: torch.autocast(device.type, dtype=dtype)), scaler


# ----------------------------------------------------------------------------------------------
# The training step. Losses are means over the *global* batch: each device's mean is divided by
# the accumulation rounds and DDP averages over devices, so the gradient does not depend on how
# the batch is split. The same holds for the GAN and the CLIP guidance terms.


class DiscriminatorLoss(nn.Module):
    """Hinge loss of D on one real and one fake batch (separate D calls, as in StyleGAN-T).

    Wrapped in DDP as one module, so both D calls happen inside a single DDP forward.
    """

    def __init__(self, D: nn.Module) -> None:
        super().__init__()
        self.D = D

    def forward(self, reals: Tensor, fakes: Tensor, c: Tensor, sigma: float,
                c_wrong: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        reals = ganblocks.gaussian_blur(reals, sigma)
        real_logits = self.D(reals, c)
        fake_logits = self.D(ganblocks.gaussian_blur(fakes, sigma), c)
        mismatch = torch.zeros((), device=reals.device)
        if c_wrong is not None:  # matching-aware: a real image under a wrong caption is fake
            mismatch = ganblocks.hinge_d_loss_fake(self.D(reals, c_wrong).float())
        return (ganblocks.hinge_d_loss_real(real_logits.float()),
                ganblocks.hinge_d_loss_fake(fake_logits.float()), mismatch)


def set_trainable(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


def finite(*tensors: Tensor) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def grads_finite(params: list[nn.Parameter]) -> bool:
    grads = [p.grad for p in params if p.grad is not None]
    return not grads or bool(torch.isfinite(torch.stack([g.float().norm() for g in grads])).all())


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    start_time = time.perf_counter()  # --minutes counts everything: pretraining, training, stage 2
    distinfo, device = setup_distributed(args.device)
    autocast, scaler = autocast_for(args.precision, device)

    # --- config --------------------------------------------------------------------------------
    overrides = config_overrides(args)
    meta: dict[str, Any] = {}
    if args.resume is not None:
        try:
            meta = read_checkpoint_meta(args.resume)
            saved = Config.from_dict(meta["config"])
        except (CheckpointError, ValueError, KeyError) as e:
            fail(f"cannot resume from {args.resume}: {e}")
        cfg = dataclasses.replace(saved, **overrides)
        if args.stage == "superres" and cfg.resolution <= saved.resolution:
            fail(f"--stage superres needs --resolution above the checkpoint's {saved.resolution}")
    else:
        try:
            cfg = preset(args.preset, **overrides)
        except (ValueError, TypeError) as e:
            fail(str(e))
    minutes = args.minutes
    if minutes is None and args.steps is None:
        minutes = 14.0 if args.preset == "shapes" else None
    out = args.out or (args.resume if args.resume and (args.resume / "checkpoints").is_dir() else None)
    if out is None:
        out = Path("runs") / time.strftime(f"%Y%m%d-%H%M%S-{args.preset}")
    world, rank = distinfo.world, distinfo.rank
    per_device = cfg.batch_per_device or max(cfg.batch // world, 1)
    accum = cfg.batch // (per_device * world)
    if accum * per_device * world != cfg.batch:
        fail(f"--batch {cfg.batch} is not divisible into {world} devices x {per_device} per device")

    torch.manual_seed(cfg.seed + rank)
    if distinfo.main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(cfg.to_json())

    # --- build ---------------------------------------------------------------------------------
    clip = create_frozen_clip(cfg, device)
    G = build_generator(cfg, clip).to(device)
    D = build_discriminator(cfg, create_dino(cfg, clip, device), clip.embed_dim).to(device)
    guidance = ganblocks.CLIPGuidanceLoss(clip, crop=cfg.clip_crop)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    betas = (cfg.adam_beta1, cfg.adam_beta2)
    gen_params = [*G.mapping.parameters(), *G.synthesis.parameters()]
    opt_g = torch.optim.Adam(gen_params, lr=cfg.lr_g, betas=betas, eps=1e-8)
    opt_text = torch.optim.Adam(G.text_encoder.parameters(), lr=cfg.lr_text, betas=betas, eps=1e-8)
    opt_d = torch.optim.Adam([p for p in D.parameters() if p.requires_grad], lr=cfg.lr_d, betas=betas, eps=1e-8)
    modules = {"G": G, "G_ema": G_ema, "D": D}
    optimizers = {"G": opt_g, "text": opt_text, "D": opt_d}
    try:
        source = create_batch_source(cfg, rank=rank, world=world, per_device=per_device, accum=accum)
    except (ValueError, FileNotFoundError) as e:
        fail(str(e))

    # --- resume --------------------------------------------------------------------------------
    step, images_seen, stage = 0, 0, "generator"
    if args.resume is not None:
        try:
            if args.stage == "superres":
                meta = load_lower_resolution(args.resume, G, G_ema, D)
            else:
                meta = load_checkpoint(args.resume, modules=modules, optimizers=optimizers,
                                       restore_rng=False, map_location=device)
        except CheckpointError as e:
            fail(str(e))
        step, images_seen = meta["step"], meta["images_seen"]
        stage = meta.get("stage", "generator") if args.stage in ("all", "generator") else args.stage
        if args.stage == "superres":
            stage = "superres"
    if args.stage == "text-encoder":
        stage = "text-encoder"
    total_steps = args.steps
    stage1_end = None  # the step (or time) at which `--stage all` switches to stage 2
    if args.stage == "all" and total_steps is not None:
        stage1_end = round(total_steps * (1.0 - cfg.stage2_fraction))
    start_step = step

    def elapsed_minutes() -> float:
        return (time.perf_counter() - start_time) / 60.0

    # --- stages --------------------------------------------------------------------------------
    def enter_stage(name: str) -> tuple[nn.Module, nn.Module, list[nn.Parameter], torch.optim.Optimizer, float]:
        """Freeze/unfreeze for a stage; wrap the trained parts in DDP when distributed."""
        set_trainable(G, False)
        if name == "text-encoder":
            set_trainable(G.text_encoder, True)
            trained, opt, weight = list(G.text_encoder.parameters()), opt_text, cfg.clip_weight_stage2
        else:
            set_trainable(G.mapping, True)
            set_trainable(G.synthesis, True)
            if name == "superres" and args.freeze_lower:
                for key, block in G.synthesis.blocks.items():
                    if int(key[1:]) <= meta["config"]["resolution"]:
                        set_trainable(block, False)
                        set_trainable(block.torgb, True)
                set_trainable(G.synthesis.input, not args.freeze_lower)
            trained, opt, weight = [p for p in gen_params if p.requires_grad], opt_g, cfg.clip_weight
        g_step, d_loss = G, DiscriminatorLoss(D)
        if world > 1:
            g_step = DistributedDataParallel(G, device_ids=[device.index] if device.type == "cuda" else None)
            d_loss = DistributedDataParallel(d_loss, device_ids=[device.index] if device.type == "cuda" else None)
        if args.compile:
            G.synthesis.compile()
            D.heads.compile()
        return g_step, d_loss, trained, opt, weight

    g_step, d_loss_mod, g_trained, opt_gen, clip_w = enter_stage(stage)
    d_params = [p for p in D.parameters() if p.requires_grad]

    stop = {"signal": None}

    def request_stop(signum: int, _frame: Any) -> None:
        stop["signal"] = signal.Signals(signum).name

    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, request_stop)

    log_file = open(out / "metrics.jsonl", "a") if distinfo.main else None

    def log(record: dict[str, Any]) -> None:
        if log_file is not None:
            log_file.write(json.dumps(record) + "\n")
            log_file.flush()

    def checkpoint() -> Path | None:
        meta_out = {"config": dataclasses.asdict(cfg), "step": step, "images_seen": images_seen,
                    "stage": stage, "preset": args.preset, "world_size": world}
        path = None
        if distinfo.main:
            try:
                path = save_checkpoint(out, step=step, modules=modules, optimizers=optimizers,
                                       meta=meta_out, keep=cfg.keep_checkpoints)
            except CheckpointError as e:
                fail(f"could not save a checkpoint: {e}")
        if world > 1:
            dist.barrier()
        return path

    if distinfo.main:
        print(f"StyleGAN-T | preset {args.preset} | {cfg.resolution}px | stage {stage} | "
              f"G {count_parameters(G) / 1e6:.2f}M params, D heads {count_parameters(D, trainable_only=True) / 1e6:.2f}M | "
              f"batch {cfg.batch} = {world} x {per_device} x {accum} | device {device} | run folder {out}")
    progress = None
    if distinfo.main:
        from tqdm import tqdm
        progress = tqdm(total=total_steps, initial=step, unit="step", dynamic_ncols=True, disable=None)

    # --- loop ----------------------------------------------------------------------------------
    bad_steps = total_bad = 0
    last: dict[str, float] = {}
    t_window, n_window = time.perf_counter(), 0
    while True:
        if total_steps is not None and step >= total_steps:
            break
        if minutes is not None and elapsed_minutes() >= minutes:
            break
        if stop["signal"] is not None:
            print(f"\nreceived {stop['signal']}: writing a checkpoint and stopping", file=sys.stderr)
            break
        if stage == "generator" and args.stage == "all":
            switch = (stage1_end is not None and step >= stage1_end) or (
                stage1_end is None and minutes is not None and elapsed_minutes() >= minutes * (1.0 - cfg.stage2_fraction))
            if switch:
                if cfg.eval_every and distinfo.main:
                    log({"step": step, "kimg": images_seen / 1000, "stage": stage,
                         **prefix("eval", evaluate_generator(G_ema, cfg, device))})
                stage = "text-encoder"
                g_step, d_loss_mod, g_trained, opt_gen, clip_w = enter_stage(stage)

        # Randomness is a pure function of (seed, step, rank): resume is exact without RNG state,
        # and every device draws different latents and augmentations.
        torch.manual_seed(hash((cfg.seed, step, rank)) & 0x7FFF_FFFF_FFFF_FFFF)
        sigma = ganblocks.blur_sigma(images_seen, sigma_start=cfg.blur_sigma, fade_kimg=cfg.blur_fade_kimg)
        text_trained = stage == "text-encoder"

        # Discriminator step.
        opt_d.zero_grad(set_to_none=True)
        set_trainable(D.heads, True)
        stats = {"loss_d_real": 0.0, "loss_d_fake": 0.0, "loss_d_mismatch": 0.0, "loss_g": 0.0, "loss_clip": 0.0}
        batches = []
        for r in range(accum):
            reals, captions = source.batch(step, r)
            reals = reals.to(device, non_blocking=True).float() / 127.5 - 1.0
            with torch.no_grad():
                c = clip.encode_text(captions)
                c_g = G.encode_text(captions)
                c_wrong = clip.encode_text(source.wrong_captions(captions, step)) if cfg.d_mismatch_weight > 0 else None
            batches.append((reals, captions, c, c_g))
            z = torch.randn(reals.shape[0], cfg.z_dim, device=device)
            with torch.no_grad(), autocast():
                fakes = G(z, c_g)
            sync = nullcontext() if r == accum - 1 or world == 1 else d_loss_mod.no_sync()
            with sync, autocast():
                real_loss, fake_loss, mismatch = d_loss_mod(reals, fakes.float(), c, sigma, c_wrong)
                loss = (real_loss + fake_loss + cfg.d_mismatch_weight * mismatch) / accum
            (scaler.scale(loss) if scaler else loss).backward()
            stats["loss_d_real"] += real_loss.item() / accum
            stats["loss_d_fake"] += fake_loss.item() / accum
            stats["loss_d_mismatch"] += mismatch.item() / accum
        ok_d = math.isfinite(stats["loss_d_real"] + stats["loss_d_fake"]) and grads_finite(d_params)
        if ok_d:
            (scaler.step(opt_d) if scaler else opt_d.step())

        # Generator step (stage 1: mapping + synthesis; stage 2: the text encoder only).
        opt_gen.zero_grad(set_to_none=True)
        set_trainable(D.heads, False)
        for r, (reals, captions, c, c_g) in enumerate(batches):
            z = torch.randn(reals.shape[0], cfg.z_dim, device=device)
            sync = nullcontext() if r == accum - 1 or world == 1 else g_step.no_sync()
            with sync, autocast():
                fakes = g_step(z, None, prompts=captions) if text_trained else g_step(z, c_g)
                loss_g = ganblocks.hinge_g_loss(D(ganblocks.gaussian_blur(fakes, sigma), c).float())
                loss_clip = guidance(fakes.float(), c) if clip_w > 0 else torch.zeros((), device=device)
                loss = (loss_g + clip_w * loss_clip) / accum
            (scaler.scale(loss) if scaler else loss).backward()
            stats["loss_g"] += loss_g.item() / accum
            stats["loss_clip"] += loss_clip.item() / accum
        ok_g = math.isfinite(stats["loss_g"] + stats["loss_clip"]) and grads_finite(g_trained)
        if ok_g:
            (scaler.step(opt_gen) if scaler else opt_gen.step())
        if scaler:
            scaler.update()

        images_seen += cfg.batch
        step += 1
        if ok_d and ok_g:
            bad_steps = 0
        else:
            bad_steps += 1
            total_bad += 1
            print(f"\nstep {step}: non-finite loss or gradient, update skipped ({bad_steps} in a row)", file=sys.stderr)
            if bad_steps >= 10:
                fail("10 consecutive non-finite steps; resume from the last checkpoint with a lower learning rate")
        update_ema(G_ema, G, ema_beta(cfg.batch, ema_kimg=cfg.ema_kimg, images_seen=images_seen, rampup=cfg.ema_rampup))

        # Logging, evaluation, samples, checkpoints (rank 0 writes; everyone meets at barriers).
        n_window += cfg.batch
        last = {**stats, "blur_sigma": sigma}
        if progress is not None:
            progress.update(1)
        if step % cfg.log_every == 0 and distinfo.main:
            now = time.perf_counter()
            rate = n_window / max(now - t_window, 1e-9)
            t_window, n_window = now, 0
            log({"step": step, "kimg": images_seen / 1000, "stage": stage, "img_per_s": rate, **last})
            if progress is not None:
                progress.set_postfix(stage=stage[:4], img_s=f"{rate:.0f}", d=f"{stats['loss_d_real'] + stats['loss_d_fake']:.3f}",
                                     g=f"{stats['loss_g']:.3f}", clip=f"{stats['loss_clip']:.3f}")
        if cfg.eval_every and step % cfg.eval_every == 0 and distinfo.main:
            log({"step": step, "kimg": images_seen / 1000, "stage": stage, **prefix("eval", evaluate_generator(G_ema, cfg, device))})
        if cfg.sample_every and step % cfg.sample_every == 0 and distinfo.main:
            save_sample_grid(G_ema, cfg, out / "samples" / f"step-{step:09d}.png", device)
        if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
            checkpoint()

    # --- end -----------------------------------------------------------------------------------
    if progress is not None:
        progress.close()
    ckpt = checkpoint()
    summary: dict[str, Any] = {"run": str(out), "checkpoint": str(ckpt), "step": step,
                               "images_seen": images_seen, "stage": stage,
                               "minutes": elapsed_minutes(), "skipped_steps": total_bad,
                               "bad_samples": source.bad_samples()}
    if distinfo.main:
        grid = save_sample_grid(G_ema, cfg, out / "samples" / "final.png", device)
        summary["samples"] = str(grid)
        if step > start_step or not (out / "final_eval.json").exists():
            scores = evaluate_generator(G_ema, cfg, device, final=True)
            (out / "final_eval.json").write_text(json.dumps(scores, indent=2))
            log({"step": step, "kimg": images_seen / 1000, "stage": stage, **prefix("final", scores)})
            summary["scores"] = scores
        print_summary(summary)
    if log_file is not None:
        log_file.close()
    if world > 1:
        dist.destroy_process_group()
    return summary


def prefix(name: str, values: dict[str, Any]) -> dict[str, Any]:
    return {f"{name}/{k}": v for k, v in values.items()}


def load_lower_resolution(path: Path, G: nn.Module, G_ema: nn.Module, D: nn.Module) -> dict[str, Any]:
    """Super-resolution: carry a lower-resolution generator's blocks into this larger one."""
    from ganblocks.training import load_module_weights
    meta = read_checkpoint_meta(path)
    for name, module in (("G", G), ("G_ema", G_ema), ("D", D)):
        load_module_weights(path, name, module, allow_missing_prefixes=("synthesis.blocks.",) if name != "D" else ())
    return meta


def print_summary(summary: dict[str, Any]) -> None:
    print("\n== StyleGAN-T run finished ==")
    print(f"run folder : {summary['run']}")
    print(f"checkpoint : {summary['checkpoint']}")
    print(f"samples    : {summary.get('samples')}")
    print(f"steps {summary['step']}, {summary['images_seen'] / 1000:.1f} kimg, {summary['minutes']:.1f} min, "
          f"stage {summary['stage']}, skipped steps {summary['skipped_steps']}")
    if summary.get("bad_samples"):
        print(f"skipped data samples: {summary['bad_samples']}")
    scores = summary.get("scores")
    if scores:
        keys = ["all_correct/single_seen", "all_correct/single_heldout", "binding", "colour",
                "position", "shape", "extra", "diversity"]
        print("ShapesT2I scores of the EMA generator (all scores in final_eval.json):")
        print("  " + ", ".join(f"{k} {scores[k]:.3f}" for k in keys if k in scores))


if __name__ == "__main__":
    main()
