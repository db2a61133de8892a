"""Training speed of the StyleGAN-T example: images per second, where a step's time goes, and how
close it comes to the machine's limit.

    python benchmarks/bench_train.py --preset shapes --resolution 32 --batch 32 --account
    python benchmarks/bench_train.py --preset emoji --resolution 32 --batch 32 --account -- --data data/emoji/train
    python benchmarks/bench_train.py --preset shapes --resolution 32 --batch 32 --compare /tmp/ganblocks-old --repeats 5
    python benchmarks/bench_train.py --device cuda --precision bf16 --batch 64 --steps 200 --modes eager,compile

Every measurement runs the trainer's own step (``examples/stylegan_t/train.py``: ``load_config``,
``build``, ``train_step``) in a fresh process, with random weights for the frozen networks
(``--clip-weights none --dino-weights none``: the time does not depend on them, and nothing is
downloaded), for ``--warmup`` steps (the first of ``compile`` includes compiling) and then
``--steps`` timed steps of stage 1. Images/s is the batch over the median step time.

- ``--modes``: a row per mode: ``eager``, or a ``+``-joined set of ``compile`` (``--compile``) and
  ``channels-last`` (``--channels-last``).
- ``--repeats N``: every (tree, mode) runs N times, interleaved (A B A B ...), and the table shows
  the median over repeats: a busy machine slows every row alike.
- ``--compare DIR``: also time the source tree at DIR (e.g. an older commit checked out with
  ``git worktree add DIR COMMIT``), its ``src`` and ``examples/stylegan_t`` on the path instead of
  this tree's; the table gives each mode's ratio to DIR.
- ``--account`` (every run): the milliseconds per step of each phase (the labels the trainer's
  step runs under, ``step.PHASES``, plus the frozen feature network's and the CLIP image tower's
  forward passes within them) from ``torch.profiler``; the FLOPs of one step per image
  (``torch.utils.flop_counter``: matrix products, convolutions and attention, forward and
  backward); this machine's measured matrix-product FLOP/s in the step's precision; and the
  fraction of that limit the step reaches. One column per (tree, mode), medians over repeats; a
  tree whose step has no phase labels (older code) shows its images/s and FLOPs only. ``--top N``
  prints the profiler's top operators of this tree's first run too.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODE_PARTS = {"compile", "channels-last"}


# --- the worker: one (tree, mode) in its own process --------------------------------------------
def matmul_limit(dtype_name: str, device: str) -> float:
    """The best FLOP/s of square matrix products (sizes 512 to 2048) in ``dtype`` on ``device``."""
    import torch

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype_name]
    best = 0.0
    for n in (512, 1024, 2048):
        a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
        times = []
        for _ in range(8):
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            a @ b
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        best = max(best, 2 * n**3 / statistics.median(times[2:]))
    return best


def label_forward(module, name: str) -> None:
    """Run ``module``'s forward passes under a profiler label."""
    from torch.profiler import record_function

    open_labels = []
    module.register_forward_pre_hook(lambda m, a: open_labels.append(record_function(name).__enter__()))
    module.register_forward_hook(lambda m, a, o: open_labels.pop().__exit__(None, None, None))


def build_run(T, out: Path, *, preset: str, resolution: int, batch: int, flags: list[str]):
    """The trainer's run of stage 1, ready for ``T.train_step``: random frozen networks, no
    evaluation, samples or checkpoints, run folder ``out`` (never written)."""
    targs = T.parse_args(["--preset", preset, "--resolution", str(resolution), "--batch", str(batch),
                          "--clip-weights", "none", "--dino-weights", "none", "--stage", "generator",
                          "--steps", "1000000", "--eval-every", "0", "--sample-every", "0", "--checkpoint-every", "0",
                          "--out", str(out), *flags])
    run = T.build(targs, T.load_config(targs), time.perf_counter())
    T.plan(run)
    T.enter_stage(run, run.prog.stage)
    return run


def worker(args: argparse.Namespace, extra: list[str]) -> dict:
    import torch

    import train as T  # this tree's or --compare's trainer, whichever is on the path

    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        t0 = time.perf_counter()
        run = build_run(T, Path(tmp) / "run", preset=args.preset, resolution=args.resolution, batch=args.batch,
                        flags=["--device", args.device, "--precision", args.precision,
                               *(f"--{part}" for part in args.mode.split("+") if part != "eager"), *extra])
        window = {"t": 0.0, "images": 0, "d_step": 0.0, "g_step": 0.0, "ema": 0.0}
        cuda = run.device.type == "cuda"

        def step() -> float:
            t = time.perf_counter()
            T.train_step(run, window)
            if cuda:
                torch.cuda.synchronize()
            return time.perf_counter() - t

        first = step()
        for _ in range(args.warmup - 1):
            step()
        times = [step() for _ in range(args.steps)]
        result = {"mode": args.mode, "tree": str(Path(T.__file__).resolve().parents[2]),
                  "img_per_s": args.batch / statistics.median(times), "first_step_s": first,
                  "setup_s": t0 - args.start, "header": T.header(run), "precision": run.precision}
        if args.account:
            result.update(account(run, T, step, args))
    return result


