"""Speed of the StyleGAN-T generator presets, against the device's dense-matmul limit.

    python benchmarks/bench_speed.py                               # CPU: shapes (32 px), small, lite (64 px)
    python benchmarks/bench_speed.py --presets shapes,small --runs 5
    python benchmarks/bench_speed.py --device cuda --precision bf16 --batch 256

Presets run at 64 px except ``shapes``, which runs at its own 32 px (its ``channel_base`` of 1024
leaves 16 channels at 64 px, fewer than the 32 GroupNorm groups); ``--resolution`` forces one.
For each preset it measures, in one process:

- inference, batch 1 and batch ``--batch``: the generator's forward pass ``G(z, c)`` (mapping +
  synthesis; the caption embeddings are computed beforehand);
- one training step at batch ``--batch``, as ``examples/stylegan_t/train.py`` does it: a D step
  (G forward without gradients, D on blurred reals and fakes, hinge loss, backward, Adam) and a
  G step (G forward, D, hinge loss + 0.2 x CLIP guidance, backward through D and G, Adam), plus
  the EMA update. The frozen networks are the tiny random CLIP and DINO ViT (``--backbones
  tiny``, the default) so that the numbers are about the generator; the tiny CLIP gets the
  preset's text-embedding width (768 for ViT-L/14), so the generator is exactly the preset's.
  ``--backbones preset`` uses the preset's real architectures (random weights, nothing is
  downloaded);
- FLOPs per image, counted by ``torch.utils.flop_counter.FlopCounterMode`` (matmuls and
  convolutions, forward and backward);
- achieved FLOP/s, and its fraction of the dense-matmul limit: the best median FLOP/s of square
  matmuls of a few sizes (``--matmul-sizes``) in the same precision, measured in the same process
  before and after every preset (the table uses the median of those measurements);
- peak memory above the memory in use once the networks are built: on CUDA
  ``torch.cuda.max_memory_allocated``; on CPU the peak resident set (``VmHWM``, reset through
  ``/proc/self/clear_refs`` before each measurement, after glibc's ``malloc_trim`` has returned
  freed memory). Adam's state is part of the training step's memory.

Times are medians of ``--runs`` runs after ``--warmup`` runs. Prints a markdown table; ``--json``
also writes every number.
"""

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "stylegan_t"
sys.path.insert(0, str(EXAMPLE))

import ganblocks  # noqa: E402
from config import preset  # noqa: E402
from model import build_discriminator, build_generator  # noqa: E402

CLIP_GUIDANCE_WEIGHT = 0.2  # stage 1


# ----------------------------------------------------------------------------------------------
# Measuring: time, FLOPs, memory, the matmul limit.


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn: Callable[[], Any], device: torch.device, *, runs: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def count_flops(fn: Callable[[], Any]) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class PeakMemory:
    """Peak memory of a block above ``baseline`` bytes (the memory in use once the networks are
    built; default: the memory in use when the block starts)."""

    def __init__(self, device: torch.device, baseline: int | None = None) -> None:
        self.device, self.baseline = device, baseline
        self.bytes: int | None = None

    def __enter__(self) -> "PeakMemory":
        synchronize(self.device)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            release_free_memory()
            try:  # Linux: "5" resets the peak resident set to the current one
                with open("/proc/self/clear_refs", "w") as f:
                    f.write("5")
            except OSError:
                pass
        if self.baseline is None:
            self.baseline = current_memory(self.device)
        return self

    def __exit__(self, *exc: object) -> None:
        synchronize(self.device)
        if self.device.type == "cuda":
            self.bytes = torch.cuda.max_memory_allocated(self.device) - self.baseline
        else:
            peak = _status_kib("VmHWM")
            self.bytes = None if peak is None else max(peak * 1024 - self.baseline, 0)


