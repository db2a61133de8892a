"""Run training arms side by side and tabulate their scores (ablations, recipe search).

    python examples/stylegan_t/ablation.py --suite paper --steps 400 --seeds 0,1,2 --jobs 2 --out runs/ablation
    python examples/stylegan_t/ablation.py --suite paper --steps 500 --out runs/ablation-emoji -- --preset emoji

The scores are those the runs' evaluations report: ShapesT2I's (all-correct, binding, ...) or, for
runs on an EmojiT2I folder, the emoji scorer's (style, tone, category, subject top-10 and FD on the
seen, held-out-style and held-out-tone prompts).

Each arm is ``train.py`` with an experiment file of ``experiments/`` (a few settings changed; see
each file's docstring for what was measured); every (arm, seed) run goes to its own folder.
The output folder gets ``results.json`` (every evaluation of every run), ``results.md`` (final
scores, mean ± std over seeds, and the headline score before stage 2) and ``curves.png`` (three
scores over thousands of training images, the mean over seeds per arm with a band of ± one
standard deviation).

``--collect`` tabulates and plots run folders that are already there (``{arm}-s{seed}`` under
``--out``), e.g. runs started by hand or an interrupted suite, without training anything.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ganblocks.cli import ArgumentParser, fail, user_errors

HERE = Path(__file__).resolve().parent

EXPERIMENTS = HERE / "experiments"

# Suites of arms; an arm is an experiment file (experiments/NAME.py, its settings over the
# preset's), or None for the preset as it is.
SUITES: dict[str, dict[str, str | None]] = {
    # The paper's claims (each of StyleGAN-T's changes improves text alignment), one taken back per arm.
    "paper": {"full": None, "affine-modulation": "affine_modulation", "residual": "residual",
              "random-feature-network": "random_feature_network", "no-clip-guidance": "no_clip_guidance",
              "no-stage-2": "no_stage_2", "global-text-only": "no_cross_attention"},
    # The default recipe against the earlier one, and each of its changes taken back alone.
    "default": {"earlier-default": "earlier_default", "default": None, "clip-400-steps": "clip_400_steps",
                "no-cross-attention": "no_cross_attention", "short-blur": "short_blur", "residual": "residual",
                "batch-64": "batch_64", "nearest-upsampling": "nearest_upsampling",
                "no-output-shift": "no_output_shift", "augment": "augment"},
    # Token-level text conditioning in G: the pooled caption only, cross-attention, and self-attention.
    "attention": {"global": "no_cross_attention", "cross-8-16": None, "cross-8-16-self-8": "self_attention_8"},
}


def experiment_flags(experiment: str | None) -> list[str]:
    """The ``train.py`` flags of an arm."""
    return [] if experiment is None else ["--experiment", str(EXPERIMENTS / f"{experiment}.py")]


# The scores tabulated for each kind of data (the first key of a kind is its headline score), and
# the three plotted over training.
KEYS = {
    "shapes": ["all_correct/single_seen", "all_correct/single_heldout", "binding", "position", "shape",
               "colour", "extra", "diversity"],
    "emoji": [f"{group}/{score}" for group in ("seen", "heldout_style", "heldout_tone")
              for score in ("style", "tone", "category", "subject_top10", "fd")],
}
CURVES = {
    "shapes": [("all_correct/single_seen", "all-correct, single-object seen prompts"), ("position", "position hit"),
               ("diversity", "diversity (1: as diverse as the data)")],
    "emoji": [("seen/style", "style accuracy, seen prompts"), ("seen/category", "category accuracy, seen prompts"),
              ("seen/subject_top10", "subject top-10, seen prompts")],
}


def data_kind(results: list[dict]) -> str:
    """"emoji" when the runs report EmojiT2I scores, else "shapes"."""
    return "emoji" if any("seen/style" in e for r in results for e in r["evals"]) else "shapes"


def train_command(name: str, experiment: str | None, seed: int, args: argparse.Namespace) -> list[str]:
    """The ``train.py`` command of one run."""
    return [sys.executable, str(HERE / "train.py"), "--steps", str(args.steps), "--seed", str(seed),
            "--out", str(args.out / f"{name}-s{seed}"), "--eval-every", str(args.eval_every), "--sample-every", "0",
            "--checkpoint-every", str(args.steps), "--eval-samples", str(args.eval_samples),
            *experiment_flags(experiment), *args.extra]


def check_runs(arms: dict[str, str | None], seeds: list[int], args: argparse.Namespace) -> None:
    """``train.py --check`` of the first run: bad flags or weights fail here, before any run starts."""
    name, experiment = next(iter(arms.items()))
    r = subprocess.run([*train_command(name, experiment, seeds[0], args), "--check"],
                       stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
    if r.returncode != 0:
        errors = [line[len("error:"):].strip() for line in r.stderr.splitlines() if line.startswith("error:")]
        fail(f"the runs cannot start: {errors[-1] if errors else r.stderr.strip()[-300:]}")


def read_evals(run: Path) -> list[dict]:
    """Every evaluation in a run folder's ``metrics.jsonl`` (none if it has no such file)."""
    metrics, evals = run / "metrics.jsonl", []
    if metrics.is_file():
        for line in metrics.read_text().splitlines():
            rec = json.loads(line)
            for kind in ("eval", "final"):
                scores = {k[len(kind) + 1:]: v for k, v in rec.items() if k.startswith(f"{kind}/")}
                if scores:
                    evals.append({"step": rec["step"], "kimg": rec.get("kimg"), "stage": rec["stage"], "kind": kind,
                                  **scores})
    return evals


