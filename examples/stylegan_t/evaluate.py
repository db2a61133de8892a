r"""Evaluate a StyleGAN-T generator on ShapesT2I, and draw sample grids.

    python examples/stylegan_t/evaluate.py --checkpoint runs/x --samples 256
    python examples/stylegan_t/evaluate.py --checkpoint runs/x --metrics fid,kid,clip \
        --inception-weights weights-inception-2015-12-05-6726825d.pth

``--metrics`` adds ganblocks.metrics' scores (see ``python -m ganblocks.metrics --help``).
"""

import json
import sys
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from config import Config  # noqa: E402

from ganblocks.cli import ArgumentParser, resolve_device, user_errors  # noqa: E402

EVAL_SEED_BASE = 1_000_000  # latents for evaluation never coincide with grid seeds
GRID_SEEDS = 8


@torch.no_grad()
def _generate(G: nn.Module, prompts: list[str], seeds: list[int], device: torch.device,
              truncation_psi: float = 1.0, chunk: int = 64) -> Tensor:
    out = []
    for i in range(0, len(prompts), chunk):
        out.append(G.generate(prompts[i:i + chunk], seeds[i:i + chunk], truncation_psi=truncation_psi).cpu())
    return torch.cat(out)


def to_uint8(images: Tensor) -> Tensor:
    """Raw generator images to uint8 [0, 255], clamped to [-1, 1] first (``ganblocks.to_uint8``)."""
    from ganblocks import to_uint8 as clamp_to_uint8

    return clamp_to_uint8(images)


def grid_prompts(cfg: Config) -> list[str]:
    """The fixed prompts of the sample grids: seen and held-out single objects, and pairs."""
    from ganblocks.data import make_eval_prompts

    prompts = make_eval_prompts(seed=12345, n_single_seen=4, n_single_heldout=2, n_double_seen=1,
                                n_double_heldout=1)
    return [p.caption for p in prompts]


def save_sample_grid(G: nn.Module, cfg: Config, path: Path, device: torch.device) -> Path:
    """A grid PNG: one row per fixed prompt, one column per seed; prompts listed beside it."""
    from ganblocks import save_grid

    prompts = grid_prompts(cfg)
    seeds = list(range(GRID_SEEDS))
    images = _generate(G, [p for p in prompts for _ in seeds], seeds * len(prompts), device)
    save_grid(images, path, nrow=len(seeds), scale=max(1, 128 // cfg.resolution))
    path.with_suffix(".txt").write_text("\n".join(f"row {i}: {p}" for i, p in enumerate(prompts)) + "\n")
    return path


@torch.no_grad()
def evaluate_generator(G: nn.Module, cfg: Config, device: torch.device, *, final: bool = False,
                       samples: int | None = None, truncation_psi: float = 1.0) -> dict[str, Any]:
    """ShapesT2I scores of ``G`` on fresh prompts and latents (never the training ones).

    3/8 single-object prompts of seen compositions, 1/4 single-object held-out compositions,
    1/4 two-object prompts of seen and 1/8 of held-out compositions (binding); plus diversity
    over seeds for a few fixed captions. Keys: see ``ganblocks.data.summarize_scores``.
    """
    from ganblocks.data import diversity, make_eval_prompts, score_images

    n = samples or cfg.eval_samples
    n_seen, n_held, n_double = int(0.375 * n), n // 4, n // 4
    prompts = make_eval_prompts(seed=777, n_single_seen=n_seen, n_single_heldout=n_held,
                                n_double_seen=n_double, n_double_heldout=n - n_seen - n_held - n_double)
    captions = [p.caption for p in prompts]
    seeds = [EVAL_SEED_BASE + i for i in range(len(captions))]
    images = _generate(G, captions, seeds, device, truncation_psi)
    scores: dict[str, Any] = dict(score_images(to_uint8(images), captions))
    per_caption = 16 if final else 8
    div_captions = captions[:4]
    div_images = {
        cap: to_uint8(_generate(G, [cap] * per_caption,
                                [EVAL_SEED_BASE * 2 + j for j in range(per_caption)], device, truncation_psi))
        for cap in div_captions
    }
    scores["diversity"] = float(diversity(div_images, resolution=cfg.resolution))
    scores["samples"] = len(captions)
    return scores


def main(argv: list[str] | None = None) -> None:
    from generate import load_generator

    p = ArgumentParser(description=__doc__)
    p.add_argument("--checkpoint", type=Path, required=True, help="a run folder (its latest checkpoint) or one checkpoint folder")
    p.add_argument("--samples", type=int, default=256, help="number of prompts scored")
    p.add_argument("--truncation", type=float, default=1.0, help="truncation psi")
    p.add_argument("--weights", choices=("G_ema", "G"), default="G_ema", help="the EMA generator weights "
                   "(default) or the raw ones")
    p.add_argument("--text-encoder-from", type=Path, default=None, help="use this run's or checkpoint's text "
                   "encoder instead (e.g. one from stage 1, to score a generator without its stage 2)")
    p.add_argument("--out", type=Path, default=None, help="write the JSON report here (default: print it)")
    p.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda or cuda:N")
    p.add_argument("--metrics", default=None, help="also compute these ganblocks.metrics, comma-separated from "
                   "fid,kid,fd_dino,clip (on --samples images)")
    p.add_argument("--inception-weights", type=Path, default=None, help="--metrics fid/kid: the Inception-v3 weights file")
    p.add_argument("--dino-model", default=None, help="--metrics fd_dino: timm ViT name or 'tiny' (default: DINO ViT-S/16)")
    p.add_argument("--dino-weights", default=None, help="--metrics fd_dino: 'hub' (timm's published weights; the "
                   "default), 'none' (random) or a file")
    args = p.parse_args(argv)
    if args.samples < 8:
        p.error("--samples must be at least 8")
    with user_errors():
        device = resolve_device(args.device)
    with user_errors(f"cannot load a generator from {args.checkpoint}"):
        G, cfg = load_generator(args.checkpoint, device=device, weights=args.weights,
                                text_encoder_from=args.text_encoder_from)
    with user_errors():
        extra = {}
        if args.metrics:  # first: a missing weights file fails before the ShapesT2I scoring
            from ganblocks.metrics.cli import score_generator

            options = {k: v for k, v in (("dino_model", args.dino_model), ("dino_weights", args.dino_weights)) if v}
            extra = score_generator(
                G, cfg, args.metrics.split(","), samples=args.samples, device=device,
                inception_weights=args.inception_weights, truncation=args.truncation,
                example=Path(__file__).resolve().parent, **options)
        scores = evaluate_generator(G, cfg, device, final=True, samples=args.samples,
                                    truncation_psi=args.truncation)
        scores.update(extra)
        text = json.dumps(scores, indent=2)
        if args.out:
            args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