def release_free_memory() -> None:
    """Hand memory that ``malloc`` keeps after ``free`` back to the system (glibc), so that the
    resident set counts live memory only."""
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def current_memory(device: torch.device) -> int:
    """Bytes in use: CUDA tensors on ``device``, or the resident set of the process on CPU."""
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device)
    release_free_memory()
    return (_status_kib("VmRSS") or 0) * 1024


def matmul_flops_per_s(device: torch.device, dtype: torch.dtype, *, size: int, runs: int) -> float:
    """Median FLOP/s of a dense ``size x size`` matmul."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    seconds = median_seconds(lambda: torch.mm(a, b), device, runs=runs, warmup=2)
    return 2 * size**3 / seconds


def matmul_limit(device: torch.device, dtype: torch.dtype, *, sizes: list[int], runs: int) -> float:
    """The practical limit of the device: the best median FLOP/s over square matmuls of ``sizes``."""
    return max(matmul_flops_per_s(device, dtype, size=n, runs=runs) for n in sizes)


# ----------------------------------------------------------------------------------------------
# The networks and the step, as in examples/stylegan_t.


@dataclasses.dataclass
class Setup:
    G: torch.nn.Module
    G_ema: torch.nn.Module
    D: torch.nn.Module
    clip: torch.nn.Module
    guidance: torch.nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    cfg: Any
    generator_params: int


def build(name: str, *, resolution: int, batch: int, backbones: str, device: torch.device) -> Setup:
    """The example's networks for a preset; frozen networks tiny (or the preset's, random)."""
    frozen = {} if backbones == "preset" else dict(clip_model="tiny", dino_model="tiny")
    cfg = preset(name, resolution=resolution, batch=batch, d_virtual_batch=min(8, batch),
                 clip_weights=None, dino_weights=None, **frozen)
    torch.manual_seed(0)
    sizes = {}
    if backbones == "tiny" and preset(name).clip_model != "tiny":
        # the preset's text-embedding width, so that the generator (w_dim = z_dim + c_dim) is the preset's
        import open_clip

        sizes["embed_dim"] = int(open_clip.get_model_config(preset(name).clip_model)["embed_dim"])
    clip = ganblocks.create_clip(cfg.clip_model, pretrained=False, **sizes).to(device)
    if cfg.dino_model == "clip":
        backbone = ganblocks.ViTFeatureExtractor.from_open_clip(clip.model.visual)
    else:
        backbone = ganblocks.create_dino_backbone(cfg.dino_model, pretrained=False)
    G = build_generator(cfg, clip).to(device)
    D = build_discriminator(cfg, backbone, clip.embed_dim).to(device)
    betas = (cfg.adam_beta1, cfg.adam_beta2)
    gen_params = [*G.mapping.parameters(), *G.synthesis.parameters()]
    G.text_encoder.requires_grad_(False)
    return Setup(
        G=G, G_ema=_copy(G), D=D, clip=clip, guidance=ganblocks.CLIPGuidanceLoss(clip, crop=cfg.clip_crop),
        opt_g=torch.optim.Adam(gen_params, lr=cfg.lr_g, betas=betas, eps=1e-8),
        opt_d=torch.optim.Adam([p for p in D.parameters() if p.requires_grad], lr=cfg.lr_d, betas=betas, eps=1e-8),
        cfg=cfg, generator_params=sum(p.numel() for p in gen_params),
    )


def _copy(G: torch.nn.Module) -> torch.nn.Module:
    import copy

    return copy.deepcopy(G).eval().requires_grad_(False)


def captions_and_reals(cfg: Any, batch: int, device: torch.device) -> tuple[list[str], torch.Tensor]:
    data = ganblocks.ShapesT2I(resolution=cfg.resolution, seed=0)
    images, captions = data.get_batch(list(range(batch)))
    return captions, images.to(device).float() / 127.5 - 1.0


def training_step(s: Setup, reals: torch.Tensor, captions: list[str], autocast: Callable[[], Any]) -> None:
    """One D step and one G step of stage 1, as in ``train.py`` (one device, no accumulation)."""
    sigma = 2.0
    with torch.no_grad():
        c = s.clip.encode_text(captions)
        c_g = s.G.encode(captions)  # pooled embedding, word tokens and mask
    # Discriminator step.
    s.opt_d.zero_grad(set_to_none=True)
    s.D.heads.requires_grad_(True)
    z = torch.randn(reals.shape[0], s.G.z_dim, device=reals.device)
    with torch.no_grad(), autocast():
        fakes = s.G(z, c_g)
    with autocast():
        real_logits = s.D(ganblocks.gaussian_blur(reals, sigma), c)
        fake_logits = s.D(ganblocks.gaussian_blur(fakes.float(), sigma), c)
        loss = ganblocks.hinge_d_loss_real(real_logits.float()) + ganblocks.hinge_d_loss_fake(fake_logits.float())
    loss.backward()
    s.opt_d.step()
    # Generator step.
    s.opt_g.zero_grad(set_to_none=True)
    s.D.heads.requires_grad_(False)
    z = torch.randn(reals.shape[0], s.G.z_dim, device=reals.device)
    with autocast():
        fakes = s.G(z, c_g)
        loss_g = ganblocks.hinge_g_loss(s.D(ganblocks.gaussian_blur(fakes, sigma), c).float())
        loss = loss_g + CLIP_GUIDANCE_WEIGHT * s.guidance(fakes.float(), c)
    loss.backward()
    s.opt_g.step()
    ganblocks.update_ema(s.G_ema, s.G, ganblocks.ema_beta(reals.shape[0], images_seen=10**6))


# ----------------------------------------------------------------------------------------------
# The benchmark.


def measure(name: str, args: argparse.Namespace, device: torch.device, dtype: torch.dtype,
            autocast: Callable[[], Any], limits: list[float]) -> list[dict[str, Any]]:
    limits.append(matmul_limit(device, dtype, sizes=args.matmul_sizes, runs=args.matmul_runs))
    resolution = args.resolution or (preset(name).resolution if name == "shapes" else 64)
    s = build(name, resolution=resolution, batch=args.batch, backbones=args.backbones, device=device)
    baseline = current_memory(device)
    rows = []
    modes = [m for m in args.modes.split(",") if m]
    for mode in modes:
        batch = 1 if mode == "infer1" else args.batch
        captions, reals = captions_and_reals(s.cfg, batch, device)
        if mode in ("infer1", "infer"):
            s.G.eval()
            with torch.no_grad():
                c = s.G.encode(captions)
            z = torch.randn(batch, s.G.z_dim, device=device)

            def run(z: torch.Tensor = z, c: ganblocks.TextEncoding = c) -> None:
                with torch.inference_mode(), autocast():
                    s.G(z, c, noise_mode="const", update_avg=False)

            runs = args.runs
        elif mode == "train":
            s.G.train()

            def run(reals: torch.Tensor = reals, captions: list[str] = captions) -> None:
                training_step(s, reals, captions, autocast)

            runs = args.train_runs or args.runs
        else:
            raise SystemExit(f"unknown mode {mode!r}: use infer1, infer, train")
        with PeakMemory(device, baseline) as memory:
            flops = count_flops(run)
            seconds = median_seconds(run, device, runs=runs, warmup=args.warmup)
        rows.append(dict(preset=name, resolution=resolution, mode=mode, batch=batch, params=s.generator_params,
                         seconds=seconds,
                         images_per_s=batch / seconds, flops_per_image=flops / batch, flops_per_s=flops / seconds,
                         peak_bytes=memory.bytes, runs=runs))
        print(f"  {name} {mode} b{batch}: {batch / seconds:.2f} img/s, {flops / batch / 1e9:.2f} GFLOP/img, "
              f"{flops / seconds / 1e9:.1f} GFLOP/s", file=sys.stderr, flush=True)
    limits.append(matmul_limit(device, dtype, sizes=args.matmul_sizes, runs=args.matmul_runs))
    return rows


def table(rows: list[dict[str, Any]], limit: float) -> str:
    labels = {"infer1": "inference", "infer": "inference", "train": "training step (G+D)"}
    lines = ["| preset | px | G params | what | batch | images/s | GFLOP/image | GFLOP/s | % of matmul limit "
             "| peak memory |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        mem = "n/a" if r["peak_bytes"] is None else f"{r['peak_bytes'] / 2**20:,.0f} MiB"
        lines.append(
            f"| {r['preset']} | {r['resolution']} | {r['params'] / 1e6:.2f} M | {labels[r['mode']]} "
            f"| {r['batch']} | "
            f"{r['images_per_s']:.2f} | {r['flops_per_image'] / 1e9:.2f} | {r['flops_per_s'] / 1e9:.1f} | "
            f"{100 * r['flops_per_s'] / limit:.0f} % | {mem} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", default="shapes,small,lite", help="comma-separated generator presets")
    p.add_argument("--resolution", type=int, default=None, help="image side (default: 64; shapes: 32)")
    p.add_argument("--batch", type=int, default=None, help="the large batch (default 32 on CPU, 128 on CUDA)")
    p.add_argument("--modes", default="infer1,infer,train", help="comma-separated: infer1, infer, train")
    p.add_argument("--runs", type=int, default=5, help="timed runs per measurement (the median is reported)")
    p.add_argument("--train-runs", type=int, default=None, help="timed training steps (default --runs)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs before the timed ones")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                   help="bf16: autocast, measured against a bf16 matmul")
    p.add_argument("--tf32", action="store_true",
                   help="CUDA fp32: allow TF32 in matmuls and convolutions alike")
    p.add_argument("--backbones", choices=("tiny", "preset"), default="tiny",
                   help="frozen CLIP and D feature network: tiny random ones, or the preset's (random weights)")
    p.add_argument("--matmul-sizes", default=None,
                   help="sides of the limit matmuls, the best counts (default 512,1024,2048 CPU; 4096,8192 CUDA)")
    p.add_argument("--matmul-runs", type=int, default=10)
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    p.add_argument("--json", type=Path, default=None, help="also write all numbers here")
    args = p.parse_args(argv)

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if cuda and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA device is available")
    if args.threads:
        torch.set_num_threads(args.threads)
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = args.tf32
        torch.backends.cudnn.benchmark = True
    args.batch = args.batch or (128 if cuda else 32)
    sizes = args.matmul_sizes or ("4096,8192" if cuda else "512,1024,2048")
    args.matmul_sizes = [int(n) for n in sizes.split(",")]
    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
    autocast: Callable[[], Any] = contextlib.nullcontext
    if args.precision == "bf16":
        autocast = lambda: torch.autocast(device.type, dtype=dtype)  # noqa: E731

    if cuda:
        where = torch.cuda.get_device_name(device)
    else:
        where = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    print(f"device: {where}; torch {torch.__version__}; {args.precision}; load average "
          f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "", file=sys.stderr, flush=True)
    rows: list[dict[str, Any]] = []
    limits: list[float] = []
    for name in [n for n in args.presets.split(",") if n]:
        rows += measure(name, args, device, dtype, autocast, limits)
    limit = statistics.median(limits)
    tf32 = " (TF32)" if cuda and args.tf32 and dtype == torch.float32 else ""
    header = (f"Device: {where}; {args.precision}{tf32}; "
              f"backbones: {args.backbones}. Dense-matmul limit "
              f"(best median FLOP/s of square matmuls of side {', '.join(map(str, args.matmul_sizes))}; median of "
              f"{len(limits)} such measurements): {limit / 1e9:.1f} GFLOP/s.")
    print(header)
    print()
    print(table(rows, limit))
    result = {"device": where, "precision": args.precision, "resolution": args.resolution,
              "backbones": args.backbones, "matmul_limit_flops_per_s": limit, "matmul_samples": limits,
              "torch": torch.__version__, "rows": rows}
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
