"""Score a trained StyleGAN-T checkpoint: FID, KID, FD-DINO, CLIP score and the ShapesT2I scores.

    python -m ganblocks.metrics --checkpoint runs/x --data shapes \\
        --metrics fid,kid,fd_dino,clip,shapes --samples 1000 --out report.json
    python -m ganblocks.metrics --checkpoint runs/mine --data my_images --metrics fid,kid,clip

``--data`` is the reference: ShapesT2I, or a captioned image folder (or .zip of one) such as the
one the run trained on; the generator draws one image per reference caption.

Loads the EMA generator of the example in ``examples/stylegan_t`` (its ``generate.py``), draws
one image per reference caption, and writes a JSON report. FID and KID need the Inception-v3
weights file (``--inception-weights``; see the metrics docs for where to get it offline).
FD-DINO uses the DINO ViT-S/16 (``--dino-weights`` for a local file); the CLIP score uses the
run's own frozen CLIP unless told otherwise.
"""

import argparse
import dataclasses
import importlib.util
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from ..backbones._weights import weights_argument
from ..backbones.dino import DINO_DEFAULT
from ..cli import ArgumentParser, resolve_device, user_errors

ALL_METRICS = ("fid", "kid", "fd_dino", "clip", "shapes")
SHAPES_MIN_SAMPLES = 8


def find_example(given: Path | None) -> Path:
    """The StyleGAN-T example folder: ``given``, else the repository's, else ``./examples/stylegan_t``."""
    candidates = [given] if given is not None else [
        Path(__file__).resolve().parents[3] / "examples" / "stylegan_t",
        Path.cwd() / "examples" / "stylegan_t",
    ]
    for folder in candidates:
        if folder is not None and (folder / "generate.py").is_file():
            return folder
    where = given if given is not None else " or ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"no StyleGAN-T example (generate.py) in {where}: pass --example DIR")


def import_example(folder: Path, name: str) -> ModuleType:
    """Import ``folder/name.py`` (the example's modules import each other by plain name)."""
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(f"{name}", folder / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {folder / name}.py")
    loaded = sys.modules.get(name)
    if loaded is not None and getattr(loaded, "__file__", None) is not None and \
            Path(loaded.__file__).resolve() == (folder / f"{name}.py").resolve():
        return loaded
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = ArgumentParser(prog="python -m ganblocks.metrics", description=__doc__)
    p.add_argument("--checkpoint", type=Path, required=True,
                   help="a run folder (its latest checkpoint) or one checkpoint folder")
    p.add_argument("--data", default="shapes",
                   help="reference data: 'shapes' (ShapesT2I at the run's resolution, default) or a "
                   "captioned image folder with metadata.jsonl, or a .zip of one (e.g. the training data)")
    p.add_argument("--metrics", default=",".join(ALL_METRICS),
                   help=f"comma-separated, from {', '.join(ALL_METRICS)} (default: all)")
    p.add_argument("--samples", type=int, default=1000,
                   help="generated images (and reference images) per metric")
    p.add_argument("--out", type=Path, default=None, help="write the JSON report here (default: print it)")
    p.add_argument("--inception-weights", type=Path, default=None,
                   help="the FID Inception-v3 weights file (default: torch hub's cache)")
    p.add_argument("--dino-model", default=DINO_DEFAULT,
                   help=f"timm ViT of FD-DINO, or 'tiny' (default {DINO_DEFAULT})")
    p.add_argument("--dino-weights", default="hub",
                   help="'hub' (timm's published weights, default), 'none' (random) or a file")
    p.add_argument("--clip-model", default=None,
                   help="open_clip model of the CLIP score (default: the run's)")
    p.add_argument("--clip-weights", default=None,
                   help="an open_clip tag, 'none' (random) or a file (default: the run's)")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="reference statistics cache (default: ~/.cache/ganblocks/stats)")
    p.add_argument("--reference-seed", type=int, default=1000, help="ShapesT2I seed of the reference images")
    p.add_argument("--kid-subsets", type=int, default=100, help="KID subsets")
    p.add_argument("--kid-subset-size", type=int, default=None,
                   help="KID subset size (default: min(1000, samples))")
    p.add_argument("--truncation", type=float, default=1.0, help="truncation psi")
    p.add_argument("--batch", type=int, default=64, help="images per forward pass")
    p.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda or cuda:N")
    p.add_argument("--example", type=Path, default=None,
                   help="the examples/stylegan_t folder (default: found beside the package)")
    args = p.parse_args(argv)
    args.metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    unknown = [m for m in args.metrics if m not in ALL_METRICS]
    if unknown or not args.metrics:
        p.error(f"--metrics: unknown {unknown or 'empty list'}; choose from {', '.join(ALL_METRICS)}")
    if args.data != "shapes":
        from ..data.loaders import data_format

        try:
            kind = data_format(args.data)
        except (OSError, ValueError) as err:
            p.error(f"--data: {err}; expected 'shapes' or a captioned image folder (metadata.jsonl) or .zip")
        if kind == "shards":
            p.error(f"--data {args.data}: WebDataset shards cannot be a metrics reference; pass 'shapes' or "
                    "a captioned image folder (metadata.jsonl) or .zip of one")
    if args.batch < 1:
        p.error(f"--batch must be positive, got {args.batch}")
    if "shapes" in args.metrics and args.samples < SHAPES_MIN_SAMPLES:
        p.error(f"shapes needs at least {SHAPES_MIN_SAMPLES} samples, got --samples {args.samples}")
    from .report import check_metrics

    wanted = [m for m in args.metrics if m != "shapes"]
    try:
        if wanted:
            check_metrics(wanted, args.samples)
    except ValueError as err:
        p.error(f"{err} (--samples)")
    if args.kid_subset_size is not None and "kid" in args.metrics and args.kid_subset_size > args.samples:
        p.error(f"--kid-subset-size {args.kid_subset_size} is larger than --samples {args.samples}")
    return args


