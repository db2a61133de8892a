r"""Why a ShapesT2I run does not follow its captions: checks that split the blame.

    python examples/stylegan_t/diagnose.py where RUN        # where G draws what it is told
    python examples/stylegan_t/diagnose.py critics RUN      # do D and the guide see the edits?
    python examples/stylegan_t/diagnose.py supervised --steps 1500   # can G place objects at all?
    python examples/stylegan_t/diagnose.py supervised --steps 400 --lr 0.01 --channel-base 2048
    python examples/stylegan_t/diagnose.py blur --sigma 0.5 1 1.5  # what blurry outlines score as
    python examples/stylegan_t/diagnose.py spread RUN --weights G  # how diverse, over many seeds

``where``: for fresh single-object prompts of seen compositions, the captioned cell against the
cell the scorer finds (rows, columns, confusion) and the captioned shape against the found one,
with the two outline measures the scorer reads shape from (fill of the bounding box, vertical
skew) per captioned shape, next to their values on real renders of the same prompts: a generator
that draws one blob for every shape shows the same fill and skew in all three rows.

``critics``: on real ShapesT2I images, how often the run's discriminator (mean logit) and the
frozen guidance CLIP (cosine) prefer the true caption to an edited one (one attribute changed,
or two objects' attributes swapped), per edit kind. Near 1.0 means the critic carries the
information; a generator that still ignores it is failing to follow the gradient.

``supervised``: G trained from scratch by L2 regression onto the rendered image of its caption
(no GAN), then scored like ``where``. Position is nearly deterministic given the caption, so a
G that learns it here has the capacity and the conditioning path to place objects; shape is too
(the pixel-wise mean of many renders of one caption still scores as its shape), so the shape
score says how fast this generator can learn to draw outlines at all. The generator's
architecture comes from the shapes preset, ``--config-from RUN``, and ``train.py``'s config flags
(e.g. ``--channel-base``, ``--num-res-blocks``, ``--cross-attention``), in that order.

``blur``: real renders of fresh single-object prompts, blurred with each ``--sigma`` (pixels; the
Gaussian $2^{-(t/\sigma)^2}$ of the discriminator's input blur, ``--blur-sigma``), scored: which
shape the scorer finds per captioned shape. It tells how soft a generator's edges may be before
its outlines read as another shape (blur raises the fill of a circle's bounding box towards a
square's and flattens a triangle's skew).

``spread``: the diversity score of the trainer's evaluation (each caption's spread of object
place and size against the data's, ``ganblocks.data.diversity``) over more captions and seeds
than the evaluation's four captions, with the all-correct rate of the same images, for the EMA
weights or the raw ones (``--weights G``), optionally with the text encoder of another
checkpoint (``--text-encoder-from``, e.g. the end of stage 1: what stage 2's fine-tuning
changed).

Each prints a table and, with ``--out``, writes the numbers as JSON.
"""

import collections
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from config import Config, add_config_arguments, config_overrides, preset  # noqa: E402

from ganblocks.cli import ArgumentParser, user_errors  # noqa: E402
from ganblocks.data import CELLS, SHAPES  # noqa: E402

CELL_NAMES = list(CELLS)  # row by row, so cell i is at row i // 3, column i % 3


def placement(G: torch.nn.Module, *, prompts: int, seed: int = 5) -> dict[str, Any]:
    """Captioned vs drawn cell and shape for ``prompts`` fresh single-object seen prompts."""
    from evaluate import to_uint8
    from ganblocks.data import make_eval_prompts, score_each

    captions = [p.caption for p in make_eval_prompts(seed=seed, n_single_seen=prompts, n_single_heldout=0,
                                                     n_double_seen=0, n_double_heldout=0)]
    with torch.no_grad():
        images = G.generate(captions, seeds=list(range(len(captions))))
    objects = [s.objects[0] for s in score_each(to_uint8(images), captions)]
    drawn = [o for o in objects if o.colour_hit and o.found_cell is not None]
    n = max(len(drawn), 1)
    rc = {c: divmod(i, 3) for i, c in enumerate(CELL_NAMES)}
    cells: dict[str, dict[str, int]] = {c: dict(collections.Counter(o.found_cell for o in drawn if o.cell == c))
                                        for c in CELL_NAMES}
    shapes = _found_shapes(drawn)
    real = [s.objects[0] for s in score_each(render_prompts(captions, resolution=images.shape[-1], seed=seed), captions)]
    return {
        "prompts": len(objects), "drawn": len(drawn),
        "position": sum(o.position_hit for o in objects) / len(objects),
        "shape": sum(o.shape_hit for o in objects) / len(objects),
        "colour": sum(o.colour_hit for o in objects) / len(objects),
        "all_correct": sum(o.correct for o in objects) / len(objects),
        "row": sum(rc[o.cell][0] == rc[o.found_cell][0] for o in drawn) / n,
        "column": sum(rc[o.cell][1] == rc[o.found_cell][1] for o in drawn) / n,
        "cells_used": sorted({o.found_cell for o in drawn}, key=CELL_NAMES.index),
        "cells": cells, "shapes": shapes,
        "outline": {s: {**_outline(drawn, s), **{f"real_{k}": v for k, v in _outline(real, s).items()}}
                    for s in SHAPES},
    }


