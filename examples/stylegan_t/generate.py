r"""Generate images with a trained StyleGAN-T generator: one forward pass per batch.

    python examples/stylegan_t/generate.py --checkpoint runs/x --prompt "a red circle in the center" \
        --seeds 0-15 --truncation 0.7 --out out/

Writes ``p{prompt index}_s{seed}.png`` per (prompt, seed) and ``grid.png`` (a row per prompt).
Export the EMA generator as a shareable folder (model.safetensors, config.json, README.md model
card), which any script loads with ``ganblocks.TextToImageGenerator.from_pretrained(DIR)``:

    python examples/stylegan_t/generate.py --checkpoint runs/x --export-model models/x

``--weights-dtype float16`` halves the file; ``--training-command TEXT`` puts the command that
trained the run in the model card.

Export it as ONNX graphs for ONNX Runtime (text_encoder.onnx, generator.onnx, model.json; checked
against PyTorch before it is finished; --truncation is recorded as the default psi), which run
without ganblocks and serve with ``serve.py --backend onnxruntime``:

    python examples/stylegan_t/generate.py --checkpoint runs/x --export-onnx exported/x

Python API (no example code needed)::

    from ganblocks import TextToImageGenerator, save_grid
    G = TextToImageGenerator.from_pretrained("runs/x")   # the EMA generator, in eval mode
    images = G.generate(["a blue square at the top"] * 4, seeds=[0, 1, 2, 3], truncation_psi=0.7)
    save_grid(images, "grid.png")   # images: float [4, 3, R, R], raw (about [-1, 1]; clamped when saved)
"""

import math
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from config import Config  # noqa: E402

from ganblocks.cli import ArgumentParser, resolve_device, user_errors  # noqa: E402


def parse_seeds(text: str) -> list[int]:
    """'0-3,7,10-11' -> [0, 1, 2, 3, 7, 10, 11]."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if hi < lo:
                    raise ValueError
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise ValueError(f"cannot parse seeds {text!r}: expected e.g. '0-15' or '1,5,9' (non-negative integers)") from None
    if not seeds or min(seeds) < 0:
        raise ValueError(f"cannot parse seeds {text!r}: expected e.g. '0-15' or '1,5,9' (non-negative integers)")
    return seeds


def load_generator(checkpoint: str | Path, *, device: str | torch.device = "cpu", weights: str = "G_ema",
                   text_encoder_from: str | Path | None = None) -> tuple[nn.Module, Config]:
    """The EMA generator of a run folder (its latest checkpoint) or of one checkpoint folder, and
    the run's config.

    The generator is a ``ganblocks.TextToImageGenerator`` of the run config's architecture
    (``cfg.generator``; older, flat run configs are migrated), so checkpoints of every version of
    the example load. Only its weights are read (safetensors); the frozen networks are not needed,
    the generator carries its own text encoder. ``weights="G"`` reads the raw generator weights
    instead of the EMA ones; ``text_encoder_from`` puts another checkpoint's text encoder (the same
    ``weights``) in, to tell what the text encoder contributes from what the rest of the generator does.
    """
    from ganblocks import TextToImageGenerator
    from ganblocks.t2i.runs import run_training_info
    from ganblocks.training import find_checkpoint, load_checkpoint, read_checkpoint_meta

    def load(path: str | Path) -> tuple[nn.Module, Config]:
        folder = find_checkpoint(Path(path))
        meta = read_checkpoint_meta(folder)
        cfg = Config.from_dict(meta["config"])
        with torch.random.fork_rng(devices=[]):  # building draws random weights; keep the caller's RNG
            G = TextToImageGenerator(cfg.generator)
        load_checkpoint(folder, modules={weights: G}, optimizers={}, restore_rng=False, map_location="cpu")
        saved = meta.get("training") if isinstance(meta.get("training"), dict) else {}
        # the checkpoint's own card entries, and those it predates from the run's config
        training = {**cfg.card_info(meta.get("preset")), **saved}
        G.training_info = run_training_info(folder, {**meta, "training": training})
        return G.to(device).eval().requires_grad_(False), cfg

    G, cfg = load(checkpoint)
    if text_encoder_from is not None:
        other, _ = load(text_encoder_from)
        G.text_encoder.load_state_dict(other.text_encoder.state_dict())
    return G, cfg


WEIGHTS_DTYPES = {"float32": torch.float32, "float16": torch.float16}


def example_prompts(cfg: Config) -> list[str]:
    """Captions of the run's data for the model card's example and the page's suggestions: the
    sample grids' prompts (for EmojiT2I, seen captions first, then held-out ones); none when the
    data cannot be read here."""
    from evaluate import grid_prompts

    try:
        return grid_prompts(cfg)
    except (OSError, ValueError):  # the training data is not on this machine
        return []


def export(checkpoint: Path, folder: Path, *, weights_dtype: str = "float32",
           training_command: str | None = None) -> None:
    """Save the EMA generator of a run (or checkpoint) folder to ``folder`` with its model card:
    the weights in ``weights_dtype``, ``training_command`` and captions of the run's data in the card."""
    if folder.exists() and not folder.is_dir():
        print(f"error: --export-model {folder} is a file; pass a folder to write the model into", file=sys.stderr)
        raise SystemExit(2)
    with user_errors(f"cannot load a generator from {checkpoint}"):
        G, cfg = load_generator(checkpoint)
    prompts = example_prompts(cfg)
    if prompts:
        G.training_info["example_prompts"] = prompts
    if training_command:
        G.training_info["command"] = training_command
    with user_errors(f"cannot write the model to {folder}"):
        G.save_pretrained(folder, weights_dtype=WEIGHTS_DTYPES[weights_dtype])
    print(f"wrote {folder} (model.safetensors, config.json, README.md); load it with "
          f"ganblocks.TextToImageGenerator.from_pretrained({str(folder)!r})")


