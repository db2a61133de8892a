"""End-to-end tests of examples/stylegan_t: training, exact resume, generation, bad input."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "stylegan_t"

# A configuration small enough for a test: 32 px, 32 channels, batch 8, stage 2 on the last fifth
# of the steps (a 4-step run switches after step 3).
TINY = [
    "--resolution", "32", "--channel-base", "1024", "--channel-max", "32", "--batch", "8",
    "--d-virtual-batch", "4", "--eval-every", "0", "--sample-every", "0", "--log-every", "1",
    "--eval-samples", "10", "--checkpoint-every", "2", "--blur-sigma", "2", "--blur-fade-kimg", "0.05",
    "--stage2-fraction", "0.2",
]


def train(*args: str) -> dict:
    import train as train_module

    return train_module.main([*TINY, *args])


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    ckpt = run / "checkpoints" / (run / "checkpoints" / "latest").read_text().strip()
    out = {}
    for name in ("G", "G_ema", "D"):
        out.update({f"{name}.{k}": v for k, v in load_file(ckpt / f"{name}.safetensors").items()})
    return out


@pytest.mark.slow
def test_resume_is_bitwise_exact(tmp_path: Path) -> None:
    full = train("--steps", "4", "--out", str(tmp_path / "full"))
    assert full["step"] == 4 and full["stage"] == "text-encoder"
    train("--steps", "2", "--out", str(tmp_path / "cut"))
    resumed = train("--resume", str(tmp_path / "cut"), "--steps", "4")
    assert resumed["step"] == 4
    a, b = final_weights(tmp_path / "full"), final_weights(tmp_path / "cut")
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"weights differ after resume: {different[:5]}"
    lines = [json.loads(x) for x in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    assert any("final/all_correct" in x for x in lines)


@pytest.mark.slow
def test_generate_writes_named_pngs_and_grid(tmp_path: Path) -> None:
    train("--steps", "1", "--out", str(tmp_path / "run"))
    out = tmp_path / "gen"
    subprocess.run([sys.executable, str(EXAMPLE / "generate.py"), "--checkpoint", str(tmp_path / "run"),
                    "--prompt", "a red circle in the center", "--prompt", "a blue square at the top",
                    "--seeds", "0-2", "--truncation", "0.7", "--out", str(out)], check=True)
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == ["grid.png"] + [f"p{i}_s{s}.png" for i in range(2) for s in range(3)]

    from generate import load_generator

    G, cfg = load_generator(tmp_path / "run")
    x = G.generate(["a red circle in the center"] * 2, [5, 5])
    assert x.shape == (2, 3, 32, 32) and torch.equal(x[0], x[1])


def test_diagnose_reference_renders_are_the_captions() -> None:
    import diagnose
    from ganblocks.data import score_each

    captions = ["a red circle at the top left", "a blue square in the center", "a cyan triangle at the bottom"]
    images = diagnose.render_prompts(captions, resolution=32, seed=0)
    assert images.shape == (3, 32, 32, 3) and images.dtype == np.uint8
    assert all(s.all_correct for s in score_each(images, captions))
    assert np.array_equal(images, diagnose.render_prompts(captions, resolution=32, seed=0))


@pytest.mark.slow
def test_diagnose_checks_report_placement_and_critics(tmp_path: Path, capsys) -> None:
    import diagnose

    train("--steps", "1", "--out", str(tmp_path / "run"))
    diagnose.main(["where", str(tmp_path / "run"), "--prompts", "9", "--out", str(tmp_path / "where.json")])
    where = json.loads((tmp_path / "where.json").read_text())
    assert where["prompts"] == 9 and 0 <= where["position"] <= 1 and set(where["cells"]) == set(diagnose.CELL_NAMES)
    assert sum(sum(v.values()) for v in where["cells"].values()) == where["drawn"]
    assert set(where["outline"]) == {"circle", "square", "triangle"}
    for shape, m in where["outline"].items():  # real renders of the prompts: the scorer's own thresholds hold
        if m["real_fill"] is not None:
            assert {"circle": m["real_skew"] < 0.05 and 0.6 < m["real_fill"] < 0.9,
                    "square": m["real_skew"] < 0.05 and m["real_fill"] > 0.9,
                    "triangle": m["real_skew"] > 0.05}[shape]
    diagnose.main(["critics", str(tmp_path / "run"), "--images", "16", "--out", str(tmp_path / "critics.json")])
    critics = json.loads((tmp_path / "critics.json").read_text())
    assert {"colour", "shape", "cell"} <= set(critics)
    for r in critics.values():
        assert 0 <= r["d_prefers_true"] <= 1 and 0 <= r["clip_prefers_true"] <= 1 and r["images"] >= 1
    diagnose.main(["supervised", "--config-from", str(tmp_path / "run"), "--steps", "3", "--batch", "8",
                   "--prompts", "9", "--out", str(tmp_path / "sup.json")])
    sup = json.loads((tmp_path / "sup.json").read_text())
    assert sup["steps"] == 3 and sup["prompts"] == 9 and np.isfinite(sup["loss_last"])
    diagnose.main(["spread", str(tmp_path / "run"), "--captions", "4", "--seeds", "3", "--out", str(tmp_path / "spread.json")])
    spread = json.loads((tmp_path / "spread.json").read_text())
    assert spread["captions"] == 4 and spread["seeds"] == 3 and len(spread["per_caption"]) == 4
    assert 0 <= spread["diversity"] <= 1 and 0 <= spread["all_correct"] <= 1
    assert spread["diversity"] == np.mean([v["diversity"] for v in spread["per_caption"].values()])
    # the raw weights with their own run's text encoder put back are the raw generator unchanged
    from generate import load_generator

    raw, _ = load_generator(tmp_path / "run", weights="G")
    mixed, _ = load_generator(tmp_path / "run", weights="G", text_encoder_from=tmp_path / "run")
    z_seeds = [0, 1]
    assert torch.equal(raw.generate(["a red circle in the center"] * 2, z_seeds),
                       mixed.generate(["a red circle in the center"] * 2, z_seeds))
    printed = capsys.readouterr().out
    assert "cells drawn" in printed and "outline of the drawn object" in printed
    assert "4 single-object captions x 3 seeds, G_ema weights: diversity" in printed


def test_diagnose_supervised_takes_the_trainers_config_flags(tmp_path: Path) -> None:
    import diagnose

    sizes = []
    for flags in ([], ["--channel-base", "2048"]):
        out = tmp_path / f"sup{len(flags)}.json"
        diagnose.main(["supervised", "--steps", "1", "--batch", "4", "--prompts", "3", "--out", str(out), *flags])
        sup = json.loads(out.read_text())
        assert sup["batch"] == 4 and sup["prompts"] == 3
        sizes.append(sup["parameters"])
    assert sizes[1] > sizes[0]  # 64 instead of 32 channels in the 32 px block


def test_diagnose_blur_reads_blurred_circles_as_squares(tmp_path: Path, capsys) -> None:
    import diagnose

    out = tmp_path / "blur.json"
    diagnose.main(["blur", "--sigma", "0", "2", "--prompts", "30", "--out", str(out)])
    blur = json.loads(out.read_text())
    assert blur["0"]["shape"] == 1.0  # unblurred renders are their caption
    assert sum(sum(f.values()) for f in blur["0"]["found"].values()) == 30
    circles = blur["2"]["found"]["circle"]
    assert circles.get("square", 0) > 0.8 * sum(circles.values()) and blur["2"]["shape"] < 1.0
    assert "found shape per captioned shape" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        diagnose.main(["blur", "--sigma", "-1"])


@pytest.mark.parametrize("script,args,needle", [
    ("train.py", ["--batch", "-1"], "batch"),
    ("train.py", ["--preset", "huge"], "preset"),
    ("train.py", ["--resolution", "48"], "power of two"),
    ("train.py", ["--data", "/nonexistent/folder"], "/nonexistent/folder"),
    ("train.py", ["--resume", "/nonexistent/run"], "/nonexistent/run"),
    ("generate.py", ["--checkpoint", "/nonexistent/run", "--prompt", "x"], "/nonexistent/run"),
    ("generate.py", ["--checkpoint", ".", "--prompt", "x", "--seeds", "a-b"], "seeds"),
    ("generate.py", ["--checkpoint", "."], "prompt"),
])
def test_bad_arguments_exit_nonzero_with_one_line(script: str, args: list[str], needle: str) -> None:
    r = subprocess.run([sys.executable, str(EXAMPLE / script), *args], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert needle in r.stderr


def test_help_documents_every_config_field() -> None:
    from config import SETTINGS

    r = subprocess.run([sys.executable, str(EXAMPLE / "train.py"), "--help-all"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0
    for name in SETTINGS:
        assert "--" + name.replace("_", "-") in r.stdout
    for flag in ("--preset", "--out", "--steps", "--minutes", "--resume", "--stage", "--seed", "--batch", "--data",
                 "--batch-per-device", "--precision", "--compile", "--freeze-lower", "--dist-timeout",
                 "--no-final-eval", "--max-bad-steps", "--max-restores", "--experiment", "--kimg"):
        assert flag in r.stdout
    short = subprocess.run([sys.executable, str(EXAMPLE / "train.py"), "--help"], capture_output=True, text=True,
                           timeout=120).stdout
    shown = [line.split()[0] for line in short.splitlines() if line.startswith("  --")]
    assert 12 <= len(shown) <= 30 and "--help-all" in shown and "--max-restores" not in shown, shown


@pytest.mark.parametrize("name,res,expected", [
    ("small", 64, 16.17e6), ("small", 256, 19.31e6), ("small", 512, 19.75e6),
    ("lite", 64, 74.56e6), ("lite", 256, 85.70e6), ("lite", 512, 87.04e6),
    ("full", 64, 975.6e6), ("full", 256, 1016.4e6), ("full", 512, 1020.5e6),
])
def test_preset_generator_parameter_counts_match_spec(name: str, res: int, expected: float) -> None:
    import ganblocks
    from config import preset

    cfg = preset(name, resolution=res, data="images/")  # ShapesT2I renders up to 256 px
    arch = cfg.generator
    mapping = ganblocks.MappingNetwork(arch.z_dim, 768, device="meta")
    synthesis = ganblocks.SynthesisNetwork(
        mapping.w_dim, res, channel_base=arch.channel_base, channel_max=arch.channel_max,
        num_res_blocks=arch.num_res_blocks, device="meta")
    n = sum(p.numel() for m in (mapping, synthesis) for p in m.parameters())
    assert abs(n - expected) / expected < 0.01, f"{name}@{res}: {n / 1e6:.2f}M vs {expected / 1e6:.2f}M"


@pytest.mark.parametrize("module,args,needle", [
    ("train", ["--batch-per-device", "-2"], "batch_per_device must be positive"),
    ("train", ["--batch", "8", "--batch-per-device", "3"], "not divisible"),
    ("train", ["--steps", "0"], "--steps must be positive"),
    ("train", ["--dist-timeout", "0"], "--dist-timeout must be positive"),
    ("train", ["--log-every", "0"], "log_every must be positive"),
    ("train", ["--precision", "fp8"], "invalid choice"),
    ("train", ["--stage", "superres"], "pass --resume"),
    ("train", ["--stage", "text-encoder", "--resume", "runs/x"], "say how long with --steps"),
    ("train", ["--freeze-lower"], "--freeze-lower belongs to --stage superres"),
    ("train", ["--device", "tpu0"], "is not a device name"),
    ("train", ["--residual", "--channel-max", "16", "--clip-weights", "none", "--dino-model", "tiny"],
     "cannot build the networks"),
    ("pretrain", ["--steps", "-5"], "--steps must be positive"),
    ("pretrain", ["--batch", "0"], "--batch must be positive"),
    ("pretrain", ["--resolution", "48"], "power of two"),
    ("evaluate", ["--checkpoint", "/nonexistent/run"], "/nonexistent/run"),
    ("evaluate", ["--checkpoint", "/nonexistent/run", "--samples", "3"], "--samples"),
    ("generate", ["--checkpoint", "/nonexistent/run", "--prompt", "x", "--batch", "-1"], "--batch must be positive"),
    ("diagnose", ["where", "/nonexistent/run"], "/nonexistent/run"),
    ("diagnose", ["critics", "/nonexistent/run"], "/nonexistent/run"),
    ("diagnose", ["supervised", "--steps", "0"], "--steps must be positive"),
    ("ablation", ["--steps", "-1"], "must be positive"),
    ("ablation", ["--suite", "huge"], "invalid choice"),
    ("ablation", ["--arms", "nope"], "unknown arms"),
    ("ganblocks.metrics.cli", ["--checkpoint", "/nonexistent/run"], "/nonexistent/run"),
    ("ganblocks.metrics.cli", ["--checkpoint", "/nonexistent/run", "--samples", "-4"], "samples"),
    ("ganblocks.data.packing", ["/nonexistent/folder", "/tmp/never-written"], "/nonexistent/folder"),
    ("ganblocks.data.packing", ["/nonexistent/folder", "/tmp/never-written", "--shard-size", "0"], "--shard-size"),
])
def test_every_cli_refuses_nonsense_with_one_line(module: str, args: list[str], needle: str, capsys, tmp_path,
                                                  monkeypatch) -> None:
    """In-process: an exception other than SystemExit (a traceback) fails the test. Nothing is written."""
    import importlib

    main = importlib.import_module(module).main
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        code = main(args)
        raise SystemExit(code)  # ganblocks.data.pack returns its exit code
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err[-3:]
    assert not list(tmp_path.iterdir()), "a refused command wrote files"


def test_an_ablation_whose_runs_cannot_start_stops_before_the_first(tmp_path: Path, capsys) -> None:
    import ablation

    with pytest.raises(SystemExit) as e:
        ablation.main(["--arms", "full", "--seeds", "0", "--steps", "1", "--out", str(tmp_path / "out"), "--",
                       "--clip-weights", "none", "--dino-model", "tiny", "--data", "/nonexistent/data"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: the runs cannot start") and "/nonexistent/data" in err[0]
    assert not (tmp_path / "out").exists()


def test_saved_config_with_unknown_or_missing_fields_is_refused() -> None:
    from config import Config, preset

    saved = preset("shapes").to_dict()
    assert Config.from_dict(saved) == preset("shapes")
    with pytest.raises(ValueError, match="unknown config fields"):
        Config.from_dict({**saved, "learning_rate": 1.0})
    with pytest.raises(ValueError, match="missing fields"):
        Config.from_dict({k: v for k, v in saved.items() if k != "batch"})
    with pytest.raises(ValueError, match="unknown generator fields"):
        Config.from_dict({**saved, "generator": {**saved["generator"], "depth": 3}})


def flat(cfg, **extra) -> dict:
    """A config as the example saved it before the generator was nested (flat fields)."""
    from config import FLAT_GENERATOR_NAMES

    nested = cfg.to_dict()
    generator = nested.pop("generator")
    nested.pop("kimg")
    return {**nested, **{old: generator[new] for old, new in FLAT_GENERATOR_NAMES.items()}, **extra}


def test_saved_config_from_before_an_added_field_still_loads() -> None:
    from config import ADDED_FIELDS, FLAT_ADDED_FIELDS, Config, preset

    cfg = preset("shapes", cross_attention="", output_shift=0.0, kimg=None)
    saved = cfg.to_dict()
    for name, value in ADDED_FIELDS.items():
        assert getattr(Config.from_dict({k: v for k, v in saved.items() if k != name}), name) == value
    old = flat(cfg)
    assert Config.from_dict(old) == cfg
    for name in FLAT_ADDED_FIELDS:  # a flat config from before each generator field existed
        assert Config.from_dict({k: v for k, v in old.items() if k != name}) == cfg


def test_saved_config_with_a_removed_option_loads_when_off_and_is_refused_when_on() -> None:
    from config import REMOVED_OPTIONS, Config, preset

    cfg = preset("shapes", kimg=None)
    off = {"d_positions": False, "d_mismatch_weight": 0.0, "g_input_shift": 0.0, "g_diversity_weight": 0.0,
           "g_diversity_sigma": 2.0, "g_recon_weight": 0.0, "g_recon_fade_kimg": 50.0, "d_pixel_weight": 0.0,
           "d_pixel_channels": 64}
    assert set(off) == set(REMOVED_OPTIONS)
    assert Config.from_dict(flat(cfg, **off)) == cfg
    for name, on in {"d_positions": True, "d_mismatch_weight": 1.0, "g_input_shift": 0.02,
                     "g_diversity_weight": 1.0, "g_recon_weight": 2.0, "d_pixel_weight": 1.0}.items():
        with pytest.raises(ValueError, match=rf"sets {name}=.*removed from the example after ganblocks 0\.1\.0"):
            Config.from_dict(flat(cfg, **{**off, name: on}))


def test_an_old_flat_run_folder_resumes_generates_and_exports(tmp_path: Path) -> None:
    """A run folder written before the config was nested (no "generator" in its checkpoints' meta)."""
    from ganblocks.training import find_checkpoint
    from generate import load_generator

    run = tmp_path / "run"
    train("--steps", "2", "--stage", "generator", "--out", str(run), "--no-final-eval", "--checkpoint-every", "1")
    ckpt = find_checkpoint(run)
    doc = json.loads((ckpt / "checkpoint.json").read_text())
    from config import Config

    cfg = Config.from_dict(doc["meta"]["config"])
    doc["meta"] = {k: v for k, v in doc["meta"].items() if k not in ("generator", "training")}
    doc["meta"]["config"] = flat(cfg, d_positions=False, d_mismatch_weight=0.0, g_input_shift=0.0)
    (ckpt / "checkpoint.json").write_text(json.dumps(doc))
    G, old_cfg = load_generator(run)
    assert old_cfg.generator == cfg.generator and G.config == cfg.generator
    x = G.generate(["a red circle in the center"] * 2, [5, 5])
    assert x.shape == (2, 3, 32, 32) and torch.equal(x[0], x[1])
    resumed = train("--resume", str(run), "--steps", "3", "--stage", "generator", "--no-final-eval")
    assert resumed["step"] == 3
    new = json.loads((find_checkpoint(run) / "checkpoint.json").read_text())["meta"]
    assert new["generator"] == cfg.generator.to_dict() and "generator" in new["config"]


def test_the_shapes_preset_has_a_fixed_length_in_images() -> None:
    """The same command gives the same model on every machine: 2970 steps, stage 2 on the last tenth."""
    from config import preset
    from train import schedule

    cfg = preset("shapes")
    assert schedule(cfg, steps=None, stage="all") == (2970, 2673)
    assert schedule(cfg, steps=50, stage="all") == (50, 45)  # --steps replaces the length
    assert schedule(cfg, steps=None, stage="generator") == (2970, None)
    assert schedule(cfg.override(kimg=None), steps=None, stage="all") == (None, None)
    assert schedule(cfg.override(kimg=1.0, batch=8), steps=None, stage="all") == (125, 112)


def test_every_experiment_file_is_a_valid_config_and_every_ablation_arm_has_one(tmp_path: Path) -> None:
    import ast

    import ablation
    from config import load_experiment, preset

    files = sorted((EXAMPLE / "experiments").glob("*.py"))
    assert files
    for path in files:
        settings = load_experiment(path)
        assert settings, path
        cfg = preset("shapes", **settings)
        assert cfg != preset("shapes"), f"{path.name} changes nothing"
        assert ast.get_docstring(ast.parse(path.read_text())), f"{path.name}: no docstring"
    named = {e for suite in ablation.SUITES.values() for e in suite.values() if e is not None}
    assert named <= {p.stem for p in files}
    bad = tmp_path / "bad.py"
    bad.write_text("learning_rate = 1.0\n")
    with pytest.raises(ValueError, match="unknown settings"):
        load_experiment(bad)


def test_an_ablation_tabulates_the_scores_its_runs_report(tmp_path: Path) -> None:
    """EmojiT2I runs log the emoji scorer's scores, ShapesT2I runs their own: the table follows."""
    import ablation

    run = tmp_path / "full-s0"
    run.mkdir()
    records = [{"step": 10, "kimg": 0.3, "stage": "generator", "eval/seen/style": 0.6, "eval/seen/fd": 500.0},
               {"step": 20, "kimg": 0.6, "stage": "text-encoder", "final/seen/style": 0.7, "final/seen/fd": 450.0,
                "final/heldout_tone/tone": 0.5}]
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    evals = ablation.read_evals(run)
    assert [e["kind"] for e in evals] == ["eval", "final"] and evals[1]["heldout_tone/tone"] == 0.5
    table = ablation.tabulate([{"arm": "full", "seed": 0, "evals": evals}])
    header, _, row = table.splitlines()
    assert "seen/style" in header and "heldout_style/subject_top10" in header and "stage-1 seen/style" in header
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[0] == "full" and cells[1] == "0.70" and cells[-1] == "0.60"  # final style; stage-1 style
    ablation.plot([{"arm": "full", "seed": 0, "evals": evals}], tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 0
