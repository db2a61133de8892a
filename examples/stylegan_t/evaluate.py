r"""Evaluate a StyleGAN-T generator on its data (ShapesT2I or EmojiT2I), and draw sample grids.

    python examples/stylegan_t/evaluate.py --checkpoint runs/x --samples 256
    python examples/stylegan_t/evaluate.py --checkpoint runs/x --metrics fid,kid,clip \
        --inception-weights weights-inception-2015-12-05-6726825d.pth

``--metrics`` adds ganblocks.metrics' reference scores, the CLIP score under the run's own frozen
CLIP (see also ``python -m ganblocks.metrics --help``, which scores any saved generator).
"""

import functools
import json
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from config import MIN_RESOLUTION, Config  # noqa: E402

from ganblocks import to_uint8  # noqa: E402,F401 - re-exported for the example's scripts
from ganblocks.cli import ArgumentParser, resolve_device, user_errors  # noqa: E402

GRID_SEEDS = 8


GRID_ROWS = 12  # rows of the grid of a captioned folder (a fixed sample of its captions)


def data_kind(data: str) -> str:
    """What the run trains on: ``"shapes"`` (ShapesT2I), ``"emoji"`` (a built EmojiT2I folder or
    its ``train`` subfolder, scored by the shipped EmojiT2I scorer) or ``"captions"`` (any other
    captioned images: sample grids of their own captions, no periodic scores)."""
    if data == "shapes":
        return "shapes"
    return "emoji" if emoji_root(data) is not None else "captions"


def emoji_root(data: str | Path) -> Path | None:
    """The built EmojiT2I folder of ``data`` (the folder or its ``train``/``heldout`` subfolder):
    the one whose ``build.json`` names EmojiT2I, or whose ``train/metadata.jsonl`` carries the
    items' fields (``subject``, ``style``, ``split``); None for other data."""
    path = Path(data)
    if not path.is_dir():
        return None
    for root in (path, path.parent):
        meta = root / "train" / "metadata.jsonl"
        if not meta.is_file():
            continue
        try:
            if json.loads((root / "build.json").read_text()).get("dataset") == "EmojiT2I":
                return root
        except (OSError, ValueError, AttributeError):
            pass
        try:
            with meta.open(encoding="utf-8") as f:
                first = json.loads(f.readline())
        except (OSError, ValueError):
            continue
        if isinstance(first, dict) and {"subject", "style", "split", "tones"} <= set(first):
            return root
    return None


@functools.lru_cache(maxsize=4)
def _emoji_items(root: Path) -> tuple[Any, ...]:
    from ganblocks.data.emoji import read_emoji_items

    return tuple(read_emoji_items(root))


def emoji_grid_prompts(root: Path, *, seen: int = 6, heldout: int = 3, seed: int = 0) -> list[str]:
    """A fixed sample of an EmojiT2I folder's captions: ``seen`` training items, then ``heldout``
    of each held-out set (held-out style, held-out tone)."""
    import numpy as np

    items = _emoji_items(root)
    rows: list[str] = []
    for split, n in (("train", seen), ("heldout_style", heldout), ("heldout_tone", heldout)):
        pool = sorted({it.caption for it in items if it.split == split})
        pick = np.random.default_rng(seed).choice(len(pool), size=min(n, len(pool)), replace=False)
        rows += [pool[i] for i in sorted(pick)]
    return rows


def folder_captions(data: str, *, n: int = GRID_ROWS, seed: int = 0) -> list[str]:
    """A fixed sample of ``n`` distinct captions of an image folder, zip or shards."""
    import numpy as np

    from ganblocks.data import data_format

    if data_format(data) in ("folder", "zip"):
        from ganblocks.data import CaptionedImageFolder

        folder = CaptionedImageFolder(data, resolution=MIN_RESOLUTION)
        pool = sorted({folder.caption(i) for i in range(len(folder))})
    else:  # shards: the first captions of the stream
        from ganblocks.data import CaptionedShards

        pool = []
        for _, caption in CaptionedShards(data, resolution=MIN_RESOLUTION, seed=seed, rank=0, world=1, repeat=False):
            if caption not in pool:
                pool.append(caption)
            if len(pool) >= 8 * n:
                break
        pool.sort()
    pick = np.random.default_rng(seed).choice(len(pool), size=min(n, len(pool)), replace=False)
    return [pool[i] for i in sorted(pick)]


