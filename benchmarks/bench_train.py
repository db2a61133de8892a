"""Training speed of the StyleGAN-T example, in images per second: eager, compiled, channels-last.

    python benchmarks/bench_train.py                                    # small preset, 64 px, this device
    python benchmarks/bench_train.py --device cuda --precision bf16 --batch 64 --steps 200
    python benchmarks/bench_train.py --modes eager,channels-last,compile+channels-last --device cuda
    python benchmarks/bench_train.py --modes eager --steps 3 -- --channel-max 128   # flags after -- go to train.py

Runs ``examples/stylegan_t/train.py`` itself, once per mode, each in a
fresh process, for ``--warmup + --steps`` steps of stage 1, with random weights for the frozen
networks (``--clip-weights none --dino-weights none``: the time does not depend on them, and
nothing is downloaded). The trainer logs the images per second of every step; the table shows
the median over the steps after the warm-up (the first step of ``compile`` includes compiling),
with the milliseconds per step of its phases (the D step: text encoding, G's forward, D forward
and backward; the G step: D and CLIP guidance forward, backward through them and G -- with one
accumulation round G's forward is kept from the D step, with several it is recomputed; the EMA
update), the seconds from start to the first step, and the first step's
seconds. Nothing is evaluated; the run folders are deleted afterwards. A mode is ``eager`` or a
``+``-joined set of ``compile`` (``--compile``) and ``channels-last`` (``--channels-last``).
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

TRAIN = Path(__file__).resolve().parents[1] / "examples" / "stylegan_t" / "train.py"
PHASES = ("ms_d_step", "ms_g_step", "ms_ema")  # milliseconds per step the trainer logs for each phase


def run_mode(mode: str, args: argparse.Namespace, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, str(TRAIN), "--preset", args.preset, "--resolution", str(args.resolution),
               "--clip-weights", "none", "--dino-weights", "none", "--stage", "generator",
               "--steps", str(args.warmup + args.steps), "--batch", str(args.batch), "--log-every", "1",
               "--eval-every", "0", "--sample-every", "0", "--checkpoint-every", "0", "--keep-checkpoints", "1",
               "--device", args.device, "--precision", args.precision, "--no-final-eval", "--out", str(out),
               *(f"--{part}" for part in mode.split("+") if part != "eager"), *extra]
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        wall = time.perf_counter() - t0
        if r.returncode != 0:
            raise SystemExit(f"error: {mode} run failed ({r.returncode}):\n{r.stderr[-3000:]}")
        logs = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if '"img_per_s"' in x]
        header = next((line for line in r.stdout.splitlines() if line.startswith("StyleGAN-T |")), "")
    rates = [x["img_per_s"] for x in logs]
    first = args.batch / rates[0]

    def median_after_warmup(key: str) -> float:
        values = [x[key] for x in logs[args.warmup:] if key in x]
        return statistics.median(values) if values else float("nan")

    return {"mode": mode, "img_per_s": median_after_warmup("img_per_s"),
            **{key: median_after_warmup(key) for key in PHASES},
            "first_step_s": first, "rates": rates, "wall_s": wall, "header": header}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="small")
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--batch", type=int, default=4, help="global batch (default 4, for a CPU; use e.g. 64 on a GPU)")
    p.add_argument("--steps", type=int, default=3, help="timed steps per mode")
    p.add_argument("--warmup", type=int, default=1, help="steps before timing (the first includes compiling)")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    p.add_argument("--modes", default="eager,compile", help="comma-separated modes: eager, or +-joined compile and "
                   "channels-last (e.g. compile+channels-last)")
    p.add_argument("--json", type=Path, default=None, help="also write every number here")
    p.add_argument("extra", nargs=argparse.REMAINDER, help="after --: flags passed to train.py")
    args = p.parse_args()
    extra = [a for a in args.extra if a != "--"]
    modes = args.modes.split(",")
    bad = [m for m in modes if m != "eager" and not set(m.split("+")) <= {"compile", "channels-last"}]
    if bad or args.steps < 1 or args.warmup < 1 or args.batch < 1:
        p.error(f"unknown --modes {bad}: use eager, compile, channels-last or compile+channels-last; "
                "--steps, --warmup and --batch must be >= 1")
    results = [run_mode(mode, args, extra) for mode in modes]
    import torch

    device = torch.cuda.get_device_name() if "cuda" in args.device or (args.device == "auto" and torch.cuda.is_available()) \
        else f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    print(f"\n{results[0]['header']}\n{args.preset} preset, {args.resolution} px, batch {args.batch}, {device}, "
          f"torch {torch.__version__}; median of {args.steps} steps after {args.warmup} warm-up\n")
    print("| mode | images/s | D step (ms) | G step (ms) | EMA (ms) | first step (s) | whole run (s) |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        phases = " | ".join(f"{r[key]:.0f}" for key in PHASES)
        print(f"| {r['mode']} | {r['img_per_s']:.2f} | {phases} | {r['first_step_s']:.1f} | {r['wall_s']:.0f} |")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: v for k, v in vars(args).items() if k != "json"}, "device": device,
                                         "results": results}, indent=2, default=str))


if __name__ == "__main__":
    main()
