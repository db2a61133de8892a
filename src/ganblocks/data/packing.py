"""Pack a captioned image folder (or a .zip of one) into WebDataset shards.

    python -m ganblocks.data.pack SRC_FOLDER OUT_DIR --shard-size 1000

writes ``OUT_DIR/000000.tar``, ``000001.tar``, ... in the img2dataset layout: per sample
``KEY.jpg`` (or ``.png``, ``.webp``, ... as in the source), ``KEY.txt`` with the cleaned caption
and ``KEY.json`` with the source file name. Images that do not decode, and lines of the metadata
that cannot be used, are left out and reported.
"""

import io
import json
import os
from pathlib import Path

from .badsamples import BadSampleLog
from .folder import CaptionedImageFolder
from .transforms import IMAGE_EXTENSIONS, BadSample, BadSampleError, decode_image, to_rgb

__all__ = ["pack_shards", "main"]

_RENAME = {"jpeg": "jpg", "tif": "tiff"}


def _encode(data: bytes, name: str, resolution: int | None, image_format: str) -> tuple[str, bytes]:
    """The shard member extension and bytes of one image, re-encoded only where needed."""
    from PIL import Image

    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    ext = _RENAME.get(ext, ext)
    if resolution is None and ext in IMAGE_EXTENSIONS:
        return ext, data
    if resolution is None:  # an unusual extension that PIL reads: keep the pixels, store a PNG
        image = Image.open(io.BytesIO(data))
        image.load()
        image, image_format = to_rgb(image), "png"
    else:
        image = Image.fromarray(decode_image(data, resolution=resolution).permute(1, 2, 0).numpy())
    buffer = io.BytesIO()
    options = {"quality": 95} if image_format in ("jpg", "webp") else {}
    image.save(buffer, format={"jpg": "JPEG"}.get(image_format, image_format.upper()), **options)
    return image_format, buffer.getvalue()


def pack_shards(
    src: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    shard_size: int = 1000,
    verify: bool = True,
    resolution: int | None = None,
    image_format: str = "jpg",
    log: BadSampleLog | None = None,
) -> list[Path]:
    """Write the samples of a captioned image folder or zip into WebDataset tar shards.

    Args:
        src: The folder or ``.zip`` (see ``CaptionedImageFolder``).
        out_dir: Output folder; created, and must not hold ``.tar`` files already.
        shard_size: Samples per shard.
        verify: Decode every image and leave out those that fail.
        resolution: Centre-crop and resize to this side and re-encode (default: keep the
            original bytes).
        image_format: ``jpg``, ``png`` or ``webp``, for re-encoded images.
        log: Where left-out samples are recorded.

    Returns:
        The shard paths, in order.

    Raises:
        FileNotFoundError: ``src`` does not exist.
        ValueError: ``src`` holds no usable sample, ``out_dir`` already holds shards, or a bad
            argument.
    """
    if shard_size < 1:
        raise ValueError(f"shard_size must be positive, got {shard_size}")
    if image_format not in ("jpg", "png", "webp"):
        raise ValueError(f"image_format must be jpg, png or webp, got {image_format!r}")
    import webdataset as wds

    folder = CaptionedImageFolder(src, resolution=resolution or 8)
    log = log if log is not None else BadSampleLog()
    log.extend(folder.problems)
    out = Path(out_dir)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    if any(out.glob("*.tar")):
        raise ValueError(f"{out}: already holds .tar files; choose an empty folder")
    pattern = os.path.join(str(out).replace("%", "%%"), "%06d.tar")
    written = 0
    with wds.ShardWriter(pattern, maxcount=shard_size, verbose=0) as writer:
        for i in range(len(folder)):
            name, caption = folder.name(i), folder.caption(i)
            try:
                data = folder.read_bytes(i)
                if verify and resolution is None:
                    decode_image(data, resolution=8)
                ext, payload = _encode(data, name, resolution, image_format)
            except BadSampleError as e:
                log.add(BadSample(e.reason, name, e.detail))
                continue
            except (OSError, ValueError) as e:
                log.add(BadSample("corrupt_image", name, f"{type(e).__name__}: {e}"))
                continue
            key = f"{written:09d}"
            writer.write({"__key__": key, ext: payload, "txt": caption,
                          "json": json.dumps({"file_name": name, "caption": caption}).encode()})
            written += 1
    shards = sorted(out.glob("*.tar"))
    if written == 0:
        for shard in shards:
            shard.unlink()
        if created and not any(out.iterdir()):
            out.rmdir()
        raise ValueError(f"{src}: no usable samples to pack (skipped: {log.summary()})")
    return shards


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m ganblocks.data.pack SRC OUT_DIR [--shard-size N]``."""
    from ..cli import ArgumentParser, user_errors

    p = ArgumentParser(prog="python -m ganblocks.data.pack", description=__doc__)
    p.add_argument("src", help="image folder or .zip with metadata.jsonl")
    p.add_argument("out_dir", help="output folder for the .tar shards (must hold none yet)")
    p.add_argument("--shard-size", type=int, default=1000, help="samples per shard")
    p.add_argument("--resolution", type=int, default=None,
                   help="centre-crop and resize to this side, re-encoding (default: keep original bytes)")
    p.add_argument("--image-format", choices=("jpg", "png", "webp"), default="jpg",
                   help="format of re-encoded images (default jpg, quality 95)")
    p.add_argument("--no-verify", dest="verify", action="store_false",
                   help="do not decode images to leave out corrupt ones")
    args = p.parse_args(argv)
    if args.shard_size < 1:
        p.error(f"--shard-size must be positive, got {args.shard_size}")
    if args.resolution is not None and args.resolution < 1:
        p.error(f"--resolution must be positive, got {args.resolution}")
    log = BadSampleLog(log=False)
    with user_errors():
        shards = pack_shards(args.src, args.out_dir, shard_size=args.shard_size, verify=args.verify,
                             resolution=args.resolution, image_format=args.image_format, log=log)
    n = len(shards)
    pattern = f"{args.out_dir}/{{{0:06d}..{n - 1:06d}}}.tar" if n > 1 else str(shards[0])
    print(f"wrote {n} shard{'s' * (n != 1)}: {pattern}")
    if len(log):
        print(f"left out {len(log)} samples: {log.summary()}")
    return 0
