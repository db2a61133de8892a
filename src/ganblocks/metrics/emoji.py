"""EmojiT2I scores: a small classifier of the real emoji images and the evaluation built on it.

The *scorer* is a CNN trained on the real images of every EmojiT2I item, held-out ones included
(it judges images; it never trains a generator). From one image it predicts the style (2
classes), the skin tone (6: none or one of five), the category (9) and the subject (one class per
base emoji, 1,906), and it exposes its penultimate features. A scorer has one input resolution;
the package ships a 32 px and a 64 px one, which
[`load_emoji_scorer`][ganblocks.metrics.emoji.load_emoji_scorer] reads offline. Images of
another size are resized to the scorer's with anti-aliasing.

[`evaluate_emoji`][ganblocks.metrics.emoji.evaluate_emoji] generates one image per (item, seed)
on three prompt sets (``seen``: training items; ``heldout_style``; ``heldout_tone``) and reports,
per set, the accuracies of the scorer's predictions against the item's fields (``style``,
``tone``, ``category``, ``subject_top1``, ``subject_top10``) and ``fd``, the Fréchet distance
between the scorer's features of the generated images and of the real images of the same items.

Command line::

    python -m ganblocks.metrics.emoji train-scorer --data data/emoji --resolution 32 --out scorer.safetensors
    python -m ganblocks.metrics.emoji conformance --data data/emoji --resolution 32
"""

import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._typing import Float, Int, Tensor, UInt8
from ..data.emoji import EMOJI_STYLES, EMOJI_TONES, SPLITS, EmojiItem, load_emoji_images, read_emoji_items
from .text_to_image import EVAL_SEED_BASE, TextToImage, generate_images

__all__ = [
    "EMOJI_SCORER_RESOLUTIONS",
    "EMOJI_EVAL_SEED",
    "EmojiScores",
    "EmojiScorer",
    "emoji_labels",
    "train_emoji_scorer",
    "classify_emoji",
    "emoji_accuracies",
    "emoji_conformance",
    "save_emoji_scorer",
    "load_emoji_scorer",
    "shipped_scorer_path",
    "emoji_prompt_sets",
    "evaluate_emoji",
    "main",
]

EMOJI_SCORER_RESOLUTIONS = (32, 64)
"""Resolutions of the scorers shipped with the package."""

EMOJI_EVAL_SEED = EVAL_SEED_BASE + 500_000
"""First latent seed of ``evaluate_emoji`` (apart from training seeds and from the ShapesT2I ones)."""

HEADS = ("style", "tone", "category", "subject")
_FORMAT = "ganblocks-emoji-scorer-1"
_WEIGHTS = Path(__file__).resolve().parent / "weights"