def _found_shapes(objects: list[Any]) -> dict[str, dict[str, int]]:
    """Per captioned shape, how often the scorer found each shape (``None``: no object found)."""
    return {s: dict(collections.Counter(o.found_shape for o in objects if o.shape == s)) for s in SHAPES}


def _most_first(counts: dict[Any, int]) -> str:
    """``"a 5, b 2"``: the counts, most frequent first."""
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def _outline(objects: list[Any], shape: str) -> dict[str, float | None]:
    """Mean fill and skew of the components found for the objects captioned ``shape`` (None: none found)."""
    found = [(o.fill, o.skew) for o in objects if o.shape == shape and o.fill is not None]
    fill, skew = np.mean(found, axis=0).tolist() if found else (None, None)
    return {"fill": fill, "skew": skew}


def render_prompts(captions: list[str], *, resolution: int, seed: int) -> np.ndarray:
    """Real ShapesT2I renders (uint8, b h w 3) of ``captions``, sizes and jitter drawn from ``seed``."""
    from ganblocks.data import render_caption

    rng = np.random.default_rng(seed)
    return np.stack([render_caption(c, resolution, rng) for c in captions])


def print_placement(r: dict[str, Any]) -> None:
    print(f"{r['prompts']} prompts, {r['drawn']} with the captioned colour found | position {r['position']:.3f} "
          f"(row {r['row']:.3f}, column {r['column']:.3f}) shape {r['shape']:.3f} colour {r['colour']:.3f} "
          f"all-correct {r['all_correct']:.3f}")
    print(f"cells drawn: {len(r['cells_used'])} of 9: {', '.join(r['cells_used'])}")
    for c, found in r["cells"].items():
        print(f"  told {c:>12} -> " + _most_first(found))
    for s, found in r["shapes"].items():
        print(f"  told {s:>12} -> " + _most_first(found))
    print("outline of the drawn object (real renders of the same prompts); the scorer: triangle if skew > 0.05, "
          "else square if fill > 0.9, else circle")
    def fmt(v: float | None) -> str:
        return "  –  " if v is None else f"{v:5.2f}"

    for s, m in r["outline"].items():
        print(f"  told {s:>12}: fill {fmt(m['fill'])} ({fmt(m['real_fill'])})  skew {fmt(m['skew'])} ({fmt(m['real_skew'])})")


def critics(run: Path, *, images: int, seed: int = 3) -> dict[str, Any]:
    """How often D and the guidance CLIP prefer a real image's caption to an edited one."""
    from ganblocks.data import EDIT_KINDS, ShapesT2I, edit_caption, parse_caption, uint8_to_float
    from ganblocks.training import load_checkpoint, read_checkpoint_meta
    from model import build_discriminator, create_dino, create_frozen_clip

    cfg = Config.from_dict(read_checkpoint_meta(run)["config"])
    if cfg.data != "shapes":
        raise ValueError(f"{run} was trained on {cfg.data!r}; the critic check needs ShapesT2I captions")
    clip = create_frozen_clip(cfg)
    D = build_discriminator(cfg, create_dino(cfg, clip), clip.embed_dim)
    load_checkpoint(run, modules={"D": D}, optimizers={}, restore_rng=False)
    D.eval()
    data = ShapesT2I(resolution=cfg.resolution, seed=seed, max_objects=cfg.shapes_max_objects)
    pixels, captions = zip(*(data[i] for i in range(images)))
    x = uint8_to_float(torch.stack(pixels))
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    with torch.no_grad():
        true_text, image_embeds = clip.encode_text(list(captions)), clip.encode_image(x)
        d_true, cos_true = D(x, true_text).mean(1), (image_embeds * true_text).sum(1)
        for kind in EDIT_KINDS:
            keep, texts = [], []
            for i, caption in enumerate(captions):
                if kind.startswith("swap") != (len(parse_caption(caption)) > 1):
                    continue
                try:  # some edits have no valid result (e.g. a swap that would make a held-out pair)
                    texts.append(edit_caption(caption, rng, kind=kind))
                except ValueError:
                    continue
                keep.append(i)
            if not keep:
                continue
            edited = clip.encode_text(texts)
            d_edit = D(x[keep], edited).mean(1)
            cos_edit = (image_embeds[keep] * edited).sum(1)
            out[kind] = {"images": len(keep),
                         "d_prefers_true": float((d_true[keep] > d_edit).float().mean()),
                         "clip_prefers_true": float((cos_true[keep] > cos_edit).float().mean()),
                         "d_logit_true": float(d_true[keep].mean()), "d_logit_edited": float(d_edit.mean()),
                         "clip_cos_true": float(cos_true[keep].mean()), "clip_cos_edited": float(cos_edit.mean())}
    return out


