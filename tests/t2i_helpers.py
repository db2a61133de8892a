"""Shared by the text-to-image generator tests (tests/test_t2i_*.py): tiny generators and runs."""

import copy
import json
from pathlib import Path
from typing import Any

import torch

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "stylegan_t"

PROMPTS = ["a red circle in the center", "a blue square at the top", "a green triangle on the left"]
SEEDS = [0, 1, 7]


def tiny_arch(**overrides: Any) -> "Any":
    """A 16 px generator architecture with the tiny text encoder (builds in well under a second)."""
    from ganblocks import GeneratorConfig

    return GeneratorConfig(**{"resolution": 16, "z_dim": 8, "channel_base": 512, "channel_max": 32, **overrides})


def tiny_generator(seed: int = 0, **overrides: Any) -> "Any":
    """A random tiny generator in inference state (eval mode, no gradients), as loaders return."""
    from ganblocks import TextToImageGenerator

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TextToImageGenerator(tiny_arch(**overrides)).eval().requires_grad_(False)


def run_config(**overrides: Any) -> "Any":
    """A tiny example run config (random tiny CLIP: nothing is pretrained or downloaded)."""
    from config import preset

    return preset("shapes", **{"resolution": 32, "z_dim": 8, "channel_base": 1024, "channel_max": 32,
                               "clip_weights": None, "dino_model": "tiny", **overrides})


def fake_run(run: Path, cfg: Any = None, *, steps: tuple[int, ...] = (4,), final_eval: dict | None = None,
             config_dict: dict | None = None) -> Path:
    """A run folder as the example's trainer writes it (G, G_ema and the meta, the run's
    ``config.json`` at the top), without training: each step's G_ema gets different random
    weights. Returns the run folder."""
    from ganblocks.t2i.runs import checkpoint_meta
    from ganblocks.training import save_checkpoint
    from model import build_generator, create_frozen_clip

    cfg = cfg or run_config()
    G = build_generator(cfg, create_frozen_clip(cfg))
    for step in steps:
        G_ema = copy.deepcopy(G)
        with torch.no_grad():
            for p in G_ema.synthesis.parameters():
                p.add_(0.01 * step * torch.randn_like(p))
        meta = {"config": config_dict or cfg.to_dict(), "step": step, "images_seen": step * cfg.batch,
                "stage": "generator", "restores": 0, "preset": "shapes", **checkpoint_meta(G, **cfg.card_info("shapes"))}
        save_checkpoint(run, step=step, modules={"G": G, "G_ema": G_ema}, optimizers={}, meta=meta, rng=False)
    (run / "config.json").write_text(json.dumps(config_dict or cfg.to_dict()))
    if final_eval is not None:
        (run / "final_eval.json").write_text(json.dumps(final_eval))
    return run
