"""In-domain pretraining of the tiny CLIP on ShapesT2I, cached on disk.

StyleGAN-T stands on pretrained networks (CLIP ViT-L/14 for text and guidance, DINO ViT-S/16 for
the discriminator's features). None can be downloaded on an offline laptop, and a random network
is no substitute: a random text tower is a bag of words and a random image tower sees no shapes.
So the ``shapes`` preset trains the tiny open_clip CLIP contrastively on ShapesT2I first (once,
then it is cached), and the StyleGAN-T run uses it the way the full model uses the real CLIP: as
the text encoder, the guidance model, and (``--dino-model clip``) the discriminator's frozen
feature network.

Training: the symmetric in-batch contrastive loss of CLIP, plus for every image a 1-of-(1+K)
choice between its caption and K edited captions (one attribute changed, or two objects'
attributes swapped; ``ganblocks.data.edit_caption``). Without the edits the text tower stays a bag
of words (colour-swapped captions embed almost identically) and binding cannot be learned.

    python examples/stylegan_t/pretrain.py   # the trainer's tiny CLIP (shipped or cached); print accuracies

Its defaults are those of ``train.py``'s shapes preset (``--steps`` is the config's
``clip_pretrain_steps``), so this gives the very CLIP that the trainer then uses.

The CLIP of the default parameters ships with the example (``weights/shapes-clip.safetensors``,
6.8 MB: the weights in float16, its training parameters and accuracies in the file's metadata),
so a fresh clone trains nothing before the GAN. This command rebuilds that file:

    python examples/stylegan_t/pretrain.py --force --save examples/stylegan_t/weights/shapes-clip.safetensors

Other parameters (``--clip-pretrain-steps`` of the trainer, or flags here) are trained on first
use and cached.

EmojiT2I (``--clip-weights emoji``, the ``emoji`` preset): the same tiny CLIP trained on the
training items of a built EmojiT2I folder only (held-out items are never read), with hard
negatives that swap the caption's style, change its tone, or name another emoji of the same
style and tone. It ships too (``weights/emoji-clip.safetensors``, used when the folder was built
from the same packages); this command rebuilds it and prints its retrieval on the held-out items:

    python examples/stylegan_t/pretrain.py --emoji data/emoji --force --save examples/stylegan_t/weights/emoji-clip.safetensors
"""

import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from config import SHAPES_MAX_RESOLUTION, SHAPES_MIN_RESOLUTION, preset  # noqa: E402

from ganblocks.cli import ArgumentParser, HelpFormatter, user_errors  # noqa: E402

VERSION = 1
# The step count comes from the trainer's config: it is part of the cache key, and the trainer
# asks for `clip_pretrain_steps` steps.
DEFAULTS: dict[str, Any] = dict(steps=preset("shapes").clip_pretrain_steps, batch=128, negatives=3, lr=2e-3,
                                warmup=50, seed=0, resolution=32, data_seed=90210)


SHIPPED = Path(__file__).resolve().parent / "weights" / "shapes-clip.safetensors"


def cache_dir() -> Path:
    """``$GANBLOCKS_CACHE``, else ``~/.cache/ganblocks``."""
    return Path(os.environ.get("GANBLOCKS_CACHE", Path.home() / ".cache" / "ganblocks"))


def _key(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps({"version": VERSION, **params}, sort_keys=True).encode()).hexdigest()[:12]


def _images(dataset: Any, indices: np.ndarray) -> torch.Tensor:
    images, _ = dataset.get_batch(indices.tolist())
    return images.float() / 127.5 - 1.0


def _edits(captions: list[str], k: int, rng: np.random.Generator) -> list[list[str]]:
    from ganblocks.data import edit_caption

    out = []
    for cap in captions:
        row = []
        for _ in range(k):
            try:
                row.append(edit_caption(cap, rng))
            except ValueError:  # no valid edit of that kind: fall back to any edit
                row.append(edit_caption(cap, rng, kind="cell"))
        out.append(row)
    return out