@functools.lru_cache(maxsize=8)
def _grid_prompts(data: str) -> tuple[str, ...]:
    kind = data_kind(data)
    if kind == "shapes":
        from ganblocks.metrics import shapes_grid_captions

        return tuple(shapes_grid_captions())
    if kind == "emoji":
        return tuple(emoji_grid_prompts(emoji_root(data)))
    return tuple(folder_captions(data))


def grid_prompts(cfg: Config) -> list[str]:
    """The fixed prompts of the sample grids: ShapesT2I's (seen and held-out objects, and pairs),
    an EmojiT2I folder's (seen, held-out style and held-out tone captions), or a fixed sample of
    any other data's own captions."""
    return list(_grid_prompts(cfg.data))


def save_sample_grid(G: nn.Module, cfg: Config, path: Path, device: torch.device) -> Path:
    """A grid PNG: one row per fixed prompt, one column per seed; prompts listed beside it."""
    from ganblocks.metrics import save_sample_grid as save_grid_of

    return save_grid_of(G, grid_prompts(cfg), path, seeds=GRID_SEEDS)


def evaluate_generator(G: nn.Module, cfg: Config, device: torch.device, *, final: bool = False,
                       samples: int | None = None, truncation_psi: float = 1.0) -> dict[str, Any]:
    """Scores of ``G`` on fresh prompts and latents that no training step uses: ShapesT2I's
    (``ganblocks.metrics.evaluate_shapes``); an EmojiT2I folder's (``ganblocks.metrics.emoji.
    evaluate_emoji`` with the shipped scorer, on seen, held-out style and held-out tone items,
    the held-out ones read from the folder's ``heldout/``; two seeds per item when ``final``);
    none (an empty dict) for other data."""
    kind = data_kind(cfg.data)
    if kind == "shapes":
        from ganblocks.metrics import evaluate_shapes

        return evaluate_shapes(G, samples=samples or cfg.eval_samples, final=final, truncation_psi=truncation_psi)
    if kind == "emoji":
        from ganblocks.metrics.emoji import evaluate_emoji, load_emoji_scorer

        return evaluate_emoji(G, load_emoji_scorer(32), _emoji_items(emoji_root(cfg.data)),
                              samples=samples or cfg.eval_samples, seeds_per_item=2 if final else 1,
                              truncation_psi=truncation_psi)
    return {}


EMOJI_SUMMARY = [f"{s}/{m}" for s in ("seen", "heldout_style", "heldout_tone")
                 for m in ("style", "tone", "category", "subject_top10", "fd")]


def reference_metrics(G: nn.Module, cfg: Config, metrics: list[str], *, samples: int, device: torch.device,
                      truncation_psi: float, inception_weights: Path | None, dino_model: str | None,
                      dino_weights: str | None) -> dict[str, Any]:
    """FID / KID / FD-DINO against ShapesT2I and the CLIP score under the run's own frozen CLIP."""
    from model import create_frozen_clip

    from ganblocks.backbones.dino import DINO_DEFAULT
    from ganblocks.metrics import ShapesReference, check_metrics, score_generator
    from ganblocks.metrics.cli import create_metric_networks

    wanted = check_metrics(metrics, samples)
    networks = create_metric_networks([m for m in wanted if m != "clip"], device=device,
                                      inception_weights=inception_weights, dino_model=dino_model or DINO_DEFAULT,
                                      dino_weights=dino_weights or "hub")
    if "clip" in wanted:
        networks["clip"] = create_frozen_clip(cfg, device)
        networks["clip_name"] = f"{cfg.clip_model} ({cfg.clip_weights or f'random weights, seed {cfg.backbone_seed}'})"
    reference = ShapesReference(cfg.resolution, max_objects=cfg.shapes_max_objects)
    return score_generator(G, wanted, reference, samples=samples, truncation_psi=truncation_psi, **networks)


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
            extra = reference_metrics(
                G, cfg, args.metrics.split(","), samples=args.samples, device=device,
                truncation_psi=args.truncation, inception_weights=args.inception_weights,
                dino_model=args.dino_model, dino_weights=args.dino_weights)
        scores = evaluate_generator(G, cfg, device, final=True, samples=args.samples,
                                    truncation_psi=args.truncation)
        scores.update(extra)
        text = json.dumps(scores, indent=2)
        if args.out:
            args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
