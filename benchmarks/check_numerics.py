"""Fingerprint a short training run, to check that a refactor leaves the numbers bit-identical.

Trains a preset of examples/stylegan_t for a few steps on the CPU (one thread, fp32, seeded, no
final evaluation) and writes a JSON with every step's logged losses and a sha256 of every tensor
file of the final checkpoint (the networks and the optimizer states). Two runs of the same code
give the same JSON; a change that keeps the default recipe's numerics gives the same JSON too.

    python benchmarks/check_numerics.py --out /tmp/before.json           # this working tree
    git worktree add /tmp/base <commit>
    python benchmarks/check_numerics.py --tree /tmp/base --out /tmp/before.json   # another tree
    python benchmarks/check_numerics.py --out /tmp/after.json --compare /tmp/before.json

``--tree`` runs that tree's ``examples/stylegan_t/train.py`` against that tree's ``src/``
(``PYTHONPATH``), so an old commit is measured with its own library. ``--compare`` exits 1 when
a loss or a tensor file differs. Loss keys that only one side logs (a loss that was added or
removed) are listed but do not count as a difference.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def tensor_hashes(checkpoint: Path) -> dict[str, str]:
    """sha256 of each ``*.safetensors`` file's tensors (name, dtype, shape and bytes, in name
    order), keyed by file name; the RNG file is left out (it holds no trained state)."""
    from safetensors.torch import load_file

    hashes = {}
    for path in sorted(checkpoint.glob("*.safetensors")):
        if path.name == "rng.safetensors":
            continue
        h = hashlib.sha256()
        for name, t in sorted(load_file(path).items()):
            h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
            h.update(t.contiguous().view(-1).view(dtype=__import__("torch").uint8).numpy().tobytes())
        hashes[path.name] = h.hexdigest()
    return hashes


def fingerprint(tree: Path, *, preset: str, steps: int, threads: int, extra: list[str]) -> dict[str, Any]:
    """Train ``preset`` for ``steps`` steps with ``tree``'s trainer; its losses and hashes."""
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        cmd = [sys.executable, str(tree / "examples" / "stylegan_t" / "train.py"), "--preset", preset,
               "--steps", str(steps), "--log-every", "1", "--no-final-eval", "--device", "cpu",
               "--precision", "fp32", "--out", str(run), *extra]
        env = {**os.environ, "PYTHONPATH": str(tree / "src"), "OMP_NUM_THREADS": str(threads),
               "MKL_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1"}
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"train.py exited {r.returncode}:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
        losses = []
        for line in (run / "metrics.jsonl").read_text().splitlines():
            record = json.loads(line)
            if "loss_g" in record:
                losses.append({"step": record["step"], "stage": record["stage"],
                               **{k: v for k, v in record.items() if k.startswith("loss_")}})
        checkpoint = run / "checkpoints" / (run / "checkpoints" / "latest").read_text().strip()
        return {"command": cmd[1:], "preset": preset, "steps": steps, "threads": threads,
                "losses": losses, "checkpoint": checkpoint.name, "sha256": tensor_hashes(checkpoint)}


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The differences between two fingerprints (empty: bit-identical)."""
    problems = []
    if [x["step"] for x in a["losses"]] != [x["step"] for x in b["losses"]]:
        problems.append("the logged steps differ")
    for x, y in zip(a["losses"], b["losses"]):
        for key in sorted(set(x) & set(y)):
            if x[key] != y[key]:
                problems.append(f"step {x['step']}: {key} {x[key]!r} != {y[key]!r}")
    for name in sorted(set(a["sha256"]) | set(b["sha256"])):
        if a["sha256"].get(name) != b["sha256"].get(name):
            problems.append(f"{name}: {a['sha256'].get(name)} != {b['sha256'].get(name)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tree", type=Path, default=ROOT, help="the repository checkout to measure (default: this one)")
    p.add_argument("--preset", default="shapes", help="train.py preset (default: shapes)")
    p.add_argument("--steps", type=int, default=50, help="training steps (default: 50)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (default: 1)")
    p.add_argument("--out", type=Path, default=None, help="write the fingerprint JSON here (default: stdout)")
    p.add_argument("--compare", type=Path, default=None, help="a fingerprint JSON to check bit equality against")
    p.add_argument("train_args", nargs="*", help="more train.py flags, after --")
    args = p.parse_args(argv)
    result = fingerprint(args.tree.resolve(), preset=args.preset, steps=args.steps, threads=args.threads,
                         extra=args.train_args)
    text = json.dumps(result, indent=1)
    if args.out is not None:
        args.out.write_text(text + "\n")
    else:
        print(text)
    if args.compare is not None:
        before = json.loads(args.compare.read_text())
        only = sorted({k for x in before["losses"] for k in x} ^ {k for x in result["losses"] for k in x})
        if only:
            print(f"logged by one side only (not compared): {only}")
        problems = compare(before, result)
        for line in problems[:20]:
            print(line)
        print(f"{args.steps}-step bitwise: {'not equal' if problems else 'equal'}")
        for name, digest in result["sha256"].items():
            print(f"  {name} {digest}")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