def supervised(cfg: Config, *, steps: int, batch: int, prompts: int, lr: float) -> dict[str, Any]:
    """Train G alone by L2 regression onto the renders of its captions, then check placement."""
    from data import create_batch_source
    from ganblocks.data import uint8_to_float
    from model import build_generator, create_frozen_clip

    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")
    torch.manual_seed(cfg.seed)
    G = build_generator(cfg, create_frozen_clip(cfg)).train()
    G.text_encoder.requires_grad_(False)
    source = create_batch_source(cfg, rank=0, world=1, per_device=batch, accum=1)
    opt = torch.optim.Adam([p for p in G.parameters() if p.requires_grad], lr=lr, betas=(cfg.adam_beta1, cfg.adam_beta2))
    start, first = time.perf_counter(), None
    for step in range(steps):
        pixels, captions = source.batch(step, 0)
        with torch.no_grad():
            c = G.encode(captions)
        loss = (G(torch.randn(len(captions), cfg.generator.z_dim), c) - uint8_to_float(pixels)).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    G.eval()
    params = sum(p.numel() for net in (G.mapping, G.synthesis) for p in net.parameters())
    return {"steps": steps, "batch": batch, "kimg": steps * batch / 1000, "seconds": time.perf_counter() - start,
            "parameters": params,
            "loss_first": first, "loss_last": loss.item(),
            **placement(G, prompts=prompts)}


def blurred_renders(sigmas: list[float], *, prompts: int, seed: int = 7) -> dict[str, Any]:
    """Shapes the scorer finds on real renders blurred with each sigma, per captioned shape."""
    from evaluate import to_uint8
    from ganblocks import gaussian_blur
    from ganblocks.data import make_eval_prompts, score_each, uint8_to_float

    captions = [p.caption for p in make_eval_prompts(seed=seed, n_single_seen=prompts, n_single_heldout=0,
                                                     n_double_seen=0, n_double_heldout=0)]
    real = torch.from_numpy(render_prompts(captions, resolution=32, seed=seed)).permute(0, 3, 1, 2)
    images = uint8_to_float(real)
    result: dict[str, Any] = {}
    for sigma in sigmas:
        soft = to_uint8(gaussian_blur(images, sigma) if sigma > 0 else images)
        objects = [s.objects[0] for s in score_each(soft, captions)]
        found = _found_shapes(objects)
        result[f"{sigma:g}"] = {
            "shape": sum(o.shape_hit for o in objects) / len(objects),
            "found": {s: {str(k): v for k, v in f.items()} for s, f in found.items()},
        }
    return result


def spread(G: torch.nn.Module, *, captions: int, seeds: int, seed: int = 11) -> dict[str, Any]:
    """Diversity and all-correct over ``captions`` fresh single-object prompts (three quarters
    seen compositions, a quarter held out) x ``seeds`` latents each."""
    from evaluate import to_uint8

    from ganblocks.data import diversity_per_caption, make_eval_prompts, score_each

    held_out = captions // 4
    prompts = make_eval_prompts(seed=seed, n_single_seen=captions - held_out, n_single_heldout=held_out,
                                n_double_seen=0, n_double_heldout=0)
    images, hits = {}, {}
    for p in prompts:
        with torch.no_grad():
            images[p.caption] = to_uint8(G.generate([p.caption] * seeds, list(range(1000, 1000 + seeds)))).numpy()
        hits[p.caption] = float(np.mean([s.all_correct for s in score_each(images[p.caption], [p.caption] * seeds)]))
    per_caption = {caption: {"diversity": value, "all_correct": hits[caption]}
                   for caption, value in diversity_per_caption(images).items()}
    return {"captions": len(prompts), "seeds": seeds,
            "diversity": float(np.mean([v["diversity"] for v in per_caption.values()])),
            "all_correct": float(np.mean([v["all_correct"] for v in per_caption.values()])),
            "per_caption": per_caption}


