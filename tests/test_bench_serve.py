"""benchmarks/bench_serve.py: latency in a real browser and throughput, one table row per preset."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench_serve import CHROMEDRIVER, CHROMIUM
from train_helpers import env

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_serve.py"


@pytest.mark.slow
def test_bench_serve_prints_latency_and_throughput(tmp_path: Path) -> None:
    if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
        message = f"no {CHROMIUM} and {CHROMEDRIVER}: apt-get install chromium chromium-driver (scripts/test.sh installs them)"
        if os.environ.get("GANBLOCKS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"GANBLOCKS_REQUIRE_BROWSER=1 but {message}")
        pytest.skip(f"browser test: {message}")
    r = subprocess.run([sys.executable, str(BENCH), "--presets", "shapes", "--prompts", "3", "--seconds", "0.5",
                        "--repeats", "1", "--clients", "2", "--json", str(tmp_path / "r.json")],
                       capture_output=True, text=True, env=env(), timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    row = next(line for line in r.stdout.splitlines() if line.startswith("| shapes | 32 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    p50, p95 = (float(x) for x in cells[2].split("/"))
    assert 0 < p50 <= p95 and float(cells[4]) >= 0 and float(cells[5]) > 0 and float(cells[6]) > 0
    result = json.loads((tmp_path / "r.json").read_text())["results"]["shapes"]
    assert result["latency_runs"][0]["prompts"] == 3


def test_bench_serve_refuses_unknown_presets() -> None:
    r = subprocess.run([sys.executable, str(BENCH), "--presets", "huge"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--presets" in r.stderr.splitlines()[-1]