def account(run, T, step, args: argparse.Namespace) -> dict:
    """Phase times (profiler), FLOPs per image and the fraction of the matmul limit."""
    from torch.profiler import ProfilerActivity, profile
    from torch.utils.flop_counter import FlopCounterMode

    import step as S

    label_forward(run.D.backbone, "feature network (forward)")
    label_forward(run.it.guidance.clip.model.visual, "CLIP image tower (forward)")
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if run.device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        profiled = [step() for _ in range(args.profile_steps)]
    averages = prof.key_averages()
    by_label = {e.key: e for e in averages}
    device_time = "device_time_total" if run.device.type == "cuda" else "cpu_time_total"
    labels = [*getattr(S, "PHASES", ()), "EMA", "feature network (forward)", "CLIP image tower (forward)"]  # older steps: no labels
    phases = {name: getattr(by_label[name], device_time) / 1000 / args.profile_steps
              for name in labels if name in by_label}
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    by_op: dict[str, float] = {}
    for op, flops in counter.get_flop_counts()["Global"].items():
        name = str(op).removeprefix("aten.").split(".")[0]
        by_op[name] = by_op.get(name, 0) + flops / args.batch
    limit = matmul_limit(run.precision, str(run.device))
    top = averages.table(sort_by="self_cuda_time_total" if run.device.type == "cuda" else "self_cpu_time_total",
                         row_limit=args.top) if args.top else ""
    return {"phases_ms": phases, "profiled_step_ms": 1000 * statistics.mean(profiled),
            "flops_per_image": sum(by_op.values()), "flops_by_op": by_op, "matmul_flops_per_s": limit, "top": top}