def main(argv: list[str] | None = None) -> None:
    p = ArgumentParser(description=__doc__.split("Each prints")[0])
    sub = p.add_subparsers(dest="check", required=True)
    w = sub.add_parser("where", help="where the EMA generator draws objects and which shapes")
    w.add_argument("run", type=Path, help="a run folder or one checkpoint folder")
    w.add_argument("--prompts", type=int, default=300, help="single-object prompts scored (default 300)")
    c = sub.add_parser("critics", help="how often D and the guidance CLIP prefer the true caption to an edit")
    c.add_argument("run", type=Path, help="a run folder or one checkpoint folder")
    c.add_argument("--images", type=int, default=256, help="real images (default 256)")
    s = sub.add_parser("supervised", help="can G learn to place objects when trained by regression?")
    s.add_argument("--config-from", type=Path, default=None, help="use this run's config (default: the shapes preset)")
    s.add_argument("--steps", type=int, default=1500, help="regression steps (default 1500)")
    s.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default 2e-3)")
    s.add_argument("--prompts", type=int, default=200, help="single-object prompts scored (default 200)")
    add_config_arguments(s)
    b = sub.add_parser("blur", help="which shapes the scorer finds on blurred real renders")
    b.add_argument("--sigma", type=float, nargs="+", default=[0.5, 1.0, 1.5, 2.0],
                   help="Gaussian blur sigmas in pixels (default 0.5 1 1.5 2)")
    b.add_argument("--prompts", type=int, default=600, help="single-object prompts rendered (default 600)")
    d = sub.add_parser("spread", help="diversity and all-correct over many captions x seeds")
    d.add_argument("run", type=Path, help="a run folder or one checkpoint folder")
    d.add_argument("--captions", type=int, default=32, help="single-object prompts (default 32)")
    d.add_argument("--seeds", type=int, default=24, help="latents per prompt, at least 2 (default 24)")
    d.add_argument("--weights", choices=["G_ema", "G"], default="G_ema",
                   help="the EMA weights (default) or the raw generator's")
    d.add_argument("--text-encoder-from", type=Path, default=None,
                   help="use the text encoder of this run or checkpoint folder instead")
    for q in (w, c, s, b, d):
        q.add_argument("--out", type=Path, default=None, help="also write the numbers to this JSON file")
    args = p.parse_args(argv)
    for name in ("prompts", "images", "steps", "captions"):
        if getattr(args, name, 1) < 1:
            p.error(f"--{name} must be positive")
    if getattr(args, "seeds", 2) < 2:
        p.error(f"--seeds must be at least 2 (a spread needs two images of a caption), got {args.seeds}")
    if any(sigma < 0 for sigma in getattr(args, "sigma", [])):
        p.error(f"--sigma must be zero or positive, got {' '.join(f'{x:g}' for x in args.sigma)}")
    with user_errors():  # a missing or unusable run, weights or config: one line, no traceback
        if args.check == "where":
            from generate import load_generator

            G, _ = load_generator(args.run)
            result = placement(G, prompts=args.prompts)
            print_placement(result)
        elif args.check == "critics":
            result = critics(args.run, images=args.images)
            print(f"{'edit':>12} {'images':>6} {'D prefers true':>15} {'CLIP prefers true':>18}")
            for kind, r in result.items():
                print(f"{kind:>12} {r['images']:>6} {r['d_prefers_true']:>15.3f} {r['clip_prefers_true']:>18.3f}")
        elif args.check == "spread":
            from generate import load_generator

            G, _ = load_generator(args.run, weights=args.weights, text_encoder_from=args.text_encoder_from)
            result = spread(G, captions=args.captions, seeds=args.seeds)
            print(f"{result['captions']} single-object captions x {result['seeds']} seeds, {args.weights} weights"
                  + (f", text encoder of {args.text_encoder_from}" if args.text_encoder_from else "")
                  + f": diversity {result['diversity']:.3f} of the data's, all-correct {result['all_correct']:.3f}")
        elif args.check == "blur":
            result = blurred_renders(args.sigma, prompts=args.prompts)
            print(f"{'sigma':>6} {'shape':>6}  found shape per captioned shape")
            for sigma, r in result.items():
                found = "; ".join(f"{s}: {_most_first(f)}" for s, f in r["found"].items())
                print(f"{sigma:>6} {r['shape']:>6.3f}  {found}")
        else:
            cfg = preset("shapes")
            if args.config_from is not None:
                from ganblocks.training import read_checkpoint_meta

                cfg = Config.from_dict(read_checkpoint_meta(args.config_from)["config"])
            cfg = cfg.override(**config_overrides(args), batch_per_device=None)
            result = supervised(cfg, steps=args.steps, batch=cfg.batch, prompts=args.prompts, lr=args.lr)
            print(f"generator {result['parameters'] / 1e6:.2f}M parameters (mapping and synthesis); "
                  f"{result['steps']} steps ({result['kimg']:.1f} kimg) in {result['seconds']:.0f} s, "
                  f"L2 {result['loss_first']:.4f} -> {result['loss_last']:.4f}")
            print_placement(result)
        if args.out:
            args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
