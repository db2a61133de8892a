"""Read a generator out of a training run: its architecture, weights and scores.

A run folder holds ``checkpoints/step-*/`` (see [`save_checkpoint`][ganblocks.training.checkpoint.save_checkpoint])
and, after a finished run, ``final_eval.json`` with the scores of the last checkpoint's EMA
generator. A trainer makes its checkpoints readable here by saving the generator under a module
name (``G_ema`` by default) and putting these keys in the checkpoint's ``meta``:

- ``"generator"`` (required): the generator's architecture, ``GeneratorConfig.to_dict()``
  (see [`checkpoint_meta`][ganblocks.t2i.runs.checkpoint_meta]);
- ``"training"`` (optional): what a model card says about training (data, preset, text-encoder
  weights, the command, the data's ``attribution``, a ``scores_note`` on how the final scores are
  measured, ``example_prompts`` of the training data: plain JSON values; see
  ``ganblocks.t2i.card``);
- ``"step"``, ``"images_seen"``, ``"stage"`` (optional): where the run was.
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

__all__ = ["GENERATOR_KEY", "TRAINING_KEY", "checkpoint_meta", "load_run", "is_run_folder",
           "run_training_info"]

G = TypeVar("G", bound=nn.Module)

GENERATOR_KEY = "generator"
"""The checkpoint ``meta`` key holding the generator's architecture (``GeneratorConfig.to_dict()``)."""

TRAINING_KEY = "training"
"""The checkpoint ``meta`` key holding what the model card says about training."""

_EXPECTED = ("a training run folder (with checkpoints/) or one checkpoint folder (with checkpoint.json) "
             "whose checkpoints record their generator's architecture")


def checkpoint_meta(generator: nn.Module, **training: Any) -> dict[str, Any]:
    """The ``meta`` entries that make a checkpoint loadable by ``from_pretrained``.

    Args:
        generator: A ``TextToImageGenerator`` (its ``config`` is recorded).
        **training: JSON values for the model card (e.g. ``data="my_images"``, ``preset="shapes"``).

    Returns:
        ``{"generator": config dict, "training": training}``, to merge into ``save_checkpoint``'s ``meta``.
    """
    return {GENERATOR_KEY: generator.config.to_dict(), TRAINING_KEY: dict(training)}


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
    """What a model card says about training: the checkpoint's ``training`` entries, the step,
    images seen and stage and, for the run's last checkpoint, the scores of ``final_eval.json``."""
    training = meta.get(TRAINING_KEY)
    info: dict[str, Any] = dict(training) if isinstance(training, dict) else {}
    info.update({
        "step": meta.get("step"),
        "kimg": round(meta["images_seen"] / 1000, 3) if isinstance(meta.get("images_seen"), int) else None,
        "stage": meta.get("stage"),
    })
    run = checkpoint.parent.parent
    final = run / "final_eval.json"
    if final.is_file() and (run / "checkpoints").is_dir() and find_checkpoint(run) == checkpoint:
        try:
            scores = _scalar_scores(json.loads(final.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            scores = {}
        if scores:
            info["scores"] = scores
            info["scores_source"] = "the trainer's final evaluation (final_eval.json)"
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
    if not isinstance(meta.get(GENERATOR_KEY), dict):
        raise ValueError(
            f"{checkpoint} does not record its generator's architecture (no {GENERATOR_KEY!r} in the meta of "
            "its checkpoint.json, as older checkpoints do): export it with the trainer that wrote it "
            "(its loader reads older checkpoints), or resume it for a step to write a new checkpoint")
    config = GeneratorConfig.from_dict(meta[GENERATOR_KEY], source=f"the generator config of {checkpoint}")
    with torch.random.fork_rng(devices=[]):  # building draws random weights; keep the caller's RNG
        generator = cls(config)
    try:
        load_checkpoint(checkpoint, modules={network: generator}, optimizers={}, restore_rng=False,
                        map_location="cpu")
    except CheckpointError as err:
        raise ValueError(f"cannot load the generator {network!r} of {checkpoint}: {err}") from None
    generator.training_info = run_training_info(checkpoint, meta)
    return generator.to(device).eval().requires_grad_(False)
