"""Read a generator out of a StyleGAN-T example training run: its config, weights and scores.

A run folder holds ``checkpoints/step-*/`` (see [`save_checkpoint`][ganblocks.training.checkpoint.save_checkpoint]),
each with the run's config in its ``meta``, and, after a finished run, ``final_eval.json``
with the scores of the last checkpoint's EMA generator.
"""

import json
import math
import os
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from ..training.checkpoint import CheckpointError, find_checkpoint, load_checkpoint, read_checkpoint_meta
from .config import GeneratorConfig

__all__ = ["load_run", "is_run_folder", "run_training_info"]

G = TypeVar("G", bound=nn.Module)

_EXPECTED = ("a training run folder (with checkpoints/) or one checkpoint folder "
             "(with checkpoint.json), as the StyleGAN-T example's train.py writes them")


def is_run_folder(path: Path) -> bool:
    """Whether ``path`` looks like a run folder or a checkpoint folder (no file is read)."""
    return (path / "checkpoint.json").is_file() or (path / "checkpoints").is_dir() or (
        path.name == "checkpoints" and path.is_dir())


def _scalar_scores(values: Any) -> dict[str, float | int]:
    if not isinstance(values, dict):
        return {}
    return {k: v for k, v in values.items() if isinstance(k, str) and isinstance(v, (int, float))
            and not isinstance(v, bool) and math.isfinite(v)}


def run_training_info(checkpoint: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """What a model card says about training: data, preset, steps, images seen and, for the run's
    last checkpoint, the scores of ``final_eval.json``."""
    config = meta.get("config", {})
    data = str(config.get("data", "unknown"))
    info: dict[str, Any] = {
        "data": "ShapesT2I (ganblocks' synthetic captioned shapes)" if data == "shapes" else Path(data).name,
        "preset": meta.get("preset"),
        "step": meta.get("step"),
        "kimg": round(meta["images_seen"] / 1000, 3) if isinstance(meta.get("images_seen"), int) else None,
        "stage": meta.get("stage"),
    }
    if "clip_weights" in config:
        info["text_encoder_weights"] = config["clip_weights"] or "random (no pretrained weights)"
    run = checkpoint.parent.parent
    final = run / "final_eval.json"
    if final.is_file() and (run / "checkpoints").is_dir() and find_checkpoint(run) == checkpoint:
        try:
            scores = _scalar_scores(json.loads(final.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            scores = {}
        if scores:
            info["scores"] = scores
            info["scores_source"] = "the trainer's final ShapesT2I evaluation (final_eval.json)"
    return {k: v for k, v in info.items() if v is not None}


def load_run(cls: type[G], path: str | os.PathLike, *, device: str | torch.device = "cpu",
             network: str = "G_ema") -> G:
    """Build ``cls`` from a run's config and load the network ``network`` of its checkpoint.

    Raises:
        FileNotFoundError: ``path`` does not exist or holds no checkpoint.
        ValueError: The checkpoint's config or weights do not describe this generator.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such folder; expected {_EXPECTED}")
    try:
        checkpoint = find_checkpoint(path)
        meta = read_checkpoint_meta(checkpoint)
    except CheckpointError as err:
        raise FileNotFoundError(f"{path} holds no readable checkpoint ({err}); expected {_EXPECTED}") from None
    if not isinstance(meta.get("config"), dict):
        raise ValueError(f"{checkpoint} has no run config in its checkpoint.json meta; expected {_EXPECTED}")
    config = GeneratorConfig.from_run_config(meta["config"])
    with torch.random.fork_rng(devices=[]):  # building draws random weights; keep the caller's RNG
        generator = cls(config)
    try:
        load_checkpoint(checkpoint, modules={network: generator}, optimizers={}, restore_rng=False,
                        map_location="cpu")
    except CheckpointError as err:
        raise ValueError(f"cannot load the generator {network!r} of {checkpoint}: {err}") from None
    generator.training_info = run_training_info(checkpoint, meta)
    return generator.to(device).eval().requires_grad_(False)