def _pretrained(value: str | None, hub_word: str | None = None) -> bool | str:
    if value is None or value.lower() in ("none", "random"):
        return False
    return True if hub_word is not None and value == hub_word else value


def score_generator(
    G: Any,
    cfg: Any,
    metrics: Sequence[str],
    *,
    samples: int,
    device: str | Any = "cpu",
    inception_weights: str | os.PathLike | None = None,
    dino_model: str = DINO_DEFAULT,
    dino_weights: str | None = "hub",
    clip_model: str | None = None,
    clip_weights: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    reference_seed: int = 1000,
    kid_subsets: int = 100,
    kid_subset_size: int | None = None,
    truncation: float = 1.0,
    batch_size: int = 64,
    example: Path | None = None,
    data: str | os.PathLike = "shapes",
) -> dict[str, Any]:
    """FID / KID / FD-DINO / CLIP score of the example's generator against ShapesT2I or an image folder.

    The CLIP score uses the run's own frozen CLIP by default, built by the example's
    ``create_frozen_clip`` (the same weights and seeding as in training); FD-DINO uses the DINO
    ViT-S/16. Used by this command and by the example's ``evaluate.py --metrics``.

    Args:
        G: The example's generator (``G.generate(captions, seeds, truncation_psi=...)``).
        cfg: Its ``Config``.
        metrics: Names from ``fid``, ``kid``, ``fd_dino``, ``clip``.
        samples: Images per metric.
        device: Where the networks run.
        inception_weights: The FID Inception weights file (default: torch hub's cache).
        dino_model: timm ViT of FD-DINO, or ``"tiny"``.
        dino_weights: ``"hub"`` (timm's published weights), ``"none"`` (random) or a file.
        clip_model: open_clip model of the CLIP score (default ``cfg.clip_model``).
        clip_weights: Its weights, as the example's ``--clip-weights`` (default ``cfg.clip_weights``).
        cache_dir: Reference statistics cache (default ``~/.cache/ganblocks/stats``).
        reference_seed: ShapesT2I seed of the reference images.
        kid_subsets: KID subsets.
        kid_subset_size: KID subset size.
        truncation: Truncation psi of the samples.
        batch_size: Images per forward pass.
        example: The example folder (default: found beside the package).
        data: The reference: ``"shapes"`` (ShapesT2I) or a captioned image folder or .zip
            (see [`FolderReference`][ganblocks.metrics.folder_reference.FolderReference]).
    """
    import torch

    from .cache import StatsCache
    from .extractors import create_dino_features
    from .folder_reference import FolderReference
    from .inception import create_inception
    from .report import ShapesReference, check_metrics, evaluate_metrics

    wanted = check_metrics(metrics, samples)
    if os.fspath(data) == "shapes":
        reference = ShapesReference(cfg.resolution, seed=reference_seed, max_objects=cfg.shapes_max_objects)
    else:
        reference = FolderReference(data, resolution=cfg.resolution)
        reference.captions(samples)  # enough images? fail before any network is built
    device = torch.device(device)
    inception = dino = clip = clip_name = None
    if "fid" in wanted or "kid" in wanted:
        with weights_argument("inception_weights"):
            inception = create_inception(inception_weights or True, device=device)
    if "fd_dino" in wanted:
        with weights_argument("dino_weights"):
            dino = create_dino_features(dino_model, pretrained=_pretrained(dino_weights, "hub"), device=device)
    if "clip" in wanted:
        model_module = import_example(find_example(example), "model")
        name = clip_model or cfg.clip_model
        weights = clip_weights if clip_model or clip_weights else cfg.clip_weights
        clip_cfg = dataclasses.replace(cfg, clip_model=name, clip_weights=weights)
        clip = model_module.create_frozen_clip(clip_cfg, device)
        random = _pretrained(weights) is False
        clip_name = f"{name} ({f'random weights, seed {cfg.backbone_seed}' if random else weights})"

    def generate(captions: list[str], seeds: list[int]) -> torch.Tensor:
        return G.generate(captions, seeds, truncation_psi=truncation)

    return evaluate_metrics(
        generate, reference, wanted, samples=samples, inception=inception, dino=dino, clip=clip,
        clip_name=clip_name, cache=StatsCache(cache_dir), batch_size=batch_size,
        kid_subsets=kid_subsets, kid_subset_size=kid_subset_size)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Load the generator of ``args.checkpoint`` and compute ``args.metrics``."""
    from ..training import read_checkpoint_meta

    example = find_example(args.example)
    generate_module = import_example(example, "generate")
    device = resolve_device(args.device)
    meta = read_checkpoint_meta(args.checkpoint)
    G, cfg = generate_module.load_generator(args.checkpoint, device=device)
    wanted = [m for m in args.metrics if m != "shapes"]
    started = time.perf_counter()
    report: dict[str, Any] = {"checkpoint": str(args.checkpoint), "step": meta.get("step"),
                              "resolution": cfg.resolution, "data": args.data, "truncation": args.truncation}
    if wanted:
        report.update(score_generator(
            G, cfg, wanted, samples=args.samples, device=device, inception_weights=args.inception_weights,
            dino_model=args.dino_model, dino_weights=args.dino_weights, clip_model=args.clip_model,
            clip_weights=args.clip_weights, cache_dir=args.cache_dir, reference_seed=args.reference_seed,
            kid_subsets=args.kid_subsets, kid_subset_size=args.kid_subset_size, truncation=args.truncation,
            batch_size=args.batch, example=example, data=args.data))
    if "shapes" in args.metrics:
        evaluate_module = import_example(example, "evaluate")
        scores = evaluate_module.evaluate_generator(G, cfg, device, final=True,
                                                    samples=args.samples,
                                                    truncation_psi=args.truncation)
        report.update({f"shapes/{k}": v for k, v in scores.items()})
    report["seconds"] = round(time.perf_counter() - started, 2)
    return report


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    with user_errors():  # missing or unusable weights, checkpoints, devices: one line, no traceback
        report = run(args)
        text = json.dumps(report, indent=2)
        if args.out is not None:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text + "\n")
    print(text)
    return report


