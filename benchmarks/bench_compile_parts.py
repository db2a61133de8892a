"""Which parts of the StyleGAN-T training step gain from ``torch.compile``, measured in one process.

    python benchmarks/bench_compile_parts.py --preset shapes --resolution 32 --batch 32 --blocks 8
    python benchmarks/bench_compile_parts.py --preset emoji -- --data data/emoji/train

Builds the trainer's run (``examples/stylegan_t/train.py``: random frozen networks, stage 1),
compiles each part once -- ``G`` (the mapping and synthesis networks), ``D`` (the discriminator
heads), ``B`` (the frozen feature network), ``C`` (the CLIP guidance) -- and then switches every
part between its compiled and its eager forward between blocks of steps. The arms are the
cumulative sets eager, G, GD, GDB, GDBC, run in alternating order block after block, so a change
of the machine's speed (other jobs, clock) hits every arm alike; the table shows each arm's median
step over all its blocks and its speed against eager. The first step of each block is not timed.
The run's ``--compile`` flag compiles what this measures worth it.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "stylegan_t"))

ARMS = ("eager", "G", "GD", "GDB", "GDBC")


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
        targs = T.parse_args([
            "--preset", args.preset, "--resolution", str(args.resolution), "--batch", str(args.batch),
            "--clip-weights", "none", "--dino-weights", "none", "--stage", "generator", "--steps", "1000000",
            "--eval-every", "0", "--sample-every", "0", "--checkpoint-every", "0", "--out", str(Path(tmp) / "run"),
            *[a for a in args.extra if a != "--"]])
        run = T.build(targs, T.load_config(targs), time.perf_counter())
        T.plan(run)
        T.enter_stage(run, run.prog.stage)
        parts = {"G": [run.G.mapping, run.G.synthesis], "D": [run.D.heads], "B": [run.D.backbone],
                 "C": [run.it.guidance]}
        compiled = {}
        for modules in parts.values():
            for m in modules:
                m.compile(backend=args.backend)
                compiled[id(m)] = m._compiled_call_impl

        def use(arm: str) -> None:
            for key, modules in parts.items():
                for m in modules:  # the compiled forward, or none: nn.Module then calls the eager one
                    m._compiled_call_impl = compiled[id(m)] if key in arm else None

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
    eager = statistics.median(times["eager"])
    print(f"\n{T.header(run)}; batch {args.batch}, {args.blocks} blocks of {args.steps} steps per arm, "
          f"{os.cpu_count()} cores; warm-up and compiling {warmup:.0f} s\n")
    print("| compiled | images/s | median step (ms) | vs eager |")
    print("|---|---|---|---|")
    names = {"G": "G's mapping and synthesis", "D": "D's heads", "B": "the feature network", "C": "the CLIP guidance"}
    for arm in ARMS:
        step = statistics.median(times[arm])
        label = "nothing (eager)" if arm == "eager" else " + ".join(names[k] for k in arm)
        print(f"| {label} | {args.batch / step:.1f} | {1000 * step:.1f} | {eager / step:.2f}x |")


if __name__ == "__main__":
    main()
