"""Train StyleGAN-T: stage 1 (generator + discriminator), stage 2 (text encoder), super-resolution.

    python examples/stylegan_t/train.py                       # ShapesT2I on the CPU, ~15 minutes
    python examples/stylegan_t/train.py --steps 6 --out runs/x # a few steps
    python examples/stylegan_t/train.py --resume runs/x --steps 12
    python examples/stylegan_t/train.py --stage superres --resume runs/x --resolution 64 --out runs/x64
    python examples/stylegan_t/train.py --preset small --data my_images --check   # set up, then stop
    torchrun --nproc_per_node 8 examples/stylegan_t/train.py --preset small --data shards/

Reads top to bottom: config -> build -> loop -> save. The blocks, losses and checkpoint I/O live
in the ganblocks library; this file only wires them together.

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
import sys
import time
from pathlib import Path
from collections.abc import Iterator
from typing import Any

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
from config import PRESETS, Config, add_config_arguments, config_overrides, preset  # noqa: E402
from data import create_batch_source  # noqa: E402
from evaluate import evaluate_generator, save_sample_grid  # noqa: E402
from model import (  # noqa: E402
    build_discriminator, build_generator, build_pixel_critic, count_parameters, create_dino, create_frozen_clip,
)
from runtime import SpectralNormSteps, StopSignals, agree, autocast_for, setup_distributed  # noqa: E402
from step import DiscriminatorLoss, Progress, TrainStep, recon_weight, set_trainable  # noqa: E402
from superres import carry_over, superres_trainable  # noqa: E402

STAGES = ("all", "generator", "text-encoder", "superres")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = ArgumentParser(description=__doc__)
    p.add_argument("--preset", default="shapes", choices=sorted(PRESETS), help="named configuration (default: shapes); "
                   "the config flags below override single fields of it")
    p.add_argument("--out", type=Path, default=None, help="run folder; everything of the run goes there (default: the --resume run folder, else a new folder under runs/)")
    p.add_argument("--resume", type=Path, default=None, help="continue from a run folder or checkpoint folder")
    p.add_argument("--steps", type=int, default=None, help="total steps of the run, counted across resumes and stages (default: no limit; the shapes preset stops after --minutes)")
    p.add_argument("--minutes", type=float, default=None, help="wall-clock budget of this invocation in minutes, set-up included (default: 14 for the shapes preset without --steps)")
    p.add_argument("--stage", choices=STAGES, default="all", help="all: stage 1 then stage 2; generator: stage 1 only; text-encoder: stage 2 only; superres: grow a trained generator to --resolution (new blocks added, the rest carried over; optimizers start fresh)")
    p.add_argument("--freeze-lower", action="store_true", help="superres: train only the new blocks and the toRGB layers (default: everything)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto, a GPU when there is "
                   "one; under torchrun cuda:LOCAL_RANK)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto", help="autocast precision; losses and the CLIP distance stay fp32; fp16 adds a gradient scaler (auto: bf16 on GPUs that support it, else fp32)")
    p.add_argument("--compile", action="store_true", help="torch.compile the synthesis network and the discriminator heads (checkpoints and resume are unaffected)")
    p.add_argument("--compile-backend", default="inductor", help="torch.compile backend for --compile (default inductor; aot_eager traces without code generation)")
    p.add_argument("--channels-last", action="store_true", help="keep the synthesis network's conv weights, and so its activations, channels-last (NHWC): faster convolutions on GPUs with bf16/fp16 tensor cores; checkpoints are unaffected")
    p.add_argument("--dist-timeout", type=float, default=30.0, help="minutes a process waits for the others (a lost or hung rank) before the job fails (default 30)")
    p.add_argument("--no-final-eval", dest="final_eval", action="store_false", help="end without the final ShapesT2I evaluation and sample grid (the final checkpoint is still written)")
    p.add_argument("--check", action="store_true", help="set everything up (config, networks and their weights, data, "
                   "the checkpoint to resume), then stop without training or writing the run folder")
    add_config_arguments(p)
    args = p.parse_args(argv)
    for name in ("steps", "minutes", "dist_timeout"):
        value = getattr(args, name)
        if value is not None and not value > 0:
            p.error(f"--{name.replace('_', '-')} must be positive, got {value}")
    if args.stage in ("text-encoder", "superres") and args.resume is None:
        p.error(f"--stage {args.stage} continues a trained generator: pass --resume DIR")
    if args.freeze_lower and args.stage != "superres" and args.resume is None:
        p.error("--freeze-lower belongs to --stage superres (or the --resume of a superres run)")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    start_time = time.perf_counter()  # --minutes counts everything: pretraining, training, stage 2
    with user_errors():
        distinfo, device = setup_distributed(args.device, timeout_minutes=args.dist_timeout)
        precision, autocast, scaler = autocast_for(args.precision, device)
    world, rank = distinfo.world, distinfo.rank

    # --- config --------------------------------------------------------------------------------
    overrides = config_overrides(args)
    meta: dict[str, Any] = {}
    if args.resume is not None:
        with user_errors(f"cannot resume from {args.resume}"):
            meta = read_checkpoint_meta(args.resume)
            saved = Config.from_dict(meta["config"])
            cfg = dataclasses.replace(saved, **overrides)
        if args.stage == "superres" and cfg.resolution <= saved.resolution:
            fail(f"--stage superres needs --resolution above the checkpoint's {saved.resolution}")
    else:
        with user_errors():
            cfg = preset(args.preset, **overrides)
    minutes = args.minutes
    if minutes is None and args.steps is None:
        minutes = 14.0 if args.preset == "shapes" else None
    out = args.out
    if out is None and args.resume is not None and args.stage != "superres" and (args.resume / "checkpoints").is_dir():
        out = args.resume
    if out is None:
        out = Path("runs") / time.strftime(f"%Y%m%d-%H%M%S-{args.preset}" + ("-superres" if args.stage == "superres" else ""))
    per_device = cfg.batch_per_device or max(cfg.batch // world, 1)
    accum = cfg.batch // (per_device * world)
    if accum * per_device * world != cfg.batch:
        fail(f"--batch {cfg.batch} is not divisible into {world} devices x {per_device} per device")

    with user_errors():  # the data first: a wrong --data fails before the networks are built
        source = create_batch_source(cfg, rank=rank, world=world, per_device=per_device, accum=accum)

    torch.manual_seed(cfg.seed)  # the same initial weights on every rank

    # --- build ---------------------------------------------------------------------------------
    if world > 1 and not distinfo.main:
        dist.barrier()  # rank 0 pretrains and caches the tiny CLIP (if needed) alone, first
    with user_errors("cannot build the networks"):  # widths, names, missing or unusable weights
        clip = create_frozen_clip(cfg, device)
        if world > 1 and distinfo.main:
            dist.barrier()
        G = build_generator(cfg, clip).to(device)
        D = build_discriminator(cfg, create_dino(cfg, clip, device), clip.embed_dim).to(device)
        P = build_pixel_critic(cfg, clip.embed_dim)  # None unless --d-pixel-weight > 0
        if P is not None:
            P = P.to(device)
    critics = nn.ModuleList([D] if P is None else [D, P])
    spectral = SpectralNormSteps(critics)
    guidance = ganblocks.CLIPGuidanceLoss(clip, crop=cfg.clip_crop)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    betas = (cfg.adam_beta1, cfg.adam_beta2)
    gen_params = [*G.mapping.parameters(), *G.synthesis.parameters()]
    opt_g = torch.optim.Adam(gen_params, lr=cfg.lr_g, betas=betas, eps=1e-8)
    opt_text = torch.optim.Adam(G.text_encoder.parameters(), lr=cfg.lr_text, betas=betas, eps=1e-8)
    opt_d = torch.optim.Adam([p for p in critics.parameters() if p.requires_grad], lr=cfg.lr_d, betas=betas, eps=1e-8)
    modules = {"G": G, "G_ema": G_ema, "D": D, **({} if P is None else {"D_pixel": P})}
    optimizers = {"G": opt_g, "text": opt_text, "D": opt_d}

    # Loading an optimizer's state also loads the settings (learning rate, betas) it was saved
    # with; the optimizers as built from this config decide them (a resume with --lr-text 3e-5
    # must train at 3e-5; unchanged flags give the saved values, so a plain resume stays bitwise).
    configured = {name: [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
                  for name, opt in optimizers.items()}

    def use_config_hyperparameters() -> None:
        for name, opt in optimizers.items():
            for group, settings in zip(opt.param_groups, configured[name]):
                group.update(settings)

    if args.channels_last:  # conv outputs follow their weights' layout; saved tensors are made contiguous
        for net in (G, G_ema):
            net.synthesis.to(memory_format=torch.channels_last)
    if args.compile:  # compiles the forward in place: parameter names (checkpoint keys) unchanged
        G.synthesis.compile(backend=args.compile_backend)
        D.heads.compile(backend=args.compile_backend)

    # --- resume --------------------------------------------------------------------------------
    prog = Progress()
    superres = None  # {"lower_resolution", "freeze_lower"} while in the super-resolution stage
    if args.resume is not None:
        with user_errors(f"cannot resume from {args.resume}"):
            if args.stage == "superres":
                meta = carry_over(args.resume, G, G_ema, D)
                superres = {"lower_resolution": meta["config"]["resolution"], "freeze_lower": args.freeze_lower}
            else:
                meta = load_checkpoint(args.resume, modules=modules, optimizers=optimizers,
                                       restore_rng=False, map_location=device)
                use_config_hyperparameters()
                superres = meta.get("superres")
                if superres is not None and args.freeze_lower:
                    superres = {**superres, "freeze_lower": True}
                if scaler is not None and meta.get("scaler"):
                    scaler.load_state_dict(meta["scaler"])
        prog = Progress(meta["step"], meta["images_seen"], meta.get("stage", "generator"), meta.get("restores", 0))
        if args.stage in ("text-encoder", "superres"):
            prog.stage = args.stage
    total_steps = args.steps
    stage1_end = None  # the step at which `--stage all` switches to stage 2 (None: by time)
    if args.stage == "all" and total_steps is not None:
        stage1_end = round(total_steps * (1.0 - cfg.stage2_fraction))
    start_step = prog.step

    def elapsed_minutes() -> float:
        return (time.perf_counter() - start_time) / 60.0

    # --- stages --------------------------------------------------------------------------------
    def enter_stage(name: str) -> tuple[nn.Module, nn.Module, list[nn.Parameter], torch.optim.Optimizer, float]:
        """Freeze/unfreeze for a stage; wrap the trained parts in DDP when distributed."""
        set_trainable(G, False)
        if name == "text-encoder":
            # Stage 2 tunes the text encoder for the generator that is kept, the EMA one: the
            # frozen mapping and synthesis take G_ema's weights (a no-op once they hold them), so
            # the EMA does not drift from its average towards the last raw weights meanwhile.
            with torch.no_grad():
                G.mapping.load_state_dict(G_ema.mapping.state_dict())
                G.synthesis.load_state_dict(G_ema.synthesis.state_dict())
            set_trainable(G.text_encoder, True)
            trained, opt, weight = list(G.text_encoder.parameters()), opt_text, cfg.clip_weight_stage2
        else:
            set_trainable(G.mapping, True)
            set_trainable(G.synthesis, True)
            if name == "superres":
                superres_trainable(G, lower_resolution=superres["lower_resolution"], freeze_lower=superres["freeze_lower"])
            trained, opt, weight = [p for p in gen_params if p.requires_grad], opt_g, cfg.clip_weight
        set_trainable(D.heads, True)  # DDP registers the parameters that require gradients
        if P is not None:
            set_trainable(P, True)
        g_step, d_loss = G, DiscriminatorLoss(D, P, cfg.d_pixel_weight)
        if world > 1:
            ids = [device.index] if device.type == "cuda" else None
            g_step = DistributedDataParallel(G, device_ids=ids)
            d_loss = DistributedDataParallel(d_loss, device_ids=ids)
        return g_step, d_loss, trained, opt, weight

    g_step, d_loss_mod, g_trained, opt_gen, clip_w = enter_stage(prog.stage)
    it = TrainStep(cfg, G, D, clip, guidance, source, distinfo, device, accum, autocast, scaler, P)

    stop = StopSignals()
    log_file = None

    def log(record: dict[str, Any]) -> None:
        if log_file is not None:
            with writing(out / "metrics.jsonl"):
                log_file.write(json.dumps(record) + "\n")
                log_file.flush()

    restores_in_a_row, saved = 0, (None, None)  # saved: (step, path) of this process's last save

    def checkpoint() -> Path | None:
        nonlocal restores_in_a_row, saved
        meta_out = {"config": dataclasses.asdict(cfg), **dataclasses.asdict(prog), "preset": args.preset,
                    "world_size": world, "superres": superres, "precision": precision,
                    "scaler": scaler.state_dict() if scaler is not None else None}
        path, error = None, ""
        if distinfo.main:
            try:
                path = save_checkpoint(out, step=prog.step, modules=modules, optimizers=optimizers,
                                       meta=meta_out, keep=cfg.keep_checkpoints)
            except CheckpointError as e:
                error = str(e)
        if agree([bool(error)], distinfo, device, op="max")[0]:  # every rank stops together
            fail(f"could not save a checkpoint: {error or 'rank 0 failed to write it'}")
        restores_in_a_row, saved = 0, (prog.step, path)
        return path

    def restore_last_checkpoint(reason: str) -> None:
        nonlocal restores_in_a_row, g_step, d_loss_mod, g_trained, opt_gen, clip_w
        restores_in_a_row += 1
        if restores_in_a_row > cfg.max_restores:
            fail(f"{reason}, again after {cfg.max_restores} restores of the last checkpoint; "
                 f"try a lower learning rate (--lr-g, --lr-d) or --precision fp32")
        candidates = [out] + ([args.resume] if args.resume is not None and args.stage != "superres" else [])
        for folder in candidates:
            try:
                ckpt = find_checkpoint(folder)
                break
            except CheckpointError:
                continue
        else:
            fail(f"{reason}, and no checkpoint to restore yet; try a lower learning rate (--lr-g, --lr-d)")
        try:
            restored = load_checkpoint(ckpt, modules=modules, optimizers=optimizers, restore_rng=False, map_location=device)
        except CheckpointError as e:
            fail(f"{reason}, and restoring {ckpt} failed: {e}")
        use_config_hyperparameters()
        if scaler is not None and restored.get("scaler"):
            scaler.load_state_dict(restored["scaler"])
        previous_stage = prog.stage
        prog.step, prog.images_seen = restored["step"], restored["images_seen"]
        prog.stage, prog.restores = restored.get("stage", prog.stage), prog.restores + 1
        if prog.stage != previous_stage:
            g_step, d_loss_mod, g_trained, opt_gen, clip_w = enter_stage(prog.stage)
        if distinfo.main:
            print(f"\n{reason}: restored {ckpt} (step {prog.step}); continuing with fresh latents "
                  f"(restore {restores_in_a_row} of at most {cfg.max_restores} in a row)", file=sys.stderr)
        log({"step": prog.step, "event": "restore", "from": str(ckpt), "reason": reason})
        if progress is not None:
            progress.n = prog.step
            progress.refresh()

    if args.check:
        if distinfo.main:
            print(f"StyleGAN-T | preset {args.preset} | {cfg.resolution}px | stage {prog.stage} | "
                  f"G {count_parameters(G) / 1e6:.2f}M params | set-up checked; nothing was written")
        if world > 1:
            dist.destroy_process_group()
        return {"run": str(out), "step": prog.step, "stage": prog.stage, "stopped_by": None, "checked": True}
    if distinfo.main:  # the run folder appears once everything is in place
        with writing(out / "config.json"):
            out.mkdir(parents=True, exist_ok=True)
            (out / "config.json").write_text(cfg.to_json())
        print(f"StyleGAN-T | preset {args.preset} | {cfg.resolution}px | stage {prog.stage} | "
              f"G {count_parameters(G) / 1e6:.2f}M params, D trainable {count_parameters(critics, trainable_only=True) / 1e6:.2f}M | "
              f"batch {cfg.batch} = {world} x {per_device} x {accum} | device {device} {precision} | run folder {out}")
    progress = None
    if distinfo.main:
        from tqdm import tqdm
        progress = tqdm(total=total_steps, initial=prog.step, unit="step", dynamic_ncols=True, disable=None)

    # --- loop ----------------------------------------------------------------------------------
    bad_steps = total_bad = overflows = 0
    last: dict[str, float] = {}
    t_window, n_window = time.perf_counter(), 0
    phase_s = dict.fromkeys(("d_step", "g_step", "ema"), 0.0)  # seconds per phase in the log window
    with stop, contextlib.ExitStack() as files:
        if distinfo.main:
            log_file = files.enter_context(open(out / "metrics.jsonl", "a"))
        while True:
            # Every rank takes the same decision: a signal or the clock may reach one rank first.
            switch_by_time = (prog.stage == "generator" and args.stage == "all" and stage1_end is None
                              and minutes is not None and elapsed_minutes() >= minutes * (1.0 - cfg.stage2_fraction))
            signalled, time_up, switch_by_time = agree(
                [stop.received is not None, minutes is not None and elapsed_minutes() >= minutes, switch_by_time],
                distinfo, device, op="max")
            if (total_steps is not None and prog.step >= total_steps) or time_up:
                break
            if signalled:
                name = stop.received.name if stop.received is not None else "a signal (on another rank)"
                print(f"\nreceived {name}: writing a checkpoint and stopping", file=sys.stderr)
                break
            if prog.stage == "generator" and args.stage == "all" and (
                    (stage1_end is not None and prog.step >= stage1_end) or switch_by_time):
                if cfg.eval_every and distinfo.main:
                    log({"step": prog.step, "kimg": prog.images_seen / 1000, "stage": prog.stage,
                         **prefix("eval", evaluate_generator(G_ema, cfg, device))})
                prog.stage = "text-encoder"
                g_step, d_loss_mod, g_trained, opt_gen, clip_w = enter_stage(prog.stage)

            step = prog.step
            sigma = ganblocks.blur_sigma(prog.images_seen, sigma_start=cfg.blur_sigma, fade_kimg=cfg.blur_fade_kimg)
            spectral.step()  # one power iteration of D's spectral norms per step
            rec_w = recon_weight(cfg, prog.images_seen) if prog.stage == "generator" else 0.0

            through_text = prog.stage == "text-encoder"  # stage 2: G's gradient reaches its text encoder
            t0 = time.perf_counter()
            d_stats, batches, ok_d = it.discriminator(d_loss_mod, opt_d, g_step, step=step, sigma=sigma, restores=prog.restores,
                                                   text_encoder=through_text)
            t1 = time.perf_counter()
            g_stats, ok_g = it.generator(g_step, opt_gen, g_trained, batches, step=step, sigma=sigma, restores=prog.restores,
                                         clip_weight=clip_w, text_encoder=through_text, recon_weight=rec_w)
            t2 = time.perf_counter()
            phase_s["d_step"] += t1 - t0
            phase_s["g_step"] += t2 - t1

            prog.images_seen += cfg.batch
            prog.step += 1
            overflows += "overflow" in (ok_d, ok_g)
            if "bad" in (ok_d, ok_g):
                bad_steps += 1
                total_bad += 1
                if distinfo.main:
                    print(f"\nstep {prog.step}: non-finite loss or gradient, update skipped ({bad_steps} in a row)", file=sys.stderr)
                log({"step": prog.step, "event": "skipped", "bad_in_a_row": bad_steps})
                if bad_steps >= cfg.max_bad_steps:
                    restore_last_checkpoint(f"{bad_steps} consecutive non-finite steps")
                    bad_steps = 0
                    continue
            else:
                bad_steps = 0
            t3 = time.perf_counter()
            update_ema(G_ema, G, ema_beta(cfg.batch, ema_kimg=cfg.ema_kimg, images_seen=prog.images_seen, rampup=cfg.ema_rampup))
            phase_s["ema"] += time.perf_counter() - t3

            # Logging, evaluation, samples, checkpoints (rank 0 writes; every rank saves together).
            n_window += cfg.batch
            last = dict(zip(("loss_d_real", "loss_d_fake", "loss_d_mismatch", "loss_g", "loss_clip", "loss_rec",
                             "loss_div"),
                            (*d_stats, *g_stats)))
            last["blur_sigma"], last["recon_weight"] = sigma, rec_w
            if progress is not None:
                progress.update(1)
            if prog.step % cfg.log_every == 0 and distinfo.main:
                now = time.perf_counter()
                rate = n_window / max(now - t_window, 1e-9)
                # mean milliseconds per step of each phase: the D step (text encoding, G's forward,
                # D forward and backward), the G step (D and CLIP guidance forward, backward through
                # them and G; G's forward too when accumulation recomputes it), the EMA update
                phase_ms = {f"ms_{k}": 1000 * v * cfg.batch / max(n_window, 1) for k, v in phase_s.items()}
                t_window, n_window = now, 0
                phase_s = dict.fromkeys(phase_s, 0.0)
                log({"step": prog.step, "kimg": prog.images_seen / 1000, "stage": prog.stage, "img_per_s": rate,
                     **phase_ms, **last})
                if progress is not None:
                    progress.set_postfix(stage=prog.stage[:4], img_s=f"{rate:.0f}", d=f"{last['loss_d_real'] + last['loss_d_fake']:.3f}",
                                         g=f"{last['loss_g']:.3f}", clip=f"{last['loss_clip']:.3f}")
            if cfg.eval_every and prog.step % cfg.eval_every == 0 and distinfo.main:
                log({"step": prog.step, "kimg": prog.images_seen / 1000, "stage": prog.stage,
                     **prefix("eval", evaluate_generator(G_ema, cfg, device))})
            if cfg.sample_every and prog.step % cfg.sample_every == 0 and distinfo.main:
                with writing(out / "samples"):
                    save_sample_grid(G_ema, cfg, out / "samples" / f"step-{prog.step:09d}.png", device)
            if cfg.checkpoint_every and prog.step % cfg.checkpoint_every == 0:
                checkpoint()

        # --- end -------------------------------------------------------------------------------
        if progress is not None:
            progress.close()
        ckpt = saved[1] if saved[0] == prog.step else checkpoint()  # the last step's save may be the final one
        summary: dict[str, Any] = {"run": str(out), "checkpoint": str(ckpt), "step": prog.step,
                                   "images_seen": prog.images_seen, "stage": prog.stage,
                                   "minutes": elapsed_minutes(), "skipped_steps": total_bad,
                                   "restores": prog.restores, "fp16_overflows": overflows,
                                   "stopped_by": stop.received.name if stop.received is not None else None,
                                   "bad_samples": source.bad_samples(), "bad_sample_names": source.bad_sample_names()}
        if distinfo.main:
            if args.final_eval and summary["stopped_by"] is None:
                with writing(out / "samples"):
                    summary["samples"] = str(save_sample_grid(G_ema, cfg, out / "samples" / "final.png", device))
                if prog.step > start_step or not (out / "final_eval.json").exists():
                    scores = evaluate_generator(G_ema, cfg, device, final=True)
                    with writing(out / "final_eval.json"):
                        (out / "final_eval.json").write_text(json.dumps(scores, indent=2))
                    log({"step": prog.step, "kimg": prog.images_seen / 1000, "stage": prog.stage, **prefix("final", scores)})
                    summary["scores"] = scores
            print_summary(summary)
    if world > 1:
        dist.destroy_process_group()
    return summary


def prefix(name: str, values: dict[str, Any]) -> dict[str, Any]:
    return {f"{name}/{k}": v for k, v in values.items()}


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
        print("ShapesT2I scores of the EMA generator (all scores in final_eval.json):")
        print("  " + ", ".join(f"{k} {scores[k]:.3f}" for k in keys if k in scores))


if __name__ == "__main__":
    result = main()
    if result["stopped_by"] is not None:
        import signal

        raise SystemExit(128 + signal.Signals[result["stopped_by"]].value)
