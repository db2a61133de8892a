"""The library works from a built wheel, with no repository around it.

Builds a wheel of the package, installs it into a fresh virtual environment outside the
repository (its dependencies come from the environment running the tests, so nothing is
downloaded), and from a folder outside the repository saves a generator, loads it with
``TextToImageGenerator.from_pretrained`` and scores it with ``python -m ganblocks.metrics``; the
shipped models (``ganblocks/emoji-32``) load by name from the installed wheel.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path

    import torch

    import ganblocks
    from ganblocks import GeneratorConfig, TextToImageGenerator
    from ganblocks.t2i.runs import checkpoint_meta
    from ganblocks.training import save_checkpoint

    assert Path(ganblocks.__file__).resolve().is_relative_to(Path(sys.prefix).resolve()), ganblocks.__file__
    torch.manual_seed(0)
    G = TextToImageGenerator(GeneratorConfig(resolution=16, channel_base=512, channel_max=32))
    G.save_pretrained("model")
    save_checkpoint("run", step=2, modules={"G_ema": G}, optimizers={}, meta=checkpoint_meta(G))
    for source in ("model", "run"):
        loaded = TextToImageGenerator.from_pretrained(source)
        assert torch.equal(loaded.generate(["a red circle"], [0]), G.eval().generate(["a red circle"], [0]))

    from ganblocks.metrics.emoji import load_emoji_scorer
    from ganblocks.t2i.saving import shipped_models

    load_emoji_scorer(32)  # package data: the EmojiT2I scorer's weights
    assert shipped_models() == EXPECTED_MODELS, shipped_models()
    for name in shipped_models():
        assert TextToImageGenerator.from_pretrained(name).config.resolution > 0
    emoji = TextToImageGenerator.from_pretrained("ganblocks/emoji-32")  # the README's quickstart model
    images = emoji.generate(["red apple, google style", "cat face, twitter style"], seeds=[0, 1])
    assert images.shape == (2, 3, 32, 32) and torch.isfinite(images).all()
    print(ganblocks.__file__)
""")


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    r = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"{' '.join(args)} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


@pytest.mark.slow
def test_the_wheel_saves_loads_and_scores_a_generator_outside_the_repository(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["HF_HUB_OFFLINE"] = "1"
    source = tmp_path / "source"  # a copy: building writes into the source tree
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
          "-w", str(tmp_path / "dist"), str(source)], tmp_path, env)
    wheel = next((tmp_path / "dist").glob("ganblocks-*.whl"))

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], tmp_path, env)
    python = str(venv / "bin" / "python")
    _run([python, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel)], tmp_path, env)

    work = tmp_path / "work"
    work.mkdir()
    shipped = sorted(f"ganblocks/{f.name}" for f in (ROOT / "src" / "ganblocks" / "t2i" / "models").glob("*")
                     if (f / "config.json").is_file())
    assert "ganblocks/emoji-32" in shipped
    printed = _run([python, "-c", f"EXPECTED_MODELS = {shipped!r}\n" + SCRIPT], work, env).stdout
    assert str(venv) in printed and str(ROOT) not in printed  # the wheel's copy, not the repository's

    _run([python, "-m", "ganblocks.metrics", "--model", "model", "--metrics", "shapes", "--samples", "8",
          "--out", "report.json"], work, env)
    report = json.loads((work / "report.json").read_text())
    assert report["resolution"] == 16 and 0 <= report["shapes/all_correct"] <= 1
