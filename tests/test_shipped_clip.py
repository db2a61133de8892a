"""The tiny CLIP that ships with the StyleGAN-T example: what the default run uses, without training."""

import json

import pytest
import torch
from safetensors import safe_open

import ganblocks

import pretrain  # noqa: E402
from config import preset  # noqa: E402


def test_the_shipped_clip_is_the_one_the_default_run_asks_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its training parameters are the trainer's defaults, so a fresh clone trains nothing first."""
    assert pretrain.SHIPPED.is_file()
    assert pretrain.SHIPPED.stat().st_size < 8_000_000
    assert pretrain.file_params(pretrain.SHIPPED) == pretrain.DEFAULTS
    assert pretrain.DEFAULTS["steps"] == preset("shapes").clip_pretrain_steps

    def no_training(*_, **__):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("the shipped CLIP should have been used")

    monkeypatch.setattr(pretrain, "train_shapes_clip", no_training)
    assert pretrain.ensure_shapes_clip() == pretrain.SHIPPED
    assert pretrain.ensure_shapes_clip({"steps": preset("shapes").clip_pretrain_steps}) == pretrain.SHIPPED


def test_other_parameters_do_not_get_the_shipped_clip(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANBLOCKS_CACHE", str(tmp_path))
    params = {"steps": 1, "batch": 4, "warmup": 1}
    path = pretrain.ensure_shapes_clip(params, log=False)
    assert path != pretrain.SHIPPED and path.parent == tmp_path
    assert pretrain.file_params(path) == {**pretrain.DEFAULTS, **params}


def test_the_shipped_clip_tells_caption_edits_apart_on_fresh_renders() -> None:
    """Loaded like any weights file; on renders it never saw, the true caption beats every kind
    of edit (colour, shape or cell changed; two objects' attributes swapped) almost always."""
    clip = ganblocks.create_clip("tiny", pretrained=str(pretrain.SHIPPED))
    assert all(p.dtype == torch.float32 for p in clip.parameters())
    report = pretrain.zero_shot_accuracy(clip, n=256, seed=777)
    for kind, accuracy in report.items():
        assert accuracy >= (0.9 if kind.startswith("vs_") else 0.8), (kind, report)
    with safe_open(str(pretrain.SHIPPED), "pt") as f:
        stored = json.loads(f.metadata()["report"])
    assert min(v for k, v in stored.items() if k.startswith("vs_")) >= 0.95