# --- the driver ------------------------------------------------------------------------------------
def run_worker(tree: Path, mode: str, args: argparse.Namespace, extra: list[str], account: bool) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join([str(tree / "src"), str(tree / "examples" / "stylegan_t"),
                                          os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--mode", mode, "--start", str(time.time()),
           *(["--account", "--top", str(args.top), "--profile-steps", str(args.profile_steps)] if account else []),
           *[f"--{k}={v}" for k, v in (("preset", args.preset), ("resolution", args.resolution), ("batch", args.batch),
                                        ("steps", args.steps), ("warmup", args.warmup), ("device", args.device),
                                        ("precision", args.precision))],
           "--", *extra]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tree)
    if r.returncode != 0:
        raise SystemExit(f"error: {mode} on {tree} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    result = json.loads(r.stdout.strip().splitlines()[-1])
    if Path(result["tree"]) != tree.resolve():
        raise SystemExit(f"error: the run meant for {tree} imported the trainer of {result['tree']}")
    return result


def device_name(device: str) -> str:
    import torch

    if device.startswith("cuda") or (device == "auto" and torch.cuda.is_available()):
        return torch.cuda.get_device_name()
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads"


def print_account(runs: dict[tuple[str, str], list[dict]], batch: int) -> None:
    """One column per (tree, mode): phase milliseconds, images/s, FLOPs, fraction of the limit."""
    med = statistics.median
    columns = {f"{'this' if Path(tree) == ROOT else Path(tree).name}, {mode}": rs for (tree, mode), rs in runs.items()}
    labels = list(dict.fromkeys(name for rs in columns.values() for r in rs for name in r["phases_ms"]))
    nested = ("feature network (forward)", "CLIP image tower (forward)")
    print("\nWhere a step's time goes (torch.profiler; milliseconds per step, median over runs):\n")
    print("| phase | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))

    def cells(value) -> str:
        return " | ".join(value(rs) for rs in columns.values())

    def phase(name: str):
        return lambda rs: (f"{med(r['phases_ms'][name] for r in rs):.1f}" if all(name in r["phases_ms"] for r in rs)
                           else "–")

    for name in labels:
        print(f"| {'↳ ' + name if name in nested else name} | {cells(phase(name))} |")

    def other(rs) -> str:
        if not all(set(r["phases_ms"]) - set(nested) for r in rs):
            return "–"
        return f"{med(r['profiled_step_ms'] - sum(ms for n, ms in r['phases_ms'].items() if n not in nested) for r in rs):.1f}"

    print(f"| (other: spectral norm, bookkeeping) | {cells(other)} |")
    rows = [
        ("**step under the profiler** (ms)", lambda rs: f"{med(r['profiled_step_ms'] for r in rs):.1f}"),
        ("**step without it** (ms)", lambda rs: f"{1000 * batch / med(r['img_per_s'] for r in rs):.1f}"),
        ("images/s", lambda rs: f"{med(r['img_per_s'] for r in rs):.1f}"),
        ("MFLOP per image", lambda rs: f"{med(r['flops_per_image'] for r in rs) / 1e6:.0f}"),
        ("achieved GFLOP/s", lambda rs: f"{med(r['flops_per_image'] * r['img_per_s'] for r in rs) / 1e9:.1f}"),
        ("matmul limit GFLOP/s", lambda rs: f"{med(r['matmul_flops_per_s'] for r in rs) / 1e9:.1f}"),
        ("fraction of the limit",
         lambda rs: f"{med(r['flops_per_image'] * r['img_per_s'] / r['matmul_flops_per_s'] for r in rs):.0%}"),
    ]
    for label, value in rows:
        print(f"| {label} | {cells(value)} |")
    first = next(iter(columns.values()))[0]
    print("\nFLOPs per image (" + next(iter(columns)) + "): "
          + ", ".join(f"{k} {v / 1e6:.0f} M" for k, v in sorted(first["flops_by_op"].items(), key=lambda kv: -kv[1])))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="small")
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--batch", type=int, default=4, help="global batch (default 4, for a CPU; use e.g. 64 on a GPU)")
    p.add_argument("--steps", type=int, default=3, help="timed steps per run")
    p.add_argument("--warmup", type=int, default=1, help="steps before timing (the first includes compiling)")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    p.add_argument("--modes", default="eager", help="comma-separated modes: eager, or +-joined compile and "
                   "channels-last (e.g. compile+channels-last)")
    p.add_argument("--repeats", type=int, default=1, help="interleaved runs of every (tree, mode); medians shown")
    p.add_argument("--compare", type=Path, default=None, metavar="DIR",
                   help="another source tree to time beside this one (e.g. a worktree of an older commit)")
    p.add_argument("--account", action="store_true", help="phase times, FLOPs per image and fraction of the limit")
    p.add_argument("--profile-steps", type=int, default=5, help="--account: profiled steps")
    p.add_argument("--top", type=int, default=0, help="--account: print the profiler's top N operators")
    p.add_argument("--json", type=Path, default=None, help="also write every number here")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--mode", default="eager", help=argparse.SUPPRESS)
    p.add_argument("--start", type=float, default=0.0, help=argparse.SUPPRESS)
    p.add_argument("extra", nargs=argparse.REMAINDER, help="after --: flags passed to train.py")
    args = p.parse_args()
    extra = [a for a in args.extra if a != "--"]
    if args.worker:
        args.start = time.perf_counter() - (time.time() - args.start)  # the process's start on this clock
        print(json.dumps(worker(args, extra), default=str))
        return
    modes = args.modes.split(",")
    bad = [m for m in modes if m != "eager" and not set(m.split("+")) <= MODE_PARTS]
    if bad or min(args.steps, args.warmup, args.batch, args.repeats, args.profile_steps) < 1:
        p.error(f"unknown --modes {bad}: use eager, compile, channels-last or compile+channels-last; "
                "--steps, --warmup, --batch, --repeats and --profile-steps must be >= 1")
    if args.compare is not None and not (args.compare / "examples" / "stylegan_t" / "train.py").is_file():
        p.error(f"--compare {args.compare}: no examples/stylegan_t/train.py there; give a ganblocks source tree")
    trees = [ROOT] + ([args.compare.resolve()] if args.compare is not None else [])
    runs: dict[tuple[str, str], list[dict]] = {}
    for rep in range(args.repeats):
        for mode in modes:
            for tree in trees if rep % 2 == 0 else trees[::-1]:
                r = run_worker(tree, mode, args, extra, account=args.account)
                runs.setdefault((str(tree), mode), []).append(r)
                print(f"{'this tree' if tree == ROOT else tree}, {mode}: {r['img_per_s']:.1f} images/s", file=sys.stderr)
    first = runs[(str(ROOT), modes[0])][0]
    print(f"\n{first['header']}\n{args.preset} preset, {args.resolution} px, batch {args.batch}, {device_name(args.device)}, "
          f"{first['precision']}; images/s over the median of {args.steps} steps after {args.warmup} warm-up, "
          f"median of {args.repeats} interleaved run(s)\n")
    columns = "| tree | mode | images/s | runs | first step (s) | set-up (s) |" + (" vs --compare |" if len(trees) > 1 else "")
    print(columns)
    print("|" + "---|" * (columns.count("|") - 1))
    for (tree, mode), rs in runs.items():
        rate = statistics.median(r["img_per_s"] for r in rs)
        cells = [("this" if tree == str(ROOT) else Path(tree).name), mode, f"{rate:.1f}",
                 ", ".join(f"{r['img_per_s']:.0f}" for r in rs), f"{statistics.median(r['first_step_s'] for r in rs):.1f}",
                 f"{statistics.median(r['setup_s'] for r in rs):.1f}"]
        if len(trees) > 1:
            base = statistics.median(r["img_per_s"] for r in runs[(str(trees[1]), mode)])
            cells.append(f"{rate / base:.2f}x")
        print("| " + " | ".join(cells) + " |")
    if args.account:
        print_account(runs, args.batch)
        if first.get("top"):
            print(f"\nTop operators over the profiled steps ({first['mode']}, this tree):\n{first['top']}")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "runs": {f"{t} {m}": rs for (t, m), rs in runs.items()}}, indent=2, default=str))


if __name__ == "__main__":
    main()