def clip_loss(clip: Any, img: torch.Tensor, captions: list[str], negatives: list[list[str]], *,
              ignore: torch.Tensor | None = None) -> torch.Tensor:
    """CLIP's symmetric in-batch contrastive loss plus, for every image, a 1-of-(1+K) choice
    between its caption and its K hard-negative captions; ``ignore`` masks image-caption pairs
    that are not negatives of each other (e.g. equal captions)."""
    B, K = len(captions), len(negatives[0])
    txt = F.normalize(clip.model.encode_text(clip.tokenizer(captions + [n for row in negatives for n in row])), dim=-1)
    pos, neg = txt[:B], txt[B:].view(B, K, -1)
    scale = clip.model.logit_scale.exp().clamp(max=100)
    logits = scale * img @ pos.T
    if ignore is not None:
        logits = logits.masked_fill(ignore, float("-inf"))
    target = torch.arange(B)
    contrastive = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
    hard = scale * torch.cat([(img * pos).sum(-1, keepdim=True), torch.einsum("bd,bkd->bk", img, neg)], 1)
    return contrastive + F.cross_entropy(hard, torch.zeros(B, dtype=torch.long))


def train_shapes_clip(params: dict[str, Any], *, log: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Train the tiny CLIP on ShapesT2I; returns its open_clip state dict and its accuracies."""
    import ganblocks
    from ganblocks.data import ShapesT2I

    p = {**DEFAULTS, **params}
    torch.manual_seed(p["seed"])
    rng = np.random.default_rng(p["seed"])
    clip = ganblocks.create_clip("tiny", pretrained=False)
    model = clip.model.requires_grad_(True).train()
    data = ShapesT2I(resolution=p["resolution"], seed=p["data_seed"], compositions="seen")
    opt = torch.optim.AdamW(model.parameters(), lr=p["lr"], weight_decay=0.05)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / p["warmup"]) * 0.5 * (1 + np.cos(np.pi * s / p["steps"])))
    B, K = p["batch"], p["negatives"]
    t0 = time.perf_counter()
    for step in range(p["steps"]):
        idx = np.arange(step * B, (step + 1) * B)
        images = _images(data, idx)
        captions = [data.caption(i) for i in idx]
        negatives = _edits(captions, K, rng)
        img = clip.encode_image(images)
        loss = clip_loss(clip, img, captions, negatives)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if log and (step % 50 == 0 or step == p["steps"] - 1):
            print(f"  tiny CLIP step {step:4d}/{p['steps']}  loss {loss.item():.3f} "
                  f"({(step + 1) * B / (time.perf_counter() - t0):.0f} img/s)", flush=True)
    model.eval().requires_grad_(False)
    report = zero_shot_accuracy(clip, resolution=p["resolution"])
    report["train_seconds"] = time.perf_counter() - t0
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}, report


@torch.no_grad()
def zero_shot_accuracy(clip: Any, *, resolution: int = 32, n: int = 512, seed: int = 4242) -> dict[str, Any]:
    """How often the true caption beats an edited one, by edit kind (chance: 0.5), on fresh
    renders; and the in-batch top-1 accuracy among 64 captions (chance 1/64)."""
    from ganblocks.data import EDIT_KINDS, ShapesT2I, edit_caption

    data = ShapesT2I(resolution=resolution, seed=seed, compositions="seen")
    rng = np.random.default_rng(seed)
    idx = np.arange(n)
    img = clip.encode_image(_images(data, idx))
    captions = [data.caption(i) for i in idx]
    pos = clip.encode_text(captions)
    out: dict[str, Any] = {}
    for kind in EDIT_KINDS:
        rows = []
        for i, c in enumerate(captions):
            if kind in EDIT_KINDS[:3] or " and " in c:
                try:
                    rows.append((i, edit_caption(c, rng, kind=kind)))
                except ValueError:  # e.g. the swap would create a held-out pair
                    pass
        neg = clip.encode_text([e for _, e in rows])
        sel = torch.tensor([i for i, _ in rows])
        out[f"vs_{kind}"] = float(((img[sel] * pos[sel]).sum(-1) > (img[sel] * neg).sum(-1)).float().mean())
    top1 = [(img[i:i + 64] @ pos[i:i + 64].T).argmax(1).eq(torch.arange(64)).float().mean() for i in range(0, n, 64)]
    out["in_batch_top1_of_64"] = float(torch.stack(top1).mean())
    return out


def file_params(path: Path) -> dict[str, Any]:
    """The training parameters stored in a tiny-CLIP file written by this script."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return json.loads((f.metadata() or {})["params"])


def shipped_clip(params: dict[str, Any]) -> Path | None:
    """The tiny CLIP that ships with the example, if it was trained with exactly ``params``."""
    if SHIPPED.is_file() and _cache_problem(SHIPPED) is None and file_params(SHIPPED) == params:
        return SHIPPED
    return None


def save_half(source: Path, target: Path) -> None:
    """Copy a tiny-CLIP file with its tensors in float16 (half the size; the loader casts back)."""
    from safetensors import safe_open

    with safe_open(str(source), "pt") as f:
        metadata = f.metadata()
        state = {k: f.get_tensor(k) for k in f.keys()}
    _write_atomically({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, target, metadata)


def _write_atomically(state: dict[str, torch.Tensor], path: Path, metadata: dict[str, str]) -> None:
    """Write a safetensors file through a temporary name, so a reader never sees half a file."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    save_file(state, str(tmp), metadata=metadata)
    os.replace(tmp, path)


def _cache_problem(path: Path) -> str | None:
    """Why a cached CLIP file cannot be used (unreadable, or not written by this script), or None."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as f:
            metadata = f.metadata() or {}
        json.loads(metadata["params"]), json.loads(metadata["report"])
    except Exception as err:  # noqa: BLE001 - a truncated or foreign file: any error means "retrain"
        return " ".join(str(err).split())[:120] or type(err).__name__
    return None


def ensure_shapes_clip(params: dict[str, Any] | None = None, *, log: bool = True, force: bool = False) -> Path:
    """The in-domain tiny CLIP for these training parameters: the shipped one when they are its
    parameters, else the cached one, trained when missing (always trained with ``force``)."""
    p = {**DEFAULTS, **(params or {})}
    shipped = None if force else shipped_clip(p)
    if shipped is not None:
        return shipped
    path = cache_dir() / f"shapes-clip-{_key(p)}.safetensors"
    if path.is_file() and not force:
        problem = _cache_problem(path)
        if problem is None:
            return path
        print(f"the cached tiny CLIP {path} is unusable ({problem}): training it again", file=sys.stderr, flush=True)
    if log:
        print(f"pretraining the tiny CLIP on ShapesT2I ({p['steps']} steps of {p['batch']}; cached at {path})", flush=True)
    state, report = train_shapes_clip(p, log=log)
    _write_atomically(state, path, {"params": json.dumps(p), "report": json.dumps(report)})
    if log:
        print("tiny CLIP zero-shot: " + ", ".join(f"{k} {v:.2f}" for k, v in report.items()), flush=True)
    return path


# --- EmojiT2I ---------------------------------------------------------------------------------------
# The same tiny CLIP, trained on the training items of a built EmojiT2I folder only (held-out
# items are never read). Hard negatives: the caption with its style swapped, with another tone
# (or a tone added or removed when the emoji takes tones), and another emoji's caption of the same
# style and tone, so that the text tower does not ignore the style and tone words.
EMOJI_DEFAULTS: dict[str, Any] = dict(steps=500, batch=128, negatives=3, lr=2e-3, warmup=50, seed=0,
                                      resolution=32, shift=2)
EMOJI_SHIPPED = Path(__file__).resolve().parent / "weights" / "emoji-clip.safetensors"


def emoji_root(data: str | Path) -> Path:
    """The built EmojiT2I folder of ``data`` (the folder itself or its ``train`` subfolder)."""
    path = Path(data)
    for root in (path, path.parent):
        if (root / "build.json").is_file() and (root / "train" / "metadata.jsonl").is_file():
            return root
    raise ValueError(f"{data} is not a built EmojiT2I folder or its train/ subfolder "
                     "(python -m ganblocks.data.emoji build)")


def _emoji_negatives(items: list[Any], idx: np.ndarray, k: int, rng: np.random.Generator,
                     by_style_tone: dict[tuple[str, tuple[str, ...]], list[int]]) -> list[list[str]]:
    """``k`` edited captions per item: style swapped, tone changed, another emoji (cycled)."""
    from ganblocks.data.emoji import EMOJI_TONES, emoji_caption

    tones = EMOJI_TONES[1:]
    out = []
    for n, i in enumerate(idx):
        it = items[i]
        row = []
        for j in range(k):
            kind = (n + j) % 3
            if kind == 0:
                other = "twitter" if it.style == "google" else "google"
                row.append(emoji_caption(it.name, it.tones, other))
            elif kind == 1:
                if len(it.tones) == 0:
                    new: tuple[str, ...] = (str(rng.choice(tones)),)
                elif len(it.tones) == 1 and rng.random() < 0.25:
                    new = ()
                else:
                    new = tuple(str(rng.choice([t for t in tones if t != it.tones[0]])) for _ in it.tones[:1]) + it.tones[1:]
                row.append(emoji_caption(it.name, new, it.style))
            else:
                pool = by_style_tone[(it.style, it.tones)]
                o = items[pool[int(rng.integers(len(pool)))]]
                if o.name == it.name and len(items) > 1:
                    o = items[int(rng.integers(len(items)))]
                row.append(o.caption)
        out.append(row)
    return out


def _shift_batch(x: torch.Tensor, shift: int, gen: torch.Generator) -> torch.Tensor:
    """Move each image by up to ``shift`` pixels (edge padding)."""
    if shift <= 0:
        return x
    n, _, h, w = x.shape
    pad = F.pad(x, (shift,) * 4, mode="replicate")
    dx = torch.randint(0, 2 * shift + 1, (n,), generator=gen)
    dy = torch.randint(0, 2 * shift + 1, (n,), generator=gen)
    return torch.stack([pad[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


def train_emoji_clip(root: str | Path, params: dict[str, Any], *, log: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Train the tiny CLIP on EmojiT2I's training items; its state dict and zero-shot retrieval
    on the held-out items."""
    import ganblocks
    from ganblocks.data.emoji import load_emoji_images, read_emoji_items

    p = {**EMOJI_DEFAULTS, **params}
    root = emoji_root(root)
    items = read_emoji_items(root / "train", splits=["train"])
    t_load = time.perf_counter()
    images = load_emoji_images(items, resolution=p["resolution"]).float() / 127.5 - 1.0
    by_style_tone: dict[tuple[str, tuple[str, ...]], list[int]] = {}
    for i, it in enumerate(items):
        by_style_tone.setdefault((it.style, it.tones), []).append(i)
    torch.manual_seed(p["seed"])
    rng = np.random.default_rng(p["seed"])
    gen = torch.Generator().manual_seed(p["seed"])
    clip = ganblocks.create_clip("tiny", pretrained=False)
    model = clip.model.requires_grad_(True).train()
    opt = torch.optim.AdamW(model.parameters(), lr=p["lr"], weight_decay=0.05)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / p["warmup"]) * 0.5 * (1 + np.cos(np.pi * s / p["steps"])))
    B, K = p["batch"], p["negatives"]
    t0, cpu0 = time.perf_counter(), time.process_time()
    order = np.empty(0, dtype=np.int64)
    for step in range(p["steps"]):
        while len(order) < B:
            order = np.concatenate([order, rng.permutation(len(items))])
        idx, order = order[:B], order[B:]
        batch = _shift_batch(images[torch.as_tensor(idx)], p["shift"], gen)
        captions = [items[i].caption for i in idx]
        negatives = _emoji_negatives(items, idx, K, rng, by_style_tone)
        img = clip.encode_image(batch)
        # items sharing a caption are not negatives of each other
        same = torch.tensor([[items[a].caption == items[b].caption for b in idx] for a in idx])
        loss = clip_loss(clip, img, captions, negatives, ignore=same & ~torch.eye(B, dtype=torch.bool))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if log and (step % 25 == 0 or step == p["steps"] - 1):
            print(f"  emoji tiny CLIP step {step:4d}/{p['steps']}  loss {loss.item():.3f} "
                  f"({(step + 1) * B / (time.perf_counter() - t0):.0f} img/s)", flush=True)
    model.eval().requires_grad_(False)
    report = {"train_seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - cpu0,
              "load_seconds": t0 - t_load, "threads": torch.get_num_threads(), "train_items": len(items)}
    report.update(emoji_zero_shot(clip, root, resolution=p["resolution"]))
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}, report


@torch.no_grad()
def emoji_zero_shot(clip: Any, root: str | Path, *, resolution: int = 32) -> dict[str, float]:
    """Zero-shot retrieval of the tiny CLIP on EmojiT2I's held-out items, per held-out set:
    style (the true caption against the style-swapped one; chance 0.5), tone (the true caption
    among the item's name in all six tone variants, items with at most one tone; chance 1/6),
    subject top-1 and top-10 (the item's caption among the distinct names of the set, in the
    item's style and tone)."""
    from ganblocks.data.emoji import EMOJI_TONES, emoji_caption, load_emoji_images, read_emoji_items

    root = emoji_root(root)
    out: dict[str, float] = {}
    for split in ("heldout_style", "heldout_tone"):
        items = read_emoji_items(root / "heldout", splits=[split])
        img = clip.encode_image(load_emoji_images(items, resolution=resolution).float() / 127.5 - 1.0)
        pos = clip.encode_text([it.caption for it in items])
        p = (img * pos).sum(-1)
        swapped = clip.encode_text([emoji_caption(it.name, it.tones, "twitter" if it.style == "google" else "google")
                                    for it in items])
        out[f"{split}/style"] = float((p > (img * swapped).sum(-1)).float().mean())
        single = [i for i, it in enumerate(items) if len(set(it.tones)) <= 1]
        hits = []
        for i in single:
            it = items[i]
            variants = [emoji_caption(it.name, () if t == "none" else (t,) * max(len(it.tones), 1), it.style)
                        for t in EMOJI_TONES]
            truth = EMOJI_TONES.index(it.tone)
            hits.append(int((clip.encode_text(variants) @ img[i]).argmax()) == truth)
        out[f"{split}/tone"] = float(np.mean(hits)) if hits else float("nan")
        names = sorted({it.name for it in items})
        top1, top10 = [], []
        for i, it in enumerate(items):
            cands = clip.encode_text([emoji_caption(n, it.tones, it.style) for n in names])
            order = (cands @ img[i]).argsort(descending=True)[:10].tolist()
            truth = names.index(it.name)
            top1.append(order[0] == truth)
            top10.append(truth in order)
        out[f"{split}/subject_top1"] = float(np.mean(top1))
        out[f"{split}/subject_top10"] = float(np.mean(top10))
        out[f"{split}/subject_candidates"] = len(names)
    return out


def _emoji_data_key(root: Path) -> str:
    """What identifies the built data set: its build record's sources and counts."""
    build = json.loads((root / "build.json").read_text())
    return json.dumps({"sources": [s.get("sha256") for s in build.get("sources", [])], "items": build.get("items")},
                      sort_keys=True)


def ensure_emoji_clip(data: str | Path, params: dict[str, Any] | None = None, *, log: bool = True,
                      force: bool = False) -> Path:
    """The in-domain tiny CLIP of EmojiT2I for these parameters: the shipped one when it was
    trained with them on the same build, else the cached one, trained when missing."""
    root = emoji_root(data)
    p = {**EMOJI_DEFAULTS, **(params or {})}
    record = {**p, "data": _emoji_data_key(root)}
    if not force and EMOJI_SHIPPED.is_file() and _cache_problem(EMOJI_SHIPPED) is None \
            and file_params(EMOJI_SHIPPED) == record:
        return EMOJI_SHIPPED
    path = cache_dir() / f"emoji-clip-{_key(record)}.safetensors"
    if path.is_file() and not force:
        problem = _cache_problem(path)
        if problem is None:
            return path
        print(f"the cached tiny CLIP {path} is unusable ({problem}): training it again", file=sys.stderr, flush=True)
    if log:
        print(f"pretraining the tiny CLIP on EmojiT2I's training items ({p['steps']} steps of {p['batch']}; "
              f"cached at {path})", flush=True)
    state, report = train_emoji_clip(root, p, log=log)
    _write_atomically(state, path, {"params": json.dumps(record), "report": json.dumps(report)})
    if log:
        print("emoji tiny CLIP: " + ", ".join(f"{k} {v:.3g}" for k, v in report.items()), flush=True)
    return path


def main(argv: list[str] | None = None) -> None:
    ap = ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    helps = dict(steps="training steps (the trainer's --clip-pretrain-steps)", batch="images per step",
                 negatives="edited captions per image", lr="AdamW learning rate", warmup="linear warm-up steps",
                 seed="seed of the initial weights and the caption edits", resolution="image side of ShapesT2I",
                 data_seed="seed of the ShapesT2I training images")
    for k, v in DEFAULTS.items():
        ap.add_argument("--" + k.replace("_", "-"), type=type(v), default=v, help=helps[k])
    ap.add_argument("--force", action="store_true", help="train even when shipped or cached")
    ap.add_argument("--save", type=Path, default=None, metavar="FILE",
                    help="also write the weights, in float16, to FILE (how the shipped file is made)")
    ap.add_argument("--emoji", default=None, metavar="DIR",
                    help="pretrain on the training items of this built EmojiT2I folder (or its train/) "
                         "instead, with the trainer's --clip-weights emoji parameters (the ShapesT2I "
                         "flags above are ignored), and report retrieval on its held-out items")
    args = ap.parse_args(argv)
    if args.emoji is not None:
        with user_errors():
            path = ensure_emoji_clip(args.emoji, force=args.force)
            if args.save is not None:
                save_half(path, args.save)
                path = args.save
            from safetensors import safe_open

            with safe_open(str(path), "pt") as f:
                print(json.dumps({"path": str(path), **json.loads(f.metadata()["report"])}, indent=2))
        return
    params = {k: getattr(args, k) for k in DEFAULTS}
    for name in ("steps", "batch", "negatives", "warmup", "lr"):
        if not params[name] > 0:
            ap.error(f"--{name} must be positive, got {params[name]}")
    res = params["resolution"]
    if not SHAPES_MIN_RESOLUTION <= res <= SHAPES_MAX_RESOLUTION or res & (res - 1):
        ap.error(f"--resolution must be a power of two in [{SHAPES_MIN_RESOLUTION}, {SHAPES_MAX_RESOLUTION}], got {res}")
    with user_errors():
        path = ensure_shapes_clip(params, force=args.force)
        if args.save is not None:
            save_half(path, args.save)
            path = args.save
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            print(json.dumps({"path": str(path), **json.loads(f.metadata()["report"])}, indent=2))


if __name__ == "__main__":
    main()