class EmojiScores(NamedTuple):
    """A scorer's output for a batch: logits per head and the penultimate features."""

    style: Float[Tensor, "b 2"]
    tone: Float[Tensor, "b 6"]
    category: Float[Tensor, "b c"]
    subject: Float[Tensor, "b s"]
    features: Float[Tensor, "b d"]


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class EmojiScorer(nn.Module):
    """A small CNN with four classification heads over one feature vector.

    A strided 3x3 convolution to half the input's side, then stages of two 3x3 convolutions (the
    first strided), each halving the side, down to 4 px (batch norm and ReLU after each); the 4x4
    map flattened (or averaged, see ``pool``); a linear layer to ``feature_dim`` features with
    ReLU (the penultimate features ``fd`` compares); a linear head each for style, tone, category
    and subject.

    Args:
        subjects: The subject classes (``unified`` code points of base emoji).
        categories: The category classes.
        resolution: Side of the input images (a power of two, at least 8).
        widths: Channels at ``resolution / 2``, ``resolution / 4``, ... (missing stages repeat
            the last width).
        feature_dim: Width of the penultimate features.
        pool: ``"flatten"``: the last 4x4 map, flattened, feeds the feature layer (where a mark
            is matters); ``"mean"``: its average over positions.
    """

    def __init__(self, subjects: Sequence[str], categories: Sequence[str], *, resolution: int = 32,
                 widths: Sequence[int] = (32, 64, 128, 128), feature_dim: int = 128, pool: str = "flatten") -> None:
        super().__init__()
        if resolution < 8 or resolution & (resolution - 1):
            raise ValueError(f"resolution must be a power of two of at least 8, got {resolution}")
        self.subjects = list(subjects)
        self.categories = list(categories)
        self.resolution = resolution
        self.widths = [int(w) for w in widths]
        self.feature_dim = feature_dim
        if pool not in ("flatten", "mean"):
            raise ValueError(f"pool must be 'flatten' or 'mean', got {pool!r}")
        self.pool = pool
        stages = int(math.log2(resolution // 4))
        chans = (self.widths + [self.widths[-1]] * stages)[:stages]
        layers: list[nn.Module] = [_conv(3, chans[0], 2)]
        for c_in, c in zip(chans, chans[1:]):
            layers += [_conv(c_in, c, 2), _conv(c, c)]
        c_prev = chans[-1]
        self.trunk = nn.Sequential(*layers)
        self.embed = nn.Sequential(nn.Linear(c_prev * (16 if pool == "flatten" else 1), feature_dim),
                                   nn.ReLU(inplace=True))
        self.heads = nn.ModuleDict({
            "style": nn.Linear(feature_dim, len(EMOJI_STYLES)),
            "tone": nn.Linear(feature_dim, len(EMOJI_TONES)),
            "category": nn.Linear(feature_dim, len(self.categories)),
            "subject": nn.Linear(feature_dim, len(self.subjects)),
        })

    def config(self) -> dict[str, Any]:
        """What rebuilds the network: classes, resolution and widths."""
        return {"subjects": self.subjects, "categories": self.categories, "resolution": self.resolution,
                "widths": self.widths, "feature_dim": self.feature_dim, "pool": self.pool}

    def features(self, images: Float[Tensor, "b 3 h w"]) -> Float[Tensor, "b d"]:
        """The penultimate features of images in $[-1, 1]$ at the scorer's resolution."""
        if images.shape[-1] != self.resolution or images.shape[-2] != self.resolution:
            raise ValueError(f"the scorer takes {self.resolution} px images, got {list(images.shape[-2:])}; "
                             "resize them first (evaluate_emoji does)")
        h = self.trunk(images)
        return self.embed(h.flatten(1) if self.pool == "flatten" else h.mean((2, 3)))

    def forward(self, images: Float[Tensor, "b 3 h w"]) -> EmojiScores:
        """Logits of each head and the features, for images in $[-1, 1]$."""
        f = self.features(images)
        return EmojiScores(*(self.heads[h](f) for h in HEADS), features=f)


# -- labels and accuracies -----------------------------------------------------------------------


def emoji_labels(scorer: EmojiScorer, items: Sequence[EmojiItem]) -> Int[Tensor, "n 4"]:
    """Class indices of ``items`` for the heads (style, tone, category, subject); ``-1`` where not
    scored: tone for two different tones, a category or subject the scorer does not know."""
    cat = {c: i for i, c in enumerate(scorer.categories)}
    sub = {s: i for i, s in enumerate(scorer.subjects)}
    rows = [[EMOJI_STYLES.index(it.style), EMOJI_TONES.index(it.tone) if it.tone is not None else -1,
             cat.get(it.category, -1), sub.get(it.subject, -1)] for it in items]
    return torch.tensor(rows, dtype=torch.int64).reshape(len(items), 4)


def _to_unit(images: Tensor, resolution: int) -> Tensor:
    """uint8 or [-1, 1] float images as float [-1, 1] at ``resolution`` (anti-aliased resizing)."""
    x = images.float() / 127.5 - 1.0 if images.dtype == torch.uint8 else images.float().clamp(-1, 1)
    if x.shape[-1] != resolution or x.shape[-2] != resolution:
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False,
                          antialias=x.shape[-1] > resolution)
    return x


@torch.no_grad()
def classify_emoji(scorer: EmojiScorer, images: Tensor, *, batch_size: int = 256) -> EmojiScores:
    """The scorer's output for ``uint8`` images or float images in $[-1, 1]$ of any square size
    (resized to the scorer's resolution with anti-aliasing), computed on the scorer's device and
    returned on the CPU."""
    was_training = scorer.training
    scorer.eval()
    device = next(scorer.parameters()).device
    parts = []
    try:
        for i in range(0, len(images), batch_size):
            x = _to_unit(images[i:i + batch_size].to(device), scorer.resolution)
            parts.append([t.float().cpu() for t in scorer(x)])
    finally:
        scorer.train(was_training)
    if not parts:
        raise ValueError("no images to score")
    return EmojiScores(*(torch.cat(col) for col in zip(*parts)))


def emoji_accuracies(scores: EmojiScores, labels: Int[Tensor, "n 4"], *, repeats: int = 1) -> dict[str, float]:
    """``style``, ``tone``, ``category``, ``subject_top1`` and ``subject_top10`` accuracies.

    Args:
        scores: One row per image.
        labels: One row per item (``emoji_labels``); with ``repeats`` images per item, image ``k``
            belongs to item ``k // repeats``.
        repeats: Images per item.

    An accuracy over no scored image (e.g. tone when every item has two tones) is NaN.
    """
    labels = labels.repeat_interleave(repeats, dim=0)
    if len(labels) != len(scores.features):
        raise ValueError(f"{len(scores.features)} images but {len(labels)} labels ({repeats} per item)")

    def acc(correct: Tensor, valid: Tensor) -> float:
        return float(correct[valid].float().mean()) if bool(valid.any()) else float("nan")

    out = {}
    for k, head in enumerate(HEADS[:3]):
        y = labels[:, k]
        out[head] = acc(getattr(scores, head).argmax(1) == y, y >= 0)
    y = labels[:, 3]
    top = scores.subject.topk(min(10, scores.subject.shape[1]), dim=1).indices
    out["subject_top1"] = acc(top[:, 0] == y, y >= 0)
    out["subject_top10"] = acc((top == y[:, None]).any(1), y >= 0)
    return out


def _sets(items: Sequence[EmojiItem]) -> dict[str, list[EmojiItem]]:
    names = {"train": "seen", "heldout_style": "heldout_style", "heldout_tone": "heldout_tone"}
    return {names[s]: [it for it in items if it.split == s] for s in SPLITS}


def emoji_conformance(scorer: EmojiScorer, items: Sequence[EmojiItem], *,
                      images: UInt8[Tensor, "n 3 h w"] | None = None, batch_size: int = 256) -> dict[str, float]:
    """The scorer's accuracies on the real images of each prompt set (every item of the set), and
    the Fréchet distance of those images' features against themselves (0).

    Keys ``{set}/{metric}`` with ``set`` in ``seen`` (training items), ``heldout_style``,
    ``heldout_tone``. A scorer fit for ``evaluate_emoji`` reaches at least 0.99 style, 0.95 tone,
    0.95 category and 0.95 subject top-10 on every set.

    Args:
        scorer: The scorer.
        items: Items of a built data set (``read_emoji_items``).
        images: Their images (default: read at the scorer's resolution).
        batch_size: Images per forward pass.
    """
    from .frechet import frechet_distance_from_features

    if images is None:
        images = load_emoji_images(items, resolution=scorer.resolution)
    index = {id(it): i for i, it in enumerate(items)}
    out: dict[str, float] = {}
    for name, subset in _sets(items).items():
        if not subset:
            continue
        idx = torch.tensor([index[id(it)] for it in subset])
        scores = classify_emoji(scorer, images[idx], batch_size=batch_size)
        for k, v in emoji_accuracies(scores, emoji_labels(scorer, subset)).items():
            out[f"{name}/{k}"] = v
        if len(subset) >= 2:
            out[f"{name}/fd"] = frechet_distance_from_features(scores.features, scores.features)
        out[f"{name}/items"] = len(subset)
    return out


# -- training ------------------------------------------------------------------------------------


def _shift(x: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """Translate each image by up to ``max_shift`` pixels, filling with white (+1)."""
    if max_shift <= 0:
        return x
    b, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4, value=1.0)
    dx = torch.randint(0, 2 * max_shift + 1, (b,), generator=generator)
    dy = torch.randint(0, 2 * max_shift + 1, (b,), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None]).to(x.device)  # b h
    cols = (dx[:, None] + torch.arange(w)[None]).to(x.device)  # b w
    bi = torch.arange(b, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[bi, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()


def _blur_some(x: Tensor, share: float, generator: torch.Generator) -> Tensor:
    """Blur a random ``share`` of the images: down to half their side (anti-aliased) and back."""
    pick = (torch.rand(len(x), generator=generator) < share).to(x.device)
    if not bool(pick.any()):
        return x
    side = x.shape[-1]
    soft = F.interpolate(F.interpolate(x[pick], size=side // 2, mode="bilinear", antialias=True),
                         size=side, mode="bilinear", align_corners=False)
    x = x.clone()
    x[pick] = soft
    return x


def train_emoji_scorer(
    items: Sequence[EmojiItem],
    *,
    resolution: int = 32,
    images: UInt8[Tensor, "n 3 h w"] | None = None,
    epochs: int = 30,
    batch_size: int = 256,
    lr: float = 4e-3,
    max_shift: int | None = None,
    noise: float = 0.02,
    blur: float = 0.25,
    widths: Sequence[int] = (32, 64, 128, 128),
    feature_dim: int = 128,
    pool: str = "flatten",
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> EmojiScorer:
    """Train a scorer on the real images of ``items`` (all of them: held-out ones too).

    One step per batch of a shuffled epoch, AdamW with a one-cycle learning rate, the sum of the
    four heads' cross-entropies (tone ignored for two different tones). Augmentation: each image
    moved by up to ``max_shift`` pixels (white fill), a share ``blur`` of them blurred, and
    Gaussian noise of deviation ``noise`` (in $[-1, 1]$ units), so that slightly off-centre, soft
    or noisy generated images are still read.

    Args:
        items: The items (``read_emoji_items``); the scorer's subject and category classes are
            theirs, sorted.
        resolution: Side of the scorer's input.
        images: The items' ``uint8`` images at ``resolution`` (default: read from disk).
        epochs: Passes over the images.
        batch_size: Images per step.
        lr: Peak learning rate.
        max_shift: Largest translation in pixels (default ``resolution // 16``).
        noise: Deviation of the added Gaussian noise.
        blur: Share of the images blurred (brought to half their side and back), so that soft
            images are still read.
        widths: Channels of the stages (see ``EmojiScorer``).
        feature_dim: Width of the features.
        pool: How the last 4 px map becomes the features' input (see ``EmojiScorer``).
        seed: Seeds the initialisation, the shuffling and the augmentation.
        device: Where to train.
        progress: Print one line per epoch on stderr.
    """
    if not items:
        raise ValueError("no items to train the scorer on")
    if images is None:
        images = load_emoji_images(items, resolution=resolution)
    if len(images) != len(items) or images.shape[-1] != resolution:
        raise ValueError(f"images {list(images.shape)} do not match {len(items)} items at {resolution} px")
    max_shift = resolution // 16 if max_shift is None else max_shift
    device = torch.device(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        scorer = EmojiScorer(sorted({it.subject for it in items}), sorted({it.category for it in items}),
                             resolution=resolution, widths=widths, feature_dim=feature_dim, pool=pool)
    scorer = scorer.to(device, memory_format=torch.channels_last)
    labels = emoji_labels(scorer, items).to(device)
    data = images.to(device)
    gen = torch.Generator().manual_seed(seed)
    steps_per_epoch = math.ceil(len(items) / batch_size)
    opt = torch.optim.AdamW(scorer.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch, pct_start=0.2)
    scorer.train()
    start = time.perf_counter()
    for epoch in range(epochs):
        order = torch.randperm(len(items), generator=gen).to(device)
        total = 0.0
        for s in range(steps_per_epoch):
            idx = order[s * batch_size:(s + 1) * batch_size]
            x = _shift(_to_unit(data[idx], resolution), max_shift, gen)
            if blur > 0:
                x = _blur_some(x, blur, gen)
            if noise > 0:
                x = x + noise * torch.randn(x.shape, generator=gen).to(device)
            y = labels[idx]
            out = scorer(x.contiguous(memory_format=torch.channels_last))
            loss = sum(F.cross_entropy(getattr(out, h), y[:, k], ignore_index=-1) for k, h in enumerate(HEADS))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        if progress:
            print(f"epoch {epoch + 1}/{epochs}: loss {total / steps_per_epoch:.3f} "
                  f"({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    return scorer.to(memory_format=torch.contiguous_format).eval().requires_grad_(False)


# -- files ---------------------------------------------------------------------------------------


def save_emoji_scorer(scorer: EmojiScorer, path: str | os.PathLike, *, info: dict[str, Any] | None = None) -> Path:
    """Write the scorer as float16 safetensors, its classes and shape in the file's metadata.

    Args:
        scorer: The scorer.
        path: The ``.safetensors`` file.
        info: More to record (training settings, conformance), as JSON.
    """
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: (v.half() if v.is_floating_point() else v).contiguous().cpu()
               for k, v in scorer.state_dict().items() if not k.endswith("num_batches_tracked")}
    meta = {"format": _FORMAT, "config": json.dumps(scorer.config()), "info": json.dumps(info or {})}
    save_file(tensors, str(path), metadata=meta)
    return path


def shipped_scorer_path(resolution: int = 32) -> Path:
    """The file of the scorer shipped with the package for ``resolution``."""
    return _WEIGHTS / f"emoji-scorer-{resolution}.safetensors"


def load_emoji_scorer(resolution: int = 32, *, path: str | os.PathLike | None = None,
                      device: str | torch.device = "cpu") -> EmojiScorer:
    """A scorer in inference state (float32, eval mode, no gradients), read offline.

    Args:
        resolution: Which shipped scorer (see ``EMOJI_SCORER_RESOLUTIONS``); ignored when ``path``
            is given.
        path: A file written by ``save_emoji_scorer`` instead of a shipped one.
        device: Where to put it.

    Raises:
        FileNotFoundError: No shipped scorer for ``resolution`` (or no file at ``path``).
        ValueError: Not a scorer file.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    if path is None:
        path = shipped_scorer_path(resolution)
        if not path.is_file():
            shipped = [str(r) for r in EMOJI_SCORER_RESOLUTIONS if shipped_scorer_path(r).is_file()]
            raise FileNotFoundError(f"no shipped EmojiT2I scorer for {resolution} px (shipped: "
                                    f"{', '.join(shipped) or 'none'}): use one of those (evaluate_emoji resizes "
                                    "the images) or train one with python -m ganblocks.metrics.emoji train-scorer")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such scorer file")
    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
        state = load_file(str(path))
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same message
        raise ValueError(f"{path}: not a readable safetensors file ({type(e).__name__}: {e})") from None
    if meta.get("format") != _FORMAT:
        raise ValueError(f"{path}: not an EmojiT2I scorer (format {meta.get('format')!r}, expected {_FORMAT!r})")
    config = json.loads(meta["config"])
    scorer = EmojiScorer(config["subjects"], config["categories"], resolution=config["resolution"],
                         widths=config["widths"], feature_dim=config["feature_dim"], pool=config.get("pool", "mean"))
    missing, unexpected = scorer.load_state_dict({k: v.float() if v.is_floating_point() else v
                                                  for k, v in state.items()}, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError(f"{path}: weights do not match the scorer (missing {missing[:3]}, unexpected {unexpected[:3]})")
    scorer.info = json.loads(meta.get("info", "{}"))
    return scorer.to(device).eval().requires_grad_(False)


# -- evaluation ----------------------------------------------------------------------------------


def emoji_prompt_sets(items: Sequence[EmojiItem], *, samples: int = 256, seed: int = 0) -> dict[str, list[EmojiItem]]:
    """The items of the three prompt sets: ``seen`` (training items), ``heldout_style`` and
    ``heldout_tone``, each at most ``samples`` items drawn uniformly without replacement by a
    fixed generator (the same items for the same data set, ``samples`` and ``seed``)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, subset in _sets(items).items():
        if len(subset) > samples:
            keep = np.sort(rng.choice(len(subset), size=samples, replace=False))
            subset = [subset[i] for i in keep]
        out[name] = subset
    return out


@torch.no_grad()
def evaluate_emoji(
    generator: TextToImage,
    scorer: EmojiScorer,
    items: Sequence[EmojiItem],
    *,
    seeds_per_item: int = 1,
    samples: int = 256,
    resolution: int | None = None,
    truncation_psi: float = 1.0,
    batch_size: int = 64,
    real_images: dict[str, UInt8[Tensor, "n 3 h w"]] | None = None,
) -> dict[str, float]:
    """EmojiT2I scores of a generator on fixed prompts and latents (never training ones).

    For each prompt set (see ``emoji_prompt_sets``) the generator draws ``seeds_per_item`` images
    per item from its caption, with seeds from ``EMOJI_EVAL_SEED`` on; the scorer reads them
    (resized to its resolution with anti-aliasing when they differ). Keys ``{set}/{metric}``:

    - ``style``, ``tone``, ``category``: accuracy of the scorer's prediction against the item's
      field (tone only over items with no tone or one tone);
    - ``subject_top1``, ``subject_top10``: whether the item's subject is the scorer's first or
      among its first ten;
    - ``fd``: Fréchet distance between the scorer's features of the generated images and of the
      real images of the same items (read at ``resolution``, then brought to the scorer's);
    - ``images``: images generated.

    Args:
        generator: Anything with ``generate(captions, seeds, truncation_psi=...)``.
        scorer: An ``EmojiScorer`` (``load_emoji_scorer(resolution)``).
        items: Items of the data set (``read_emoji_items``), held-out ones included.
        seeds_per_item: Images per item.
        samples: Items per prompt set (sets with fewer items use all of theirs).
        resolution: The generator's resolution, at which the real images are read (default: the
            generator's ``resolution`` attribute, else the scorer's).
        truncation_psi: Truncation of the latents.
        batch_size: Images per generator call.
        real_images: The real images of each set's items (``uint8``), if already loaded.
    """
    from .frechet import frechet_distance_from_features

    if seeds_per_item < 1 or samples < 1:
        raise ValueError(f"seeds_per_item and samples must be positive, got {seeds_per_item} and {samples}")
    if resolution is None:
        resolution = int(getattr(generator, "resolution", scorer.resolution))
    sets = emoji_prompt_sets(items, samples=samples)
    out: dict[str, float] = {}
    offset = 0
    for name, subset in sets.items():
        if not subset:
            continue
        captions = [it.caption for it in subset for _ in range(seeds_per_item)]
        seeds = [EMOJI_EVAL_SEED + offset + i for i in range(len(captions))]
        offset += samples * seeds_per_item
        fake = generate_images(generator, captions, seeds, truncation_psi=truncation_psi, batch_size=batch_size)
        scores = classify_emoji(scorer, fake)
        for k, v in emoji_accuracies(scores, emoji_labels(scorer, subset), repeats=seeds_per_item).items():
            out[f"{name}/{k}"] = v
        real = (real_images or {}).get(name)
        if real is None:
            real = load_emoji_images(subset, resolution=resolution)
        real_features = classify_emoji(scorer, real).features
        if len(subset) >= 2:
            out[f"{name}/fd"] = frechet_distance_from_features(scores.features, real_features)
        else:
            out[f"{name}/fd"] = float("nan")
        out[f"{name}/images"] = len(captions)
    return out


# -- command line --------------------------------------------------------------------------------


def _print_table(report: dict[str, float]) -> None:
    sets = [s for s in ("seen", "heldout_style", "heldout_tone") if f"{s}/style" in report]
    metrics = ["style", "tone", "category", "subject_top1", "subject_top10", "fd", "items"]
    print(f"{'set':<15}" + "".join(f"{m:>14}" for m in metrics))
    for s in sets:
        cells = [report.get(f"{s}/{m}", float("nan")) for m in metrics]
        print(f"{s:<15}" + "".join(f"{v:>14.4f}" if m != "items" else f"{int(v):>14d}" for m, v in zip(metrics, cells)))


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m ganblocks.metrics.emoji train-scorer | conformance``."""
    from ..cli import ArgumentParser, user_errors

    parser = ArgumentParser(prog="python -m ganblocks.metrics.emoji",
                            description="Train or check the EmojiT2I scorer on a data set built with "
                                        "python -m ganblocks.data.emoji build.")
    sub = parser.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train-scorer", help="train a scorer on the real images of every item")
    tr.add_argument("--data", required=True, help="the built data set folder (its train/ and heldout/ both)")
    tr.add_argument("--resolution", type=int, default=32, help="input side of the scorer")
    tr.add_argument("--out", required=True, help="the .safetensors file to write")
    tr.add_argument("--epochs", type=int, default=30, help="passes over the images")
    tr.add_argument("--batch", type=int, default=256, help="images per step")
    tr.add_argument("--lr", type=float, default=4e-3, help="peak learning rate")
    tr.add_argument("--seed", type=int, default=0, help="seed of initialisation, order and augmentation")
    tr.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    tr.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    co = sub.add_parser("conformance", help="the scorer's accuracies on the real images of each set")
    co.add_argument("--data", required=True, help="the built data set folder")
    co.add_argument("--resolution", type=int, default=32, help="which shipped scorer")
    co.add_argument("--scorer", default=None, help="a scorer file instead of the shipped one")
    co.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.command == "train-scorer":
        if getattr(args, "threads", 0) > 0:
            torch.set_num_threads(args.threads)
        with user_errors("cannot train the scorer"):
            from ..cli import resolve_device

            device = resolve_device(args.device)
            items = read_emoji_items(args.data)
            images = load_emoji_images(items, resolution=args.resolution)
            start, cpu_start = time.perf_counter(), time.process_time()
            scorer = train_emoji_scorer(items, images=images, resolution=args.resolution, epochs=args.epochs,
                                        batch_size=args.batch, lr=args.lr, seed=args.seed, device=device,
                                        progress=True)
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
            scorer = scorer.cpu()
            report = emoji_conformance(scorer, items, images=images)
            info = {"epochs": args.epochs, "batch": args.batch, "lr": args.lr, "seed": args.seed,
                    "train_seconds": round(seconds, 1),
                    "train_cpu_seconds": round(cpu_seconds, 1), "threads": torch.get_num_threads(), "device": str(device),
                    "items": len(items), "conformance": report}
            path = save_emoji_scorer(scorer, args.out, info=info)
            _print_table(report)
            print(f"trained in {seconds:.0f} s ({cpu_seconds:.0f} s of CPU time); wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    else:
        with user_errors("cannot check the scorer"):
            items = read_emoji_items(args.data)
            scorer = load_emoji_scorer(args.resolution, path=args.scorer)
            report = emoji_conformance(scorer, items)
            if args.json:
                print(json.dumps(report, indent=1))
            else:
                _print_table(report)


if __name__ == "__main__":
    main()