def export_onnx(checkpoint: Path, folder: Path, *, truncation: float) -> None:
    """Export the EMA generator of a run (or checkpoint) folder as ONNX graphs to ``folder``."""
    if folder.exists() and not folder.is_dir():
        print(f"error: --export-onnx {folder} is a file; pass a folder to write the graphs into", file=sys.stderr)
        raise SystemExit(2)
    with user_errors(f"cannot load a generator from {checkpoint}"):
        G, _ = load_generator(checkpoint)
    with user_errors(f"cannot export the generator to {folder}"):
        meta = G.export_onnx(folder, truncation_psi=truncation)
    parity = meta["parity"]
    print(f"wrote {folder} (text_encoder.onnx, generator.onnx, model.json; opset {meta['opset']}, "
          f"{meta['exporter']}); largest difference to PyTorch: {parity['max_abs_image']:.2g} (images), "
          f"{parity['max_abs_text']:.2g} (text features); run it with "
          f"ganblocks.export.OnnxTextToImage({str(folder)!r}) or serve.py --backend onnxruntime")


def main(argv: list[str] | None = None) -> None:
    p = ArgumentParser(description=__doc__.split("Python API")[0])
    p.add_argument("--checkpoint", type=Path, required=True, help="a run folder (its latest checkpoint) or one checkpoint folder")
    p.add_argument("--prompt", action="append", default=[], help="a text prompt (repeat for several)")
    p.add_argument("--prompts-file", type=Path, help="a text file with one prompt per line")
    p.add_argument("--seeds", default="0-7", help="seeds, e.g. '0-15' or '1,5,9'")
    p.add_argument("--truncation", type=float, default=1.0, help="truncation psi: 1 = no truncation, 0 = the mean latent")
    p.add_argument("--out", type=Path, default=Path("generated"), help="output folder")
    p.add_argument("--batch", type=int, default=32, help="images per forward pass")
    p.add_argument("--device", default="auto", help="auto (a GPU when there is one), cpu, cuda or cuda:N")
    p.add_argument("--export-model", type=Path, default=None, metavar="DIR",
                   help="instead of generating, save the generator to DIR for sharing (model.safetensors, "
                   "config.json, README.md model card); load it with TextToImageGenerator.from_pretrained")
    p.add_argument("--weights-dtype", choices=sorted(WEIGHTS_DTYPES), default="float32",
                   help="--export-model: store the weights in float32 (default) or float16 (half the file; "
                   "loading casts them back to float32)")
    p.add_argument("--training-command", default=None, metavar="TEXT",
                   help="--export-model: the command that trained the run, shown in the model card")
    p.add_argument("--export-onnx", type=Path, default=None, metavar="DIR",
                   help="instead of generating, export the generator to DIR as ONNX graphs (text_encoder.onnx, "
                   "generator.onnx, model.json, with --truncation as the default psi), checked against PyTorch; "
                   "run them with ONNX Runtime or serve.py --backend onnxruntime")
    args = p.parse_args(argv)
    if not math.isfinite(args.truncation):
        p.error(f"--truncation must be a finite number, got {args.truncation}")
    if args.export_model is not None and args.export_onnx is not None:
        p.error("pass one of --export-model and --export-onnx")
    if args.export_model is None and (args.weights_dtype != "float32" or args.training_command is not None):
        p.error("--weights-dtype and --training-command go with --export-model DIR")
    if args.export_model is not None:
        export(args.checkpoint, args.export_model, weights_dtype=args.weights_dtype,
               training_command=args.training_command)
        return
    if args.export_onnx is not None:
        export_onnx(args.checkpoint, args.export_onnx, truncation=args.truncation)
        return

    prompts = list(args.prompt)
    if args.prompts_file is not None:
        if not args.prompts_file.is_file():
            p.error(f"--prompts-file {args.prompts_file} does not exist")
        with user_errors(f"cannot read --prompts-file {args.prompts_file}"):
            text = args.prompts_file.read_text(encoding="utf-8")
        prompts += [line.strip() for line in text.splitlines() if line.strip()]
    if not prompts:
        p.error("no prompts: pass --prompt TEXT (repeatable) or --prompts-file FILE with one prompt per line")
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as e:
        p.error(str(e))
    if args.batch <= 0:
        p.error(f"--batch must be positive, got {args.batch}")
    with user_errors():
        device = resolve_device(args.device)
    with user_errors(f"cannot load a generator from {args.checkpoint}"):
        G, cfg = load_generator(args.checkpoint, device=device)
    with user_errors(f"cannot write to {args.out}"):
        args.out.mkdir(parents=True, exist_ok=True)

    from PIL import Image

    from ganblocks import save_grid, to_uint8

    pairs = [(i, s) for i in range(len(prompts)) for s in seeds]
    images = []
    for k in range(0, len(pairs), args.batch):
        chunk = pairs[k:k + args.batch]
        batch = to_uint8(G.generate([prompts[i] for i, _ in chunk], [s for _, s in chunk],
                                    truncation_psi=args.truncation).cpu())
        for (i, s), img in zip(chunk, batch):
            Image.fromarray(img.permute(1, 2, 0).numpy()).save(args.out / f"p{i}_s{s}.png")
        images.append(batch)
    save_grid(torch.cat(images), args.out / "grid.png", nrow=len(seeds))
    print(f"wrote {len(pairs)} images and grid.png to {args.out}")


if __name__ == "__main__":
    main()