def run_arm(name: str, experiment: str | None, seed: int, args: argparse.Namespace) -> dict:
    cmd = train_command(name, experiment, seed, args)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    t0 = time.perf_counter()
    with open(args.out / f"{name}-s{seed}.log", "w") as log:
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
    result = {"arm": name, "seed": seed, "returncode": rc, "seconds": time.perf_counter() - t0,
              "evals": read_evals(args.out / f"{name}-s{seed}")}
    print(f"{name} seed {seed}: rc {rc}, {result['seconds']:.0f} s", flush=True)
    return result


def collect_arm(name: str, seed: int, args: argparse.Namespace) -> dict | None:
    """The result of a run folder that is already there (``--collect``); None if there is none."""
    evals = read_evals(args.out / f"{name}-s{seed}")
    if not evals:
        print(f"{name} seed {seed}: no evaluations in {args.out / f'{name}-s{seed}'}, left out", flush=True)
        return None
    return {"arm": name, "seed": seed, "returncode": 0, "seconds": None, "evals": evals}


def _fmt(values: list[float]) -> str:
    vals = [v for v in values if v is not None]
    if not vals:
        return "–"
    return f"{np.mean(vals):.2f} ± {np.std(vals):.2f}" if len(vals) > 1 else f"{vals[0]:.2f}"


