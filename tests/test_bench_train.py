"""benchmarks/bench_train.py: times the real trainer's step, says where its time goes, and compares
two source trees."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from train_helpers import TINY, env

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks" / "bench_train.py"


def bench(*args: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict]:
    r = subprocess.run([sys.executable, str(BENCH), "--preset", "shapes", "--resolution", "32", "--steps", "1",
                        "--warmup", "1", "--batch", "8", "--json", str(tmp_path / "r.json"), *args, "--", *TINY],
                       capture_output=True, text=True, env=env(), timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return r, json.loads((tmp_path / "r.json").read_text())


def row(stdout: str, tree: str, mode: str) -> list[str]:
    return [c.strip() for c in next(line for line in stdout.splitlines() if line.startswith(f"| {tree} | {mode} |")).split("|")]


@pytest.mark.slow
def test_bench_train_prints_images_per_second_per_mode(tmp_path: Path) -> None:
    r, numbers = bench("--modes", "eager,channels-last", tmp_path=tmp_path)
    for mode in ("eager", "channels-last"):
        assert float(row(r.stdout, "this", mode)[3]) > 0
    assert all(run["img_per_s"] > 0 for runs in numbers["runs"].values() for run in runs)


def test_bench_train_accounts_for_the_phases_of_a_step(tmp_path: Path) -> None:
    import step

    r, numbers = bench("--account", "--profile-steps", "2", "--top", "5", tmp_path=tmp_path)
    (result,) = next(iter(numbers["runs"].values()))
    phases = result["phases_ms"]
    # every phase of the step ran under its label (the guidance too: TINY keeps CLIP guidance on)
    assert set(step.PHASES) | {"EMA"} <= set(phases), sorted(phases)
    assert phases["feature network (forward)"] > 0 and phases["CLIP image tower (forward)"] > 0
    # the top-level phases are disjoint parts of a step: together no longer than the profiled step
    top_level = sum(ms for name, ms in phases.items() if "(forward)" not in name)
    assert 0 < top_level <= result["profiled_step_ms"] * 1.02
    # a step multiplies matrices and convolves, forward and backward
    assert result["flops_by_op"]["convolution"] > 0 and result["flops_by_op"]["convolution_backward"] > 0
    assert result["flops_per_image"] == pytest.approx(sum(result["flops_by_op"].values()))
    assert result["matmul_flops_per_s"] > 1e8
    assert "| fraction of the limit |" in r.stdout and "| G backward |" in r.stdout
    assert "Top operators" in r.stdout


@pytest.mark.slow
def test_bench_train_compares_with_another_source_tree(tmp_path: Path) -> None:
    other = tmp_path / "other"
    subprocess.run(["git", "worktree", "add", "--detach", str(other), "HEAD"], cwd=ROOT, check=True, capture_output=True)
    try:
        r, numbers = bench("--compare", str(other), "--repeats", "2", "--account", "--profile-steps", "1",
                           tmp_path=tmp_path)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=ROOT, capture_output=True)
    trees = {Path(run["tree"]) for runs in numbers["runs"].values() for run in runs}
    assert trees == {ROOT, other.resolve()}  # each run imported its own tree's trainer
    assert all(len(runs) == 2 for runs in numbers["runs"].values())
    assert row(r.stdout, "this", "eager")[-2].endswith("x")  # the ratio to the other tree
    # the phase table has a column per tree: "this, eager" and "other, eager"
    header = next(line for line in r.stdout.splitlines() if line.startswith("| phase |"))
    assert "this, eager" in header and "other, eager" in header
    g_backward = next(line for line in r.stdout.splitlines() if line.startswith("| G backward |"))
    assert all(float(c) > 0 for c in g_backward.split("|")[2:-1])


def test_bench_train_refuses_unknown_modes_and_trees(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, str(BENCH), "--modes", "fast"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--modes" in r.stderr.splitlines()[-1]
    r = subprocess.run([sys.executable, str(BENCH), "--compare", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "no examples/stylegan_t/train.py" in r.stderr.splitlines()[-1]


@pytest.mark.slow
def test_bench_compile_parts_times_every_arm() -> None:
    script = ROOT / "benchmarks" / "bench_compile_parts.py"
    r = subprocess.run([sys.executable, str(script), "--backend", "eager", "--blocks", "1", "--steps", "1", "--", *TINY],
                       capture_output=True, text=True, env=env(), timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [line for line in r.stdout.splitlines() if line.startswith("| ") and "x |" in line]
    assert len(rows) == 6 and rows[0].startswith("| before (eager) |") and rows[1].startswith("| eager |")
    assert rows[0].split("|")[4].strip() == "1.00x" and rows[1].endswith("| 1.00x |")
    assert all(float(row.split("|")[2]) > 0 for row in rows)
