"""The StyleGAN-T example with token-level text conditioning: train, resume bitwise, stage 2,
generate through the library and the CLI; bad attention flags are one line and exit 2."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import ganblocks
from train_helpers import EXAMPLE, TINY, differing, env, latest, tensors

ATTN = ["--cross-attention", "8,16", "--self-attention", "8", "--attention-heads", "2"]


def train(*args: str) -> dict:
    import train as train_module

    return train_module.main([*TINY, *ATTN, *args])


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("attn") / "run"
    train("--steps", "2", "--stage", "generator", "--out", str(out))
    return out


def test_attention_layers_are_trained_and_saved(run: Path) -> None:
    saved = tensors(latest(run), ("G",))
    for key in ("G/synthesis.blocks.b8.self_attn.to_q.weight", "G/synthesis.blocks.b8.cross_attn.to_k.weight",
                "G/synthesis.blocks.b16.cross_attn.gamma"):
        assert key in saved
    assert not any("b32.cross_attn" in k or "b16.self_attn" in k for k in saved)
    # the layer scale moved away from its initial value: the attention gets gradients
    assert not torch.allclose(saved["G/synthesis.blocks.b16.cross_attn.gamma"], torch.full((32,), 1e-2))


def test_resume_equals_an_uninterrupted_run(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "resumed"
    train("--steps", "1", "--stage", "generator", "--out", str(out))
    train("--resume", str(out), "--steps", "2", "--stage", "generator")
    assert differing(tensors(latest(out)), tensors(latest(run))) == []


def test_stage_2_tunes_the_text_encoder_the_tokens_come_from(run: Path, tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "stage2"
    shutil.copytree(run, out)
    train("--resume", str(out), "--stage", "text-encoder", "--steps", "3")
    before, after = tensors(latest(run), ("G",)), tensors(latest(out), ("G",))
    changed = differing(before, after)
    assert any(k.startswith("G/text_encoder.transformer.") for k in changed)
    # the synthesis network (attention included) is frozen as the EMA generator had it
    ema_before = tensors(latest(run), ("G_ema",))
    synthesis = [k for k in after if k.startswith("G/synthesis.")]
    assert all(torch.equal(after[k], ema_before["G_ema/" + k[2:]]) for k in synthesis)


def test_the_library_and_generate_py_load_the_run(run: Path, tmp_path: Path) -> None:
    G = ganblocks.TextToImageGenerator.from_run(run)
    assert G.uses_tokens and G.config.cross_attention == (8, 16) and G.config.self_attention == (8,)
    prompts = ["a red circle on the left", "a blue square at the top and a green circle on the right"]
    images = G.generate(prompts, seeds=[0, 1])
    assert images.shape == (2, 3, 32, 32) and torch.isfinite(images).all()
    assert torch.equal(images, G.generate(prompts, seeds=[0, 1]))
    with pytest.raises(ValueError, match="attends to the caption's word tokens"):
        G(torch.randn(2, G.z_dim), G.encode_text(prompts))
    r = subprocess.run([sys.executable, str(EXAMPLE / "generate.py"), "--checkpoint", str(run), "--prompt", prompts[0],
                        "--seeds", "0-1", "--out", str(tmp_path / "gen")], env=env(), capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "gen" / "grid.png").is_file()


@pytest.mark.parametrize("flags, message", [
    (["--cross-attention", "64"], "cross_attention '64' must name block resolutions of a 32 px generator"),
    (["--self-attention", "8,x"], "self_attention '8,x' must name block resolutions"),
    (["--attention-heads", "0"], "attention_heads must be a positive integer"),
])
def test_bad_attention_flags_are_one_line_and_exit_2(tmp_path: Path, flags: list[str], message: str) -> None:
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, str(EXAMPLE / "train.py"), *TINY, *flags, "--steps", "1", "--out", str(out)],
                       env=env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], r.stderr
    assert not out.exists()


def test_save_pretrained_round_trip_keeps_the_attention(run: Path, tmp_path: Path) -> None:
    G = ganblocks.TextToImageGenerator.from_run(run)
    G.save_pretrained(tmp_path / "model")
    H = ganblocks.TextToImageGenerator.from_pretrained(tmp_path / "model")
    assert H.config == G.config
    assert torch.equal(H.generate(["a red circle"], [3]), G.generate(["a red circle"], [3]))
