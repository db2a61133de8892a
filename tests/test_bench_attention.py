import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_attention.py"


def _run(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "r.json"
    r = subprocess.run([sys.executable, str(BENCH), *args, "--threads", "1", "--json", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(out.read_text())


def test_speed_times_both_attention_layers_against_their_block(tmp_path):
    res = _run(tmp_path, "speed", "--channels", "32", "--batch", "2", "--resolutions", "8,16", "--reps", "1")
    assert [row["resolution"] for row in res["rows"]] == [8, 16]
    for row in res["rows"]:
        assert row["block_ms"] > 0 and row["self_attention_ms"] > 0 and row["cross_attention_ms"] > 0
        assert abs(row["cross_ratio"] - row["cross_attention_ms"] / row["block_ms"]) < 1e-9


def test_stability_reports_every_variant(tmp_path):
    res = _run(tmp_path, "stability", "--steps", "2", "--seeds", "1", "--batch", "2")
    assert set(res["variants"]) == {"dot", "qk_norm", "l2"}
    for v in res["variants"].values():
        run = v["runs"][0]
        assert run["finite"] and run["max_logit"] > 0 and 0 < run["entropy"] <= 5.55 + 1e-6
