"""The StyleGAN-T example with the pixel-space critic beside the feature discriminator: trained,
saved with its optimizer state, resumed bitwise; off by default, and then absent from checkpoints."""

from pathlib import Path

import pytest
import torch

from train_helpers import NETWORKS, OPTIMIZERS, TINY, differing, latest, tensors

PIXEL = ["--d-pixel-weight", "1", "--d-pixel-channels", "16"]


def train(*args: str) -> dict:
    import train as train_module

    return train_module.main([*TINY, *args])


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pixel") / "run"
    train(*PIXEL, "--steps", "2", "--stage", "generator", "--out", str(out))
    return out


def test_the_critic_is_trained_and_saved_with_its_optimizer_state(run: Path, tmp_path: Path) -> None:
    saved = tensors(latest(run), ("D_pixel", "optim-D"))
    weights = {k: v for k, v in saved.items() if k.startswith("D_pixel/")}
    assert "D_pixel/position" in weights and "D_pixel/out.parametrizations.weight.original" in weights
    # the critic's convs moved between the two steps' checkpoints: it is trained
    first = tensors(run / "checkpoints" / "step-000000001", ("D_pixel",))
    key = "D_pixel/from_rgb.parametrizations.weight.original"
    assert not torch.equal(first[key], weights[key])
    # Adam's moments for the critic's parameters travel in the discriminator's optimizer file
    plain = tensors(latest(_plain_run(tmp_path)), ("optim-D",))
    assert len(saved) - len(weights) > len(plain)


def _plain_run(tmp_path: Path) -> Path:
    out = tmp_path / "plain"
    train("--steps", "1", "--stage", "generator", "--out", str(out))
    return out


def test_resume_equals_an_uninterrupted_run(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "resumed"
    train(*PIXEL, "--steps", "1", "--stage", "generator", "--out", str(out))
    train("--resume", str(out), "--steps", "2", "--stage", "generator")
    names = (*NETWORKS, *OPTIMIZERS, "D_pixel")
    assert differing(tensors(latest(out), names), tensors(latest(run), names)) == []


def test_off_by_default_and_then_not_in_the_checkpoint(tmp_path: Path) -> None:
    assert not (latest(_plain_run(tmp_path)) / "D_pixel.safetensors").exists()


def test_a_negative_weight_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as err:
        train("--d-pixel-weight", "-1", "--steps", "1", "--out", str(tmp_path / "bad"))
    assert err.value.code == 2
    assert not (tmp_path / "bad").exists()
