"""benchmarks/bench_train.py: times the real trainer and prints one table row per mode."""

import json
import subprocess
import sys
from pathlib import Path

from train_helpers import TINY, env

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_train.py"


def test_bench_train_prints_images_per_second(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, str(BENCH), "--preset", "shapes", "--resolution", "32", "--modes", "eager,channels-last",
                        "--steps", "1", "--warmup", "1", "--batch", "8", "--json", str(tmp_path / "r.json"), "--", *TINY],
                       capture_output=True, text=True, env=env(), timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    for mode in ("eager", "channels-last"):
        row = next(line for line in r.stdout.splitlines() if line.startswith(f"| {mode} |"))
        assert float(row.split("|")[2]) > 0
    for r in json.loads((tmp_path / "r.json").read_text())["results"]:
        assert r["img_per_s"] > 0 and r["ms_d_step"] > 0 and r["ms_g_step"] > 0 and r["ms_ema"] >= 0
        # the phases are parts of one step: together no longer than the step itself
        assert (r["ms_d_step"] + r["ms_g_step"] + r["ms_ema"]) / 1000 <= 8 / r["img_per_s"] * 1.05


def test_bench_train_refuses_unknown_modes() -> None:
    r = subprocess.run([sys.executable, str(BENCH), "--modes", "fast"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--modes" in r.stderr.splitlines()[-1]
