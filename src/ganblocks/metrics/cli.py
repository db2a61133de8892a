"""Score a trained text-to-image generator: FID, KID, FD-DINO, CLIP score and the ShapesT2I scores.

    python -m ganblocks.metrics --model runs/x --data shapes \\
        --metrics fid,kid,fd_dino,shapes --samples 1000 --out report.json
    python -m ganblocks.metrics --model models/mine --data my_images --metrics fid,kid,clip \\
        --clip-model ViT-L-14 --clip-weights openai

``--model`` is anything [`TextToImageGenerator.from_pretrained`][ganblocks.t2i.generator.TextToImageGenerator.from_pretrained]
reads: a training run folder (its latest checkpoint's EMA generator), a folder written by
``save_pretrained``, or a Hugging Face Hub repo id. ``--data`` is the reference: ShapesT2I, or a
captioned image folder (or .zip of one) such as the one the model trained on; the generator draws
one image per reference caption, and the command writes a JSON report. FID and KID need the
Inception-v3 weights file (``--inception-weights``; see the metrics docs for where to get it
offline). FD-DINO uses the DINO ViT-S/16 (``--dino-weights`` for a local file); the CLIP score
uses the CLIP named by ``--clip-model`` and ``--clip-weights``.
"""

import argparse
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..backbones import weights_argument
from ..backbones.dino import DINO_DEFAULT
from ..cli import ArgumentParser, resolve_device, user_errors

ALL_METRICS = ("fid", "kid", "fd_dino", "clip", "shapes")
SHAPES_MIN_SAMPLES = 8


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = ArgumentParser(prog="python -m ganblocks.metrics", description=__doc__)
    p.add_argument("--model", "--checkpoint", dest="model", required=True,
                   help="a training run folder (its latest checkpoint), one checkpoint folder, a folder "
                   "written by save_pretrained, or a Hugging Face Hub repo id")
    p.add_argument("--data", default="shapes",
                   help="reference data: 'shapes' (ShapesT2I at the model's resolution, default) or a "
                   "captioned image folder with metadata.jsonl, or a .zip of one (e.g. the training data)")
    p.add_argument("--metrics", default=None,
                   help=f"comma-separated, from {', '.join(ALL_METRICS)} (default: fid,kid,fd_dino, and "
                   "shapes with --data shapes; clip needs --clip-weights)")
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
                   help="open_clip model of the CLIP score (default: the model's text encoder architecture)")
    p.add_argument("--clip-weights", default=None,
                   help="weights of the CLIP score's model: an open_clip tag (e.g. openai), a file, or "
                   "'none' (random weights drawn from seed 0); required by --metrics clip")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="reference statistics cache (default: ~/.cache/ganblocks/stats)")
    p.add_argument("--reference-seed", type=int, default=1000, help="ShapesT2I seed of the reference images")
    p.add_argument("--shapes-max-objects", type=int, choices=(1, 2), default=2,
                   help="ShapesT2I reference: objects per image, as in training (default 2)")
    p.add_argument("--kid-subsets", type=int, default=100, help="KID subsets")
    p.add_argument("--kid-subset-size", type=int, default=None,
                   help="KID subset size (default: min(1000, samples))")
    p.add_argument("--truncation", type=float, default=1.0, help="truncation psi")
    p.add_argument("--batch", type=int, default=64, help="images per forward pass")
    p.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda or cuda:N")
    args = p.parse_args(argv)
    if args.metrics is None:
        args.metrics = "fid,kid,fd_dino" + (",shapes" if args.data == "shapes" else "")
    args.metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    unknown = [m for m in args.metrics if m not in ALL_METRICS]
    if unknown or not args.metrics:
        p.error(f"--metrics: unknown {unknown or 'empty list'}; choose from {', '.join(ALL_METRICS)}")
    if "clip" in args.metrics and args.clip_weights is None:
        p.error("--metrics clip needs --clip-weights: an open_clip tag such as openai, a weights file "
                "(e.g. the CLIP the model was trained with), or none for random weights")
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


def create_metric_networks(metrics: Sequence[str], *, device: Any = "cpu",
                           inception_weights: str | os.PathLike | None = None, dino_model: str = DINO_DEFAULT,
                           dino_weights: str | None = "hub", clip_model: str | None = None,
                           clip_weights: str | None = None) -> dict[str, Any]:
    """The frozen networks ``metrics`` need, as keyword arguments of ``score_generator``.

    Weights as the command line gives them: ``inception_weights`` a file (default: torch hub's
    cache); ``dino_weights`` ``"hub"``, ``"none"`` or a file; ``clip_weights`` an open_clip tag, a
    file or ``"none"`` (random weights drawn from seed 0). A weights error names its flag.
    """
    import torch

    from ..backbones import create_clip
    from .extractors import create_dino_features
    from .inception import create_inception

    networks: dict[str, Any] = {}
    if "fid" in metrics or "kid" in metrics:
        with weights_argument("inception_weights"):
            networks["inception"] = create_inception(inception_weights or True, device=device)
    if "fd_dino" in metrics:
        with weights_argument("dino_weights"):
            networks["dino"] = create_dino_features(dino_model, pretrained=_pretrained(dino_weights, "hub"),
                                                    device=device)
    if "clip" in metrics:
        if clip_model is None:
            raise ValueError("the CLIP score needs a clip_model")
        weights = _pretrained(clip_weights)
        with torch.random.fork_rng(devices=[]), weights_argument("clip_weights"):
            torch.manual_seed(0)
            networks["clip"] = create_clip(clip_model, pretrained=weights).to(device)
        networks["clip_name"] = f"{clip_model} ({'random weights, seed 0' if weights is False else weights})"
    return networks


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Load the generator of ``args.model`` and compute ``args.metrics``."""
    from ..t2i.generator import TextToImageGenerator
    from .folder_reference import FolderReference
    from .report import ShapesReference
    from .text_to_image import evaluate_shapes, score_generator

    device = resolve_device(args.device)
    G = TextToImageGenerator.from_pretrained(args.model, device=device)
    resolution = G.config.resolution
    wanted = [m for m in args.metrics if m != "shapes"]
    started = time.perf_counter()
    report: dict[str, Any] = {"model": str(args.model), "step": G.training_info.get("step"),
                              "resolution": resolution, "data": args.data, "truncation": args.truncation}
    if wanted:
        if args.data == "shapes":
            reference = ShapesReference(resolution, seed=args.reference_seed, max_objects=args.shapes_max_objects)
        else:
            reference = FolderReference(args.data, resolution=resolution)
            reference.captions(args.samples)  # enough images? fail before any network is built
        networks = create_metric_networks(
            wanted, device=device, inception_weights=args.inception_weights, dino_model=args.dino_model,
            dino_weights=args.dino_weights, clip_model=args.clip_model or G.config.text_encoder,
            clip_weights=args.clip_weights)
        report.update(score_generator(
            G, wanted, reference, samples=args.samples, **networks, cache_dir=args.cache_dir,
            kid_subsets=args.kid_subsets, kid_subset_size=args.kid_subset_size,
            truncation_psi=args.truncation, batch_size=args.batch))
    if "shapes" in args.metrics:
        scores = evaluate_shapes(G, samples=args.samples, final=True, truncation_psi=args.truncation,
                                 batch_size=args.batch)
        report.update({f"shapes/{k}": v for k, v in scores.items()})
    report["seconds"] = round(time.perf_counter() - started, 2)
    return report


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    with user_errors():  # missing or unusable weights, models, devices: one line, no traceback
        report = run(args)
        text = json.dumps(report, indent=2)
        if args.out is not None:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text + "\n")
    print(text)
    return report
