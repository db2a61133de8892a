"""Generated "real-looking" captioned image folders for the data-format tests.

Images are gradients with a few random shapes and a little noise, of various sizes, file formats
and PIL modes; captions describe them. ``write_bad_samples`` adds every kind of broken input a
crawled data set contains.
"""

import io
import json
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 80, 220), "yellow": (240, 210, 40),
           "white": (245, 245, 245), "black": (15, 15, 15), "orange": (240, 140, 30), "purple": (150, 60, 200)}
FORMATS = ["jpg", "png", "webp"]
MODES = ["RGB", "RGB", "RGB", "L", "RGBA", "P"]


def real_looking_image(rng: np.random.Generator, width: int, height: int) -> tuple[Image.Image, str]:
    """A gradient with one to three shapes and noise, and a caption naming them."""
    c0, c1 = rng.integers(0, 256, size=(2, 3))
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:height, 0:width]
    t = (np.cos(angle) * xx / width + np.sin(angle) * yy / height)
    t = (t - t.min()) / max(np.ptp(t), 1e-9)
    pixels = c0 + (c1 - c0) * t[..., None] + rng.normal(0, 4, size=(height, width, 3))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    words = []
    for _ in range(int(rng.integers(1, 4))):
        colour = str(rng.choice(list(COLOURS)))
        kind = str(rng.choice(["circle", "square", "triangle"]))
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        s = rng.uniform(0.1, 0.4) * min(width, height)
        box = [x - s, y - s, x + s, y + s]
        if kind == "circle":
            draw.ellipse(box, fill=COLOURS[colour])
        elif kind == "square":
            draw.rectangle(box, fill=COLOURS[colour])
        else:
            draw.polygon([(x, y - s), (x - s, y + s), (x + s, y + s)], fill=COLOURS[colour])
        words.append(f"a {colour} {kind}")
    return image, " and ".join(words) + " on a gradient"


def encode(image: Image.Image, fmt: str, mode: str) -> bytes:
    image = image.convert(mode) if mode != "P" else image.convert("P", palette=Image.Palette.ADAPTIVE)
    if fmt == "jpg" and mode not in ("RGB", "L"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format={"jpg": "JPEG"}.get(fmt, fmt.upper()))
    return buffer.getvalue()


def write_folder(root: Path, n: int = 50, *, seed: int = 0) -> list[tuple[str, str]]:
    """Write ``n`` captioned images and ``metadata.jsonl``; returns ``(file_name, caption)`` pairs."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "sub").mkdir(exist_ok=True)
    entries = []
    for i in range(n):
        w, h = int(rng.integers(24, 160)), int(rng.integers(24, 160))
        image, caption = real_looking_image(rng, w, h)
        fmt = FORMATS[i % len(FORMATS)]
        name = f"{'sub/' if i % 5 == 4 else ''}img{i:03d}.{fmt}"
        (root / name).write_bytes(encode(image, fmt, MODES[i % len(MODES)]))
        entries.append((name, caption))
    with open(root / "metadata.jsonl", "w", encoding="utf-8") as f:
        for name, caption in entries:
            f.write(json.dumps({"file_name": name, "text": caption}) + "\n")
    return entries


def png16(rng: np.random.Generator) -> bytes:
    """A 16-bit greyscale PNG whose values span the upper half of the range."""
    a = rng.integers(32768, 65536, size=(40, 48), dtype=np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(a).save(buffer, format="PNG")
    return buffer.getvalue()


LONG_CAPTION = "a very long caption " * 500  # 10,000 characters
ODD_CAPTION = "ca\u0301fe\u0301 \u200b\u202e\U0001F600 \x00\x07tab\there\nnewline \ud800 \u5b57 \u0627\u0644"

# Skipped samples the bad folder must report, by reason.
EXPECTED_BAD = {"corrupt_image": 2, "empty_file": 1, "missing_caption": 2, "missing_image": 1, "bad_metadata": 1}


def write_bad_samples(root: Path, *, seed: int = 1) -> list[str]:
    """Add broken and unusual samples to a folder; returns the names of the usable odd ones."""
    rng = np.random.default_rng(seed)
    image, _ = real_looking_image(rng, 64, 48)
    good = encode(image, "png", "RGB")
    (root / "bad").mkdir(exist_ok=True)
    files = {
        "bad/corrupt.jpg": rng.integers(0, 256, size=500, dtype=np.uint8).tobytes(),
        "bad/truncated.png": good[: len(good) // 2],
        "bad/empty.png": b"",
        "bad/grey.png": encode(image, "png", "L"),
        "bad/rgba.png": encode(image, "png", "RGBA"),
        "bad/deep.png": png16(rng),
        "bad/odd.png": good,
        "bad/long.png": good,
        "bad/uncaptioned.png": good,
        "bad/blank_caption.png": good,
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    lines = [{"file_name": n, "text": "a picture"} for n in
             ("bad/corrupt.jpg", "bad/truncated.png", "bad/empty.png", "bad/grey.png", "bad/rgba.png",
              "bad/deep.png", "bad/gone.png")]
    lines += [{"file_name": "bad/odd.png", "text": ODD_CAPTION},
              {"file_name": "bad/long.png", "text": LONG_CAPTION},
              {"file_name": "bad/blank_caption.png", "text": " \n\t "}]
    with open(root / "metadata.jsonl", "a", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
        f.write("{not json\n")
    return ["bad/grey.png", "bad/rgba.png", "bad/deep.png", "bad/odd.png", "bad/long.png"]


def zip_folder(root: Path, path: Path, *, top: str | None = None) -> Path:
    """Zip a folder, optionally under one top-level folder inside the archive."""
    with zipfile.ZipFile(path, "w") as zf:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                rel = p.relative_to(root).as_posix()
                zf.write(p, f"{top}/{rel}" if top else rel)
    return path


def truncate(path: Path, fraction: float = 0.5) -> None:
    """Cut a file to ``fraction`` of its length (a shard interrupted mid-copy)."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


def tiny_png(value: int, size: int = 6) -> bytes:
    """A small constant image whose red channel encodes ``value`` (0-255)."""
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (value, 100, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def write_shards(folder: Path, sizes: list[int], *, noise: int = 0) -> list[Path]:
    """Shards ``000000.tar``, ... with ``sizes[k]`` samples each; key ``kK_I``, caption = key.

    Images are 6 px constants (or ``noise``-px random ones, which make bigger tar members).
    """
    import webdataset as wds

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for k, n in enumerate(sizes):
        path = folder / f"{k:06d}.tar"
        with wds.TarWriter(str(path)) as w:
            for i in range(n):
                if noise:
                    buffer = io.BytesIO()
                    Image.fromarray(rng.integers(0, 256, (noise, noise, 3), dtype=np.uint8)).save(buffer, "PNG")
                    png = buffer.getvalue()
                else:
                    png = tiny_png((k * 16 + i) % 256)
                w.write({"__key__": f"k{k}_{i}", "png": png, "txt": f"k{k}_{i}"})
        paths.append(path)
    return paths
