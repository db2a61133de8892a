"""StyleGAN-T training configuration: one frozen dataclass, named presets, a generated CLI.

Every field of :class:`Config` becomes a ``--flag`` of ``train.py`` (underscores become dashes),
with its help text taken from the field's metadata, so the CLI never drifts from the config.
The config is saved as JSON beside every checkpoint and read back on ``--resume``.
"""

import argparse
import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from ganblocks.data.shapes import MAX_RESOLUTION as SHAPES_MAX_RESOLUTION
from ganblocks.data.shapes import MIN_RESOLUTION as SHAPES_MIN_RESOLUTION
from ganblocks.generator.upfirdn import UpsampleKind

MIN_RESOLUTION, MAX_RESOLUTION = 16, 1024  # of image folders and shards; ShapesT2I renders 32..256

def _f(default: Any, help: str, **kw: Any) -> Any:
    return field(default=default, metadata={"help": help, **kw})


@dataclass(frozen=True)
class Config:
    """Everything that defines a StyleGAN-T run. Presets fill it; flags override single fields."""

    # --- data ---
    data: str = _f("shapes", "training data: 'shapes' (built-in ShapesT2I), an image folder with "
                   "metadata.jsonl, a .zip of one, or WebDataset shards (a .tar, a brace pattern "
                   "or a folder of .tar files)")
    resolution: int = _f(32, f"image resolution: a power of two, {SHAPES_MIN_RESOLUTION}..{SHAPES_MAX_RESOLUTION} "
                         f"with --data shapes, {MIN_RESOLUTION}..{MAX_RESOLUTION} with other data")
    shapes_max_objects: int = _f(2, "ShapesT2I: objects per image (1 or 2)")
    num_workers: int = _f(0, "data-loader worker processes (0: load in the main process)")

    # --- generator ---
    z_dim: int = _f(64, "latent size")
    channel_base: int = _f(1024, "channels at resolution r: min(channel_base // r, channel_max)")
    channel_max: int = _f(64, "maximum channels of a synthesis block")
    num_res_blocks: int = _f(1, "pairs of [modulated conv, residual modulated conv] per block")
    residual: bool = _f(True, "residual second layer in each pair (off: a plain modulated conv; the "
                        "shapes preset turns it off: at its size the plain conv learns as well per "
                        "image and trains faster)")
    modulation: Literal["polynomial", "affine"] = _f(
        "polynomial", "style modulation: StyleGAN-T's second-order one or StyleGAN2's affine")
    g_upsample: UpsampleKind = _f(
        "fir", "the synthesis network's 2x upsampling: 'fir' (StyleGAN's [1,3,3,1] low-pass filter) or "
        "'nearest' (nearest-neighbour, beyond StyleGAN-T: sharp edges and corners stay sharp)")
    g_cross_attention: str = _f("8,16", "block resolutions whose features attend to the caption's word "
                                "tokens, e.g. '8,16' (beyond StyleGAN-T, after GigaGAN; empty: the "
                                "pooled text vector only)")
    g_self_attention: str = _f("", "block resolutions with self-attention over their pixels, e.g. '8' "
                               "(empty: none)")
    g_attention_heads: int = _f(4, "heads of the generator's attention layers")
    g_input_shift: float = _f(0.0, "standard deviation, in image sides, of a translation of the generator's "
                              "picture (Fourier input and attention positions) read from the latent's first two "
                              "coordinates, which the mapping does not see (beyond StyleGAN-T: the latent always "
                              "moves the picture; 0: off)")
    g_output_shift: float = _f(0.0, "standard deviation, in image sides, of a translation of the generator's "
                               "finished image read from the latent's first two coordinates, which the mapping "
                               "does not see (beyond StyleGAN-T: no layer can take it back; 0: off)")

    # --- frozen pretrained networks ---
    clip_model: str = _f("tiny", "open_clip model for text encoding and guidance ('tiny' or e.g. ViT-L-14)")
    clip_weights: str | None = _f("shapes", "CLIP weights: an open_clip tag (e.g. 'openai'), a "
                                  "local file, 'shapes' (the tiny CLIP pretrained on ShapesT2I by "
                                  "the example and cached), or none for random weights")
    dino_model: str = _f("clip", "the discriminator's frozen feature network: a timm ViT name "
                         "(e.g. vit_small_patch16_224.dino), 'tiny' (a small random ViT), or "
                         "'clip' (the image tower of the frozen CLIP)")
    dino_weights: str | None = _f(None, "discriminator feature-network weights: 'hub' for timm's "
                                  "pretrained weights, a local file, or none for random weights")
    clip_pretrain_steps: int = _f(1600, "clip_weights 'shapes': steps of in-domain contrastive "
                                  "pretraining of the tiny CLIP (cached after the first run)")
    backbone_seed: int = _f(0, "seed of randomly initialised frozen networks (keeps them reproducible)")

    # --- discriminator ---
    d_cmap_dim: int = _f(64, "projection width of the discriminator heads")
    d_kernel_size: int = _f(9, "kernel size of the heads' residual conv")
    d_virtual_batch: int = _f(8, "local batch-norm group size")
    d_head_precision: Literal["fp32", "bf16"] = _f(
        "fp32", "dtype the heads' convs compute in; bf16 roughly halves the heads' cost on CPUs "
        "with bf16 instructions (the backbone, statistics and logits stay fp32; --precision bf16 "
        "already covers the heads)")
    d_positions: bool = _f(False, "learned per-token position embeddings in the discriminator heads "
                           "(beyond StyleGAN-T: D can check where the caption puts an object)")
    d_pixel_weight: float = _f(0.0, "weight, in both players' losses, of a trainable pixel-space critic beside "
                               "the frozen-feature discriminator (beyond StyleGAN-T, after GigaGAN's trainable "
                               "discriminator: it judges the unblurred pixels, where fine outlines are; 0: off)")
    d_pixel_channels: int = _f(64, "width of the pixel-space critic's convs")
    g_recon_weight: float = _f(0.0, "stage 1: weight of a pixel L2 loss between G(z, caption) and the caption's "
                               "real image, fading linearly to 0 over --g-recon-fade-kimg (beyond StyleGAN-T: "
                               "for data whose captions fix the layout, like ShapesT2I; 0: off)")
    g_recon_fade_kimg: float = _f(50.0, "thousands of images over which --g-recon-weight fades to 0")
    g_diversity_weight: float = _f(0.0, "weight of a mode-seeking term: half the fakes repeat the other half's "
                                   "captions and each such pair is pushed apart, -log of its mean absolute "
                                   "difference after a Gaussian blur (beyond StyleGAN-T, after mode-seeking "
                                   "GANs: a conditional critic judges images one at a time and does not see "
                                   "every latent of a caption give the same image; 0: off)")
    g_diversity_sigma: float = _f(2.0, "blur, in pixels, of the diversity term's pairs: what they differ in below "
                                  "this scale (noise, texture) does not count")
    augment_brightness: float = _f(0.0, "DiffAugment brightness range (0: off)")
    augment_saturation: float = _f(0.0, "DiffAugment saturation range (0: off)")
    augment_contrast: float = _f(0.0, "DiffAugment contrast range (0: off)")
    augment_translation: float = _f(0.0, "DiffAugment translation ratio (0: off)")
    augment_cutout: float = _f(0.0, "DiffAugment cutout ratio (0: off)")
    d_mismatch_weight: float = _f(0.0, "matching-aware D term (beyond StyleGAN-T): real images "
                                  "with a wrong caption count as fake, with this weight (0: off)")
    blur_sigma: float = _f(8.0, "initial sigma of the discriminator-input blur, in pixels")
    blur_fade_kimg: float = _f(30.0, "thousands of images over which the blur fades to 0")

    # --- optimisation ---
    batch: int = _f(64, "global batch size (images per step over all devices)")
    batch_per_device: int | None = _f(None, "images per device per forward pass; the rest of the "
                                      "global batch is gradient accumulation (default: all)")
    lr_g: float = _f(0.002, "generator learning rate")
    lr_d: float = _f(0.002, "discriminator learning rate")
    lr_text: float = _f(1e-4, "text-encoder learning rate (stage 2)")
    adam_beta1: float = _f(0.0, "Adam beta1")
    adam_beta2: float = _f(0.99, "Adam beta2")
    clip_weight: float = _f(0.2, "CLIP guidance weight in stage 1")
    clip_weight_stage2: float = _f(50.0, "CLIP guidance weight in stage 2")
    clip_crop: int = _f(64, "CLIP guidance looks at a random crop of this size")
    ema_kimg: float | None = _f(None, "EMA half-life in kimg (default: batch * 10 / 32)")
    ema_rampup: float | None = _f(0.05, "EMA ramp-up ratio (none: off)")
    stage2_fraction: float = _f(0.2, "share of the steps/minutes given to stage 2 when --stage all")
    max_bad_steps: int = _f(10, "consecutive steps with a non-finite loss or gradient (each one "
                            "skipped) after which the last checkpoint is restored")
    max_restores: int = _f(3, "restores of the last checkpoint in a row (no new checkpoint in "
                           "between) before the run gives up")

    # --- schedule and logging ---
    seed: int = _f(0, "random seed")
    log_every: int = _f(20, "steps between metrics.jsonl loss lines")
    eval_every: int = _f(500, "steps between ShapesT2I evaluations (0: only at the end)")
    eval_samples: int = _f(256, "samples per evaluation")
    sample_every: int = _f(500, "steps between sample grids (0: only at the end)")
    checkpoint_every: int = _f(500, "steps between checkpoints (a run always ends with one)")
    keep_checkpoints: int = _f(3, "checkpoints kept in the run folder")

    def __post_init__(self) -> None:
        res = self.resolution
        lo, hi = (SHAPES_MIN_RESOLUTION, SHAPES_MAX_RESOLUTION) if self.data == "shapes" else (MIN_RESOLUTION, MAX_RESOLUTION)
        if res < lo or res > hi or res & (res - 1):
            data = "with --data shapes (ShapesT2I)" if self.data == "shapes" else "for image folders and shards"
            raise ValueError(f"resolution must be a power of two in [{lo}, {hi}] {data}, got {res}")
        for name in ("batch", "z_dim", "channel_base", "channel_max", "d_cmap_dim", "d_pixel_channels",
                     "d_virtual_batch", "eval_samples", "keep_checkpoints", "max_bad_steps",
                     "log_every"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("num_res_blocks", "num_workers", "max_restores", "eval_every", "sample_every",
                     "checkpoint_every", "lr_g", "lr_d", "lr_text", "clip_weight", "clip_weight_stage2",
                     "g_recon_weight", "d_pixel_weight", "g_diversity_weight", "g_diversity_sigma"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.batch_per_device is not None and self.batch_per_device <= 0:
            raise ValueError(f"batch_per_device must be positive, got {self.batch_per_device}")
        if self.g_recon_fade_kimg <= 0:
            raise ValueError(f"g_recon_fade_kimg must be positive, got {self.g_recon_fade_kimg}")
        if not 0.0 <= self.stage2_fraction < 1.0:
            raise ValueError(f"stage2_fraction must be in [0, 1), got {self.stage2_fraction}")
        from ganblocks.t2i.config import parse_resolutions

        for name in ("g_cross_attention", "g_self_attention"):
            parse_resolutions(getattr(self, name), name="--" + name.replace("_", "-"), resolution=res)
        if self.g_attention_heads <= 0:
            raise ValueError(f"g_attention_heads must be positive, got {self.g_attention_heads}")
        for name in ("g_input_shift", "g_output_shift"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1) (image sides), got {getattr(self, name)}")
        if self.shapes_max_objects not in (1, 2):
            raise ValueError(f"shapes_max_objects must be 1 or 2, got {self.shapes_max_objects}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Config":
        """Build a config from a saved dict, refusing unknown and missing fields (a config written
        by another version would otherwise be read silently with different meanings).

        Fields added after a config format was in use (``ADDED_FIELDS``) are the exception: a
        saved config without one gets the value that reproduces how it was trained, so older
        run folders still resume, generate and evaluate."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown config fields {unknown}; known fields: {sorted(names)}")
        values = {**{k: v for k, v in ADDED_FIELDS.items() if k not in values}, **values}
        missing = sorted(names - set(values))
        if missing:
            raise ValueError(f"config is missing fields {missing}; it was written by another "
                             "version of the example")
        return cls(**values)


# Fields added to the config after run folders without them existed, each with the value that
# means "as before the field existed". Add a field here when it is added to `Config` with a
# default that changes nothing.
ADDED_FIELDS: dict[str, Any] = {"d_positions": False, "g_recon_weight": 0.0, "g_recon_fade_kimg": 50.0,
                                 "g_cross_attention": "", "g_self_attention": "", "g_attention_heads": 4,
                                 "d_pixel_weight": 0.0, "d_pixel_channels": 64, "g_upsample": "fir",
                                 "g_diversity_weight": 0.0, "g_diversity_sigma": 2.0, "g_input_shift": 0.0,
                                 "g_output_shift": 0.0}


# --8<-- [start:presets]
# Presets: overrides of the defaults above. `shapes` is the CPU default on ShapesT2I (batch 32:
# twice the updates per image at the same images/s on a 2-core CPU; stage 2 a tenth of the run:
# there it barely moves the scores, and stage 1 is still learning shape when it ends; the output
# moved by 0.01 image sides times two latent coordinates, about the data's own jitter: without it
# each caption's object sits in one place whatever the latent); `small`,
# `lite` and `full` are the paper's generator sizes with the real pretrained networks.
_REAL = dict(d_mismatch_weight=0.0, clip_pretrain_steps=0, blur_sigma=32.0, blur_fade_kimg=1000.0, g_cross_attention="",
             augment_brightness=0.5, augment_saturation=1.0, augment_contrast=0.5,
             augment_translation=0.125, augment_cutout=0.2,clip_model="ViT-L-14", clip_weights="openai", dino_model="vit_small_patch16_224.dino",
             dino_weights="hub", resolution=64, d_cmap_dim=64, lr_text=3e-6,
             eval_every=5000, sample_every=2000, checkpoint_every=2000, data="shapes")
PRESETS: dict[str, dict[str, Any]] = {
    "shapes": {"residual": False, "batch": 32, "stage2_fraction": 0.1, "g_output_shift": 0.01},
    "small": {**_REAL, "channel_base": 16384, "channel_max": 256, "num_res_blocks": 1, "batch": 256},
    "lite": {**_REAL, "channel_base": 32768, "channel_max": 512, "num_res_blocks": 2, "batch": 512},
    "full": {**_REAL, "channel_base": 65536, "channel_max": 2048, "num_res_blocks": 3, "batch": 2048},
}
# --8<-- [end:presets]


def preset(name: str, **overrides: Any) -> Config:
    """The config of a named preset, with field overrides."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return Config(**{**PRESETS[name], **overrides})


def _arg_type(annotation: Any) -> tuple[Any, dict[str, Any]]:
    """argparse keyword arguments for a dataclass field's annotation."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        inner, _ = _arg_type(next(a for a in args if a is not type(None)))
        conv = inner["type"]
        return {"type": lambda s: None if s.lower() in ("none", "") else conv(s), "metavar": inner.get("metavar")}, {}
    if origin is Literal:
        return {"type": str, "choices": list(args)}, {}
    if annotation is bool:
        return {"action": argparse.BooleanOptionalAction}, {}
    return {"type": annotation, "metavar": annotation.__name__.upper()}, {}


def _shown(value: Any) -> str:
    return "none" if value is None else str(value)


def preset_defaults(name: str) -> str:
    """The default of config field ``name`` as help text: one value, or the value of each preset."""
    field_default = {f.name: f.default for f in dataclasses.fields(Config)}[name]
    by_value: dict[str, list[str]] = {}
    for preset_name, values in PRESETS.items():
        by_value.setdefault(_shown(values.get(name, field_default)), []).append(preset_name)
    if len(by_value) == 1:
        return f"default: {next(iter(by_value))}"
    return "default: " + "; ".join(f"{value} with --preset {', '.join(names)}" for value, names in by_value.items())


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one ``--flag`` per config field; unset flags are absent (the preset decides)."""
    group = parser.add_argument_group("config (a flag overrides one field of --preset's config)")
    hints = typing.get_type_hints(Config)
    for f in dataclasses.fields(Config):
        kwargs, _ = _arg_type(hints[f.name])
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        text = f"{f.metadata['help']} ({preset_defaults(f.name)})".replace("%", "%%")
        group.add_argument("--" + f.name.replace("_", "-"), dest=f"cfg_{f.name}", default=argparse.SUPPRESS,
                           help=text, **kwargs)


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The config fields set on the command line."""
    return {k[4:]: v for k, v in vars(args).items() if k.startswith("cfg_")}
