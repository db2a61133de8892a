"""How much faster the StyleGAN-T training step is than before, and which parts gain from
``torch.compile``, measured in one process.

    python benchmarks/bench_compile_parts.py --preset shapes --resolution 32 --batch 32 --blocks 8
    python benchmarks/bench_compile_parts.py --preset emoji -- --data data/emoji/train

Builds the trainer's run (``examples/stylegan_t/train.py``: random frozen networks, stage 1),
compiles each part once -- ``G`` (the mapping and synthesis networks), ``D`` (the discriminator
heads), ``B`` (the frozen feature network), ``C`` (the CLIP guidance) -- and then switches every
part between its compiled and its eager forward between blocks of steps. The arms are the
cumulative sets eager, G, GD, GDB, GDBC, and "before": eager with the step as it was before its
eager speed-ups (the frozen CLIP and the generator each encoding the captions, and the EMA
updated one tensor at a time). The arms run in alternating order block after block, so a change
of the machine's speed (other jobs, clock) hits every arm alike; the table shows each arm's median
step over all its blocks and its speed against "before" and against eager. The first step of each
block is not timed. The run's ``--compile`` flag compiles what this measures worth it.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "stylegan_t"))

from bench_train import build_run  # noqa: E402  (the benchmarks folder is the script's own)

ARMS = ("before", "eager", "G", "GD", "GDB", "GDBC")


def update_ema_per_tensor(ema_module, module, beta: float) -> None:
    """The EMA update as it was: one lerp per parameter (the same numbers as the fused one)."""
    import torch

    with torch.no_grad():
        for (_, e), (_, p) in zip(sorted(ema_module.named_parameters()), sorted(module.named_parameters())):
            e.lerp_(p.detach(), 1.0 - beta)
        for (_, e), (_, b) in zip(sorted(ema_module.named_buffers()), sorted(module.named_buffers())):
            e.copy_(b.detach())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="shapes")
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--blocks", type=int, default=6, help="blocks of steps per arm")
    p.add_argument("--steps", type=int, default=8, help="timed steps per block")
    p.add_argument("--backend", default="inductor", help="torch.compile backend (default inductor)")
    p.add_argument("extra", nargs=argparse.REMAINDER, help="after --: flags passed to train.py")
    args = p.parse_args()
    if min(args.blocks, args.steps, args.batch) < 1:
        p.error("--blocks, --steps and --batch must be >= 1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import train as T

    with tempfile.TemporaryDirectory(prefix="bench-compile-") as tmp:
        run = build_run(T, Path(tmp) / "run", preset=args.preset, resolution=args.resolution, batch=args.batch,
                        flags=[a for a in args.extra if a != "--"])
        parts = {"G": [run.G.mapping, run.G.synthesis], "D": [run.D.heads], "B": [run.D.backbone],
                 "C": [run.it.guidance]}
        compiled = {}
        for modules in parts.values():
            for m in modules:
                m.compile(backend=args.backend)
                compiled[id(m)] = m._compiled_call_impl

        shares, update_ema = run.it.shares_text_encoder, T.update_ema

        def use(arm: str) -> None:
            for key, modules in parts.items():
                for m in modules:  # the compiled forward, or none: nn.Module then calls the eager one
                    m._compiled_call_impl = compiled[id(m)] if key in arm and arm != "before" else None
            run.it.shares_text_encoder = shares and arm != "before"
            T.update_ema = update_ema_per_tensor if arm == "before" else update_ema

        window = {"t": 0.0, "images": 0, "d_step": 0.0, "g_step": 0.0, "ema": 0.0}
        t0 = time.perf_counter()
        for arm in ARMS:  # compile every arm's variants before timing anything
            use(arm)
            for _ in range(3):
                T.train_step(run, window)
        warmup = time.perf_counter() - t0
        times: dict[str, list[float]] = {arm: [] for arm in ARMS}
        for block in range(args.blocks):
            for arm in ARMS if block % 2 == 0 else ARMS[::-1]:
                use(arm)
                T.train_step(run, window)
                for _ in range(args.steps):
                    t = time.perf_counter()
                    T.train_step(run, window)
                    times[arm].append(time.perf_counter() - t)
    before, eager = statistics.median(times["before"]), statistics.median(times["eager"])
    print(f"\n{T.header(run)}; batch {args.batch}, {args.blocks} blocks of {args.steps} steps per arm, "
          f"{os.cpu_count()} cores; warm-up and compiling {warmup:.0f} s\n")
    print("| arm | images/s | median step (ms) | vs before | vs eager |")
    print("|---|---|---|---|---|")
    names = {"G": "G's mapping and synthesis", "D": "D's heads", "B": "the feature network", "C": "the CLIP guidance"}
    for arm in ARMS:
        step = statistics.median(times[arm])
        label = {"before": "before (eager)", "eager": "eager"}.get(arm) or "compiled: " + " + ".join(names[k] for k in arm)
        print(f"| {label} | {args.batch / step:.1f} | {1000 * step:.1f} | {before / step:.2f}x | {eager / step:.2f}x |")


if __name__ == "__main__":
    main()
