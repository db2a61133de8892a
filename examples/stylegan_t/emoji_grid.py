r"""A grid of generated emoji beside the real ones, for captions of each EmojiT2I split.

    python examples/stylegan_t/emoji_grid.py --model ganblocks/emoji-32 --data data/emoji \
        --out docs/assets/emoji-shipped-grid.png

Draws ``--rows`` items of each split (training items, held-out style, held-out tone) at random
with the fixed ``--seed`` (not picked by hand), and writes one row per item: its caption, its
real image, then the generator's images for seeds ``0..--seeds - 1``. ``--model`` is anything
``TextToImageGenerator.from_pretrained`` reads (a shipped model's name, a saved folder, a run);
``--data`` is the folder ``python -m ganblocks.data.emoji build`` wrote (held-out items included:
they are only shown, never trained on). The captions are also written beside the PNG (``.txt``).
"""

from pathlib import Path

import numpy as np
import torch

from ganblocks.cli import ArgumentParser, user_errors

SPLIT_NAMES = {"train": "seen", "heldout_style": "held-out style", "heldout_tone": "held-out tone"}


def pick_items(items: list, rows: int, seed: int) -> list:
    """``rows`` items of each split, drawn with ``seed`` from the split's items sorted by caption."""
    picked = []
    for split in SPLIT_NAMES:
        pool = sorted((it for it in items if it.split == split), key=lambda it: (it.caption, it.unified))
        if not pool:
            raise ValueError(f"the data has no {split} items: pass the whole built folder (train/ and heldout/)")
        pick = np.random.default_rng(seed).choice(len(pool), size=min(rows, len(pool)), replace=False)
        picked += [pool[i] for i in sorted(pick)]
    return picked


def draw_grid(G: torch.nn.Module, items: list, *, seeds: int, truncation: float, scale: int):
    """The figure as a PIL image: per item, a caption, the real image and ``seeds`` generated ones."""
    from PIL import Image, ImageDraw, ImageFont

    from ganblocks import to_uint8
    from ganblocks.data.emoji import load_emoji_images

    r = G.resolution
    real = load_emoji_images(items, resolution=r)
    captions = [it.caption for it in items]
    fake = to_uint8(G.generate([c for c in captions for _ in range(seeds)], list(range(seeds)) * len(items),
                               truncation_psi=truncation).cpu())
    cell, pad, gap = r * scale, 4, 12
    font = ImageFont.load_default(size=14)
    text_w = max(int(font.getlength(c)) for c in captions) + 2 * pad
    head = 24
    group_gap = 10
    width = text_w + (1 + seeds) * (cell + pad) + gap
    height = head + len(items) * (cell + pad) + (len(SPLIT_NAMES) - 1) * group_gap + pad
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    x0 = text_w
    draw.text((x0, 4), "real", fill="black", font=font)
    draw.text((x0 + cell + pad + gap, 4), f"generated, seeds 0-{seeds - 1}", fill="black", font=font)
    y, last = head, items[0].split
    for i, item in enumerate(items):
        if item.split != last:
            y += group_gap
            last = item.split
        label = f"{SPLIT_NAMES[item.split]}:"
        draw.text((pad, y + cell // 2 - 16), label, fill=(110, 110, 110), font=font)
        draw.text((pad, y + cell // 2), captions[i], fill="black", font=font)
        tiles = [real[i]] + [fake[i * seeds + s] for s in range(seeds)]
        for j, tile in enumerate(tiles):
            x = x0 + j * (cell + pad) + (gap if j else 0)
            image = Image.fromarray(tile.permute(1, 2, 0).numpy()).resize((cell, cell), Image.NEAREST)
            canvas.paste(image, (x, y))
        y += cell + pad
    return canvas


def main(argv: list[str] | None = None) -> None:
    p = ArgumentParser(description=__doc__)
    p.add_argument("--model", default="ganblocks/emoji-32",
                   help="what TextToImageGenerator.from_pretrained reads (default: ganblocks/emoji-32, shipped)")
    p.add_argument("--data", type=Path, required=True, help="the built EmojiT2I folder (with train/ and heldout/)")
    p.add_argument("--out", type=Path, default=Path("emoji-grid.png"), help="the PNG to write")
    p.add_argument("--rows", type=int, default=4, help="items of each split (default 4)")
    p.add_argument("--seeds", type=int, default=4, help="generated images per item (default 4)")
    p.add_argument("--seed", type=int, default=0, help="which items are drawn (default 0)")
    p.add_argument("--truncation", type=float, default=1.0, help="truncation psi (default 1: none)")
    p.add_argument("--scale", type=int, default=3, help="enlarge the images this many times (default 3)")
    args = p.parse_args(argv)
    for name in ("rows", "seeds", "scale"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1, got {getattr(args, name)}")

    from ganblocks import TextToImageGenerator
    from ganblocks.data.emoji import read_emoji_items

    with user_errors(f"cannot read the EmojiT2I items of {args.data}"):
        items = pick_items(read_emoji_items(args.data), args.rows, args.seed)
    with user_errors(f"cannot load a generator from {args.model}"):
        G = TextToImageGenerator.from_pretrained(args.model)
    with user_errors(f"cannot draw the grid of {args.data}"):
        figure = draw_grid(G, items, seeds=args.seeds, truncation=args.truncation, scale=args.scale)
    with user_errors(f"cannot write {args.out}"):
        args.out.parent.mkdir(parents=True, exist_ok=True)
        figure.save(args.out)
    print(f"wrote {args.out}: {len(items)} rows (caption, real image, seeds 0-{args.seeds - 1})")
    for it in items:
        print(f"  {SPLIT_NAMES[it.split]}: {it.caption}")


if __name__ == "__main__":
    main()