def tabulate(results: list[dict]) -> str:
    arms = list(dict.fromkeys(r["arm"] for r in results))
    keys = KEYS[data_kind(results)]
    lines = ["| arm | " + " | ".join(keys) + f" | stage-1 {keys[0]} |",
             "|---|" + "---|" * (len(keys) + 1)]
    for arm in arms:
        runs = [r for r in results if r["arm"] == arm]
        finals = [next((e for e in r["evals"] if e["kind"] == "final"), {}) for r in runs]
        stage1 = [next((e for e in reversed(r["evals"]) if e["kind"] == "eval" and e["stage"] == "generator"), {})
                  for r in runs]
        cells = [_fmt([f.get(k) for f in finals]) for k in keys]
        lines.append(f"| {arm} | " + " | ".join(cells) + f" | {_fmt([s.get(keys[0]) for s in stage1])} |")
    return "\n".join(lines)


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    panels = CURVES[data_kind(results)]
    for ax, (key, label) in zip(axes, panels):
        for arm in dict.fromkeys(r["arm"] for r in results):
            # runs of an arm share their evaluation steps, but a run stopped by time may have
            # fewer: each point averages the seeds that reached it (kimg: their mean)
            points: dict[int, list[tuple[float, float]]] = {}
            for r in results:
                if r["arm"] == arm:
                    for e in r["evals"]:
                        if e.get(key) is not None:
                            points.setdefault(e["step"], []).append((e.get("kimg") or e["step"], e[key]))
            steps = sorted(points)
            x = np.array([np.mean([k for k, _ in points[s]]) for s in steps])
            mean = np.array([np.mean([v for _, v in points[s]]) for s in steps])
            std = np.array([np.std([v for _, v in points[s]]) for s in steps])
            (line,) = ax.plot(x, mean, marker="o", markersize=3, label=arm)
            ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.15)
        ax.set_xlabel("thousands of training images (kimg)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> None:
    p = ArgumentParser(description=__doc__)
    p.add_argument("--suite", choices=sorted(SUITES), default="paper", help="the set of arms")
    p.add_argument("--arms", default=None, help="comma-separated subset of the suite's arms")
    p.add_argument("--steps", type=int, default=400, help="training steps per run (equal budget)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel")
    p.add_argument("--threads", type=int, default=1, help="CPU threads per run")
    p.add_argument("--eval-every", type=int, default=100, help="train.py --eval-every of every run")
    p.add_argument("--eval-samples", type=int, default=128, help="train.py --eval-samples of every run")
    p.add_argument("--out", type=Path, default=Path("runs/ablation"), help="folder of the runs and the tables")
    p.add_argument("--collect", action="store_true",
                   help="do not train: tabulate and plot the run folders already under --out")
    p.add_argument("extra", nargs=argparse.REMAINDER, help="after --: flags passed to every run")
    args = p.parse_args(argv)
    args.extra = [a for a in args.extra if a != "--"]
    arms = SUITES[args.suite]
    if args.arms:
        unknown = set(args.arms.split(",")) - set(arms)
        if unknown:
            p.error(f"unknown arms {sorted(unknown)}; the {args.suite} suite has {sorted(arms)}")
        arms = {k: v for k, v in arms.items() if k in args.arms.split(",")}
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        p.error(f"--seeds must be comma-separated integers, got {args.seeds!r}")
    if args.steps <= 0 or args.jobs <= 0:
        p.error("--steps and --jobs must be positive")
    jobs = [(name, experiment, seed) for seed in seeds for name, experiment in arms.items()]
    t0 = time.perf_counter()
    if args.collect:
        results = [r for r in (collect_arm(name, seed, args) for name, _, seed in jobs) if r is not None]
        if not results:
            fail(f"no run folder under {args.out} has evaluations for these arms and seeds")
    else:
        check_runs(arms, seeds, args)
        with user_errors(f"cannot write to {args.out}"):
            args.out.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(args.jobs) as pool:
            results = list(pool.map(lambda j: run_arm(*j, args), jobs))
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    table = tabulate(results)
    (args.out / "results.md").write_text(
        f"{args.suite} suite, {args.steps} steps, seeds {seeds}, flags {' '.join(args.extra) or '(preset)'}, "
        f"{args.jobs} runs in parallel with {args.threads} thread(s) each, "
        f"{(time.perf_counter() - t0) / 60:.1f} min in all\n\n{table}\n")
    plot(results, args.out / "curves.png")
    print(table)
    failed = [f"{r['arm']}-s{r['seed']}" for r in results if r["returncode"] != 0]
    if failed:
        print(f"error: {len(failed)} of {len(results)} runs failed ({', '.join(failed[:5])}); see their .log files "
              f"in {args.out}", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
