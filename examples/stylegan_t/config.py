"""StyleGAN-T training configuration: one frozen dataclass, named presets, a generated CLI.

A :class:`Config` holds the run's settings and, in ``generator``, the generator's architecture as
the library's :class:`ganblocks.GeneratorConfig` (which validates it). Every setting becomes a
``--flag`` of ``train.py`` (underscores become dashes): the run's fields with the help text of
their metadata, the generator's with the help text of ``GeneratorConfig``'s docstring (its
``text_encoder`` is ``--clip-model``: the generator's text tower starts as the frozen CLIP's), so
the CLI never drifts from the config. The same names set fields in presets, in experiment files
(``experiments/*.py``) and in :func:`preset`'s overrides.

The config is saved as JSON beside every checkpoint and read back on ``--resume``; configs saved
by earlier versions (flat generator fields, fields added since, options removed since at their
"off" value) are migrated by :meth:`Config.from_dict`.
"""

import argparse
import dataclasses
import inspect
import json
import re
import runpy
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ganblocks import GeneratorConfig
from ganblocks.data.shapes import MAX_RESOLUTION as SHAPES_MAX_RESOLUTION
from ganblocks.data.shapes import MIN_RESOLUTION as SHAPES_MIN_RESOLUTION
from ganblocks.t2i.config import clip_quick_gelu, parse_resolutions

MIN_RESOLUTION, MAX_RESOLUTION = 16, 1024  # of image folders and shards; ShapesT2I renders 32..256


def _f(default: Any, help: str, *, common: bool = False) -> Any:
    """A config field; ``common`` fields are shown by ``--help``, the rest by ``--help-all``."""
    return field(default=default, metadata={"help": help, "common": common})


DEFAULT_GENERATOR = GeneratorConfig(resolution=32, cross_attention=(8, 16))


@dataclass(frozen=True)
class Config:
    """Everything that defines a StyleGAN-T run. Presets fill it; flags override single settings."""

    # --- data ---
    data: str = _f("shapes", "training data: 'shapes' (built-in ShapesT2I), an image folder with "
                   "metadata.jsonl, a .zip of one, or WebDataset shards (a .tar, a brace pattern "
                   "or a folder of .tar files)", common=True)
    shapes_max_objects: int = _f(2, "ShapesT2I: objects per image (1 or 2)")
    num_workers: int = _f(0, "data-loader worker processes (0: load in the main process)", common=True)

    # --- generator (its architecture; resolution and text encoder included) ---
    generator: GeneratorConfig = field(default=DEFAULT_GENERATOR, metadata={"help": "generator architecture"})

    # --- frozen pretrained networks ---
    clip_weights: str | None = _f("shapes", "CLIP weights: an open_clip tag (e.g. 'openai'), a "
                                  "local file, 'shapes' (the tiny CLIP pretrained on ShapesT2I by "
                                  "the example and cached), 'emoji' (the tiny CLIP pretrained on the "
                                  "training items of the EmojiT2I folder of --data), or none for random weights", common=True)
    dino_model: str = _f("clip", "the discriminator's frozen feature network: a timm ViT name "
                         "(e.g. vit_small_patch16_224.dino), 'tiny' (a small random ViT), or "
                         "'clip' (the image tower of the frozen CLIP)", common=True)
    dino_weights: str | None = _f(None, "discriminator feature-network weights: 'hub' for timm's "
                                  "pretrained weights, a local file, or none for random weights", common=True)
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
    augment_brightness: float = _f(0.0, "DiffAugment brightness range (0: off)")
    augment_saturation: float = _f(0.0, "DiffAugment saturation range (0: off)")
    augment_contrast: float = _f(0.0, "DiffAugment contrast range (0: off)")
    augment_translation: float = _f(0.0, "DiffAugment translation ratio (0: off)")
    augment_cutout: float = _f(0.0, "DiffAugment cutout ratio (0: off)")
    blur_sigma: float = _f(8.0, "initial sigma of the discriminator-input blur, in pixels")
    blur_fade_kimg: float = _f(30.0, "thousands of images over which the blur fades to 0")

    # --- optimisation ---
    batch: int = _f(64, "global batch size (images per step over all devices)", common=True)
    batch_per_device: int | None = _f(None, "images per device per forward pass; the rest of the "
                                      "global batch is gradient accumulation (default: all)", common=True)
    lr_g: float = _f(0.002, "generator learning rate", common=True)
    lr_d: float = _f(0.002, "discriminator learning rate", common=True)
    lr_text: float = _f(1e-4, "text-encoder learning rate (stage 2)")
    adam_beta1: float = _f(0.0, "Adam beta1")
    adam_beta2: float = _f(0.99, "Adam beta2")
    clip_weight: float = _f(0.2, "CLIP guidance weight in stage 1")
    clip_weight_stage2: float = _f(50.0, "CLIP guidance weight in stage 2")
    clip_crop: int = _f(64, "CLIP guidance looks at a random crop of this size")
    ema_kimg: float | None = _f(None, "EMA half-life in kimg (default: batch * 10 / 32)")
    ema_rampup: float | None = _f(0.05, "EMA ramp-up ratio (none: off)")
    kimg: float | None = _f(None, "length of the run in thousands of training images, counted across "
                            "resumes and stages (--steps replaces it; none: until --minutes or a signal)",
                            common=True)
    stage2_fraction: float = _f(0.2, "share of the run's steps given to stage 2 when --stage all")
    max_bad_steps: int = _f(10, "consecutive steps with a non-finite loss or gradient (each one "
                            "skipped) after which the last checkpoint is restored")
    max_restores: int = _f(3, "restores of the last checkpoint in a row (no new checkpoint in "
                           "between) before the run gives up")

    # --- schedule and logging ---
    seed: int = _f(0, "random seed", common=True)
    log_every: int = _f(20, "steps between metrics.jsonl loss lines")
    eval_every: int = _f(500, "steps between evaluations (ShapesT2I, or EmojiT2I with the shipped scorer; "
                         "none for other data; 0: only at the end)", common=True)
    eval_samples: int = _f(256, "samples per evaluation")
    sample_every: int = _f(500, "steps between sample grids (0: only at the end)")
    checkpoint_every: int = _f(500, "steps between checkpoints (a run always ends with one)", common=True)
    keep_checkpoints: int = _f(3, "checkpoints kept in the run folder")

    def __post_init__(self) -> None:
        if not isinstance(self.generator, GeneratorConfig):
            raise TypeError(f"generator must be a ganblocks.GeneratorConfig, got {type(self.generator).__name__}")
        # The text tower's activation is a property of the CLIP weights, not a setting.
        quick_gelu = clip_quick_gelu(self.generator.text_encoder, self.clip_weights)
        if self.generator.text_quick_gelu != quick_gelu:
            object.__setattr__(self, "generator", dataclasses.replace(self.generator, text_quick_gelu=quick_gelu))
        res = self.resolution
        lo, hi = (SHAPES_MIN_RESOLUTION, SHAPES_MAX_RESOLUTION) if self.data == "shapes" else (MIN_RESOLUTION, MAX_RESOLUTION)
        if res < lo or res > hi or res & (res - 1):
            data = "with --data shapes (ShapesT2I)" if self.data == "shapes" else "for image folders and shards"
            raise ValueError(f"resolution must be a power of two in [{lo}, {hi}] {data}, got {res}")
        for name in ("batch", "d_cmap_dim", "d_virtual_batch", "eval_samples", "keep_checkpoints",
                     "max_bad_steps", "log_every"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("num_workers", "max_restores", "eval_every", "sample_every", "checkpoint_every",
                     "lr_g", "lr_d", "lr_text", "clip_weight", "clip_weight_stage2"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("batch_per_device", "kimg"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.stage2_fraction < 1.0:
            raise ValueError(f"stage2_fraction must be in [0, 1), got {self.stage2_fraction}")
        if self.shapes_max_objects not in (1, 2):
            raise ValueError(f"shapes_max_objects must be 1 or 2, got {self.shapes_max_objects}")

    @property
    def resolution(self) -> int:
        """The run's image resolution: the generator's."""
        return self.generator.resolution

    @property
    def clip_model(self) -> str:
        """The frozen CLIP's open_clip name: the generator's text encoder is a copy of its text tower."""
        return self.generator.text_encoder

    def override(self, **values: Any) -> "Config":
        """A copy with settings replaced (names as in :data:`SETTINGS`: run fields and generator fields)."""
        run, gen = _split(values)
        return dataclasses.replace(self, **run, generator=_replace_generator(self.generator, gen))

    def card_info(self, preset: str | None) -> dict[str, Any]:
        """What a model card says about the run's training (a checkpoint's ``meta["training"]``)."""
        data = "ShapesT2I (ganblocks' synthetic captioned shapes)" if self.data == "shapes" else Path(self.data).name
        info = {"data": data, "preset": preset,
                "text_encoder_weights": self.clip_weights or "random (no pretrained weights)"}
        if self.data != "shapes" and _is_emoji_folder(self.data):
            info["data"] = f"EmojiT2I ({data} items of emoji-datasource {EMOJI_SOURCE_VERSION}, google and twitter art)"
            info["attribution"] = EMOJI_ATTRIBUTION
            info["scores_note"] = emoji_scores_note(self.eval_samples)
        return info

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the run's fields, the generator's under ``"generator"``."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "generator"}
        return {**values, "generator": self.generator.to_dict()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Config":
        """Build a config from a saved dict, refusing unknown and missing fields (a config written
        by another version would otherwise be read silently with different meanings).

        Older formats still load, so older run folders resume, generate and evaluate: a flat
        config (the generator's fields beside the run's) is nested; a field added since
        (``ADDED_FIELDS``, ``FLAT_ADDED_FIELDS``) gets the value that reproduces how the run was
        trained; a removed option (``REMOVED_OPTIONS``) is dropped when it is off and refused when on.
        """
        values = dict(values)
        for name, off in REMOVED_OPTIONS.items():
            if name in values:
                value = values.pop(name)
                if off is not _ANY and value != off:
                    raise ValueError(f"the saved config sets {name}={value!r}, an option removed from the example "
                                     f"after ganblocks {LAST_RELEASE_WITH_REMOVED} (the last release that has it)")
        if "generator" not in values:
            values = _nest_flat(values)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown config fields {unknown}; known fields: {sorted(names)}")
        values = {**{k: v for k, v in ADDED_FIELDS.items() if k not in values}, **values}
        missing = sorted(names - set(values))
        if missing:
            raise ValueError(f"config is missing fields {missing}; it was written by another "
                             "version of the example")
        generator = GeneratorConfig.from_dict(values["generator"], source="the run config's generator")
        return cls(**{**values, "generator": generator})


EMOJI_SOURCE_VERSION = "16.0.0"
EMOJI_ATTRIBUTION = (
    "Trained on Noto Color Emoji (Apache-2.0, Google) and Twemoji (CC-BY 4.0, Twitter, Inc. and other "
    "contributors), via emoji-datasource 16.0.0 (https://github.com/iamcal/emoji-data). Share this model "
    "with this attribution.")


def emoji_scores_note(samples: int) -> str:
    """How a model card's EmojiT2I scores (the trainer's ``final_eval.json``) were measured, and chance."""
    return (
        "Scored with the EmojiT2I scorer that ships with ganblocks (`ganblocks.metrics.emoji`, 32 px) on "
        f"up to {samples} items of each set, two seeds per item: `seen` (training captions), `heldout_style` "
        "(emoji in the art style they were held out of training in), `heldout_tone` (skin tones held out "
        "of training on these emoji). `style`, `tone`, `category`: how often the scorer reads the caption's art style, skin "
        "tone (over items with at most one tone) and category; `subject_top1`, `subject_top10`: how often "
        "the emoji is the scorer's first, or among its ten first, of 1,906 subjects; `fd`: Fréchet distance "
        "between the scorer's features of the generated and the real images of the same items (lower is "
        "better). Chance: style 0.5, tone about 0.17, category 0.11 to 0.6, subject top-10 0.005.")


def _is_emoji_folder(data: str) -> bool:
    """Whether ``data`` is a built EmojiT2I folder or one of its split subfolders (its build.json)."""
    for root in (Path(data), Path(data).parent):
        try:
            if json.loads((root / "build.json").read_text()).get("dataset") == "EmojiT2I":
                return True
        except (OSError, ValueError, AttributeError):
            continue
    return False


# Fields added to the config after run folders without them existed, each with the value that
# means "as before the field existed". Add a field here when it is added to `Config` with a
# default that changes nothing.
ADDED_FIELDS: dict[str, Any] = {"kimg": None}

# Flat configs (before the generator was nested): their generator fields, old name -> new name...
FLAT_GENERATOR_NAMES: dict[str, str] = {
    "resolution": "resolution", "z_dim": "z_dim", "channel_base": "channel_base", "channel_max": "channel_max",
    "num_res_blocks": "num_res_blocks", "residual": "residual", "modulation": "modulation",
    "g_upsample": "upsample", "g_cross_attention": "cross_attention", "g_self_attention": "self_attention",
    "g_attention_heads": "attention_heads", "g_output_shift": "output_shift", "clip_model": "text_encoder",
}
# ...and the generator fields added while configs were flat, with their "as before" values.
FLAT_ADDED_FIELDS: dict[str, Any] = {"g_cross_attention": "", "g_self_attention": "", "g_attention_heads": 4,
                                     "g_upsample": "fir", "g_output_shift": 0.0}

_ANY = object()  # a removed option's companion setting: dropped whatever its value
LAST_RELEASE_WITH_REMOVED = "0.1.0"
# Options removed after measurements showed they did not help (docs/results hold the numbers),
# each with its "off" value; a saved config with one on cannot be trained or rebuilt here.
REMOVED_OPTIONS: dict[str, Any] = {
    "d_positions": False, "d_mismatch_weight": 0.0, "g_input_shift": 0.0,
    "g_diversity_weight": 0.0, "g_diversity_sigma": _ANY, "g_recon_weight": 0.0, "g_recon_fade_kimg": _ANY,
    "d_pixel_weight": 0.0, "d_pixel_channels": _ANY,
}


def _nest_flat(values: dict[str, Any]) -> dict[str, Any]:
    """A flat saved config in the nested form (its generator fields under ``"generator"``)."""
    values = {**{k: v for k, v in FLAT_ADDED_FIELDS.items() if k not in values}, **values}
    missing = sorted(k for k in FLAT_GENERATOR_NAMES if k not in values)
    if missing:
        raise ValueError(f"config is missing fields {missing}; it was written by another version of the example")
    generator = {new: values.pop(old) for old, new in FLAT_GENERATOR_NAMES.items()}
    return {**values, "generator": generator}


# --- settings: the names that flags, presets, experiment files and overrides use -------------------
def _generator_names() -> dict[str, str]:
    """Setting name -> GeneratorConfig field, for the generator fields a run may set."""
    derived = {"text_quick_gelu"}  # follows the CLIP weights
    names = {f.name: f.name for f in dataclasses.fields(GeneratorConfig) if f.name not in derived}
    names["clip_model"] = names.pop("text_encoder")  # the frozen CLIP's name, which the text encoder copies
    return names


GENERATOR_SETTINGS = _generator_names()
RUN_SETTINGS = tuple(f.name for f in dataclasses.fields(Config) if f.name != "generator")
SETTINGS = (*RUN_SETTINGS, *GENERATOR_SETTINGS)
"""Every setting name: the run's fields, then the generator's (``clip_model`` for ``text_encoder``)."""
_COMMON_GENERATOR = {"resolution", "clip_model"}  # generator settings that --help shows


def _split(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Settings split into run fields and GeneratorConfig fields; unknown names are refused."""
    unknown = sorted(set(values) - set(SETTINGS))
    if unknown:
        raise ValueError(f"unknown settings {unknown}; known settings: {sorted(SETTINGS)}")
    run = {k: v for k, v in values.items() if k in RUN_SETTINGS}
    gen = {GENERATOR_SETTINGS[k]: v for k, v in values.items() if k in GENERATOR_SETTINGS}
    return run, gen


def _replace_generator(base: GeneratorConfig, values: dict[str, Any]) -> GeneratorConfig:
    """``base`` with fields replaced; block resolutions may be given as a string such as "8,16"."""
    for key in ("cross_attention", "self_attention"):
        if isinstance(values.get(key), str):
            values = {**values, key: parse_resolutions(values[key], name=key,
                                                        resolution=values.get("resolution", base.resolution))}
    return dataclasses.replace(base, **values) if values else base


def setting(cfg: Config, name: str) -> Any:
    """The value of a setting (a run field, or a generator field by its setting name)."""
    if name in GENERATOR_SETTINGS:
        return getattr(cfg.generator, GENERATOR_SETTINGS[name])
    return getattr(cfg, name)


# --8<-- [start:presets]
# Presets: overrides of the defaults above. `shapes` is the CPU default on ShapesT2I: a plain
# second conv per block pair, batch 32, stage 2 a tenth of the run, the output moved by the latent
# (without it each caption's object sits in one place whatever the latent), and a fixed length in
# images so that the same command gives the same model on every machine. `small`, `lite` and
# `full` are the paper's generator sizes with the real pretrained networks.
_REAL = dict(clip_pretrain_steps=0, blur_sigma=32.0, blur_fade_kimg=1000.0, cross_attention="",
             augment_brightness=0.5, augment_saturation=1.0, augment_contrast=0.5,
             augment_translation=0.125, augment_cutout=0.2, clip_model="ViT-L-14", clip_weights="openai",
             dino_model="vit_small_patch16_224.dino", dino_weights="hub", resolution=64, d_cmap_dim=64,
             lr_text=3e-6, eval_every=5000, sample_every=2000, checkpoint_every=2000, data="shapes")
PRESETS: dict[str, dict[str, Any]] = {
    "shapes": {"residual": False, "batch": 32, "stage2_fraction": 0.1, "output_shift": 0.01,
               "kimg": 95.04},  # 2970 steps of 32 images
    # EmojiT2I (docs/emoji.md) on the CPU: the shapes recipe at 32 px on the built folder's
    # training items, with the tiny CLIP pretrained on them, small DiffAugment translations and
    # a short D-input blur (2 px over 10 kimg: sharper details sooner, measured in docs/emoji.md).
    "emoji": {"data": "data/emoji/train", "clip_weights": "emoji", "residual": False, "batch": 32,
              "stage2_fraction": 0.1, "output_shift": 0.01, "augment_translation": 0.125,
              "blur_sigma": 2.0, "blur_fade_kimg": 10.0, "kimg": 95.04},
    # EmojiT2I at the data's full 64 px, for one GPU: the paper's `small` generator widths with
    # cross-attention at 8, 16 and 32 px, DINO ViT-S/16 (timm's hub weights) as D's feature
    # network instead of the tiny CLIP's 32 px image tower, the emoji tiny CLIP for the captions
    # and the guidance, batch 64, 500 kimg.
    "emoji-64": {"data": "data/emoji/train", "clip_weights": "emoji", "resolution": 64, "residual": False,
                 "channel_base": 16384, "channel_max": 256, "num_res_blocks": 1, "cross_attention": (8, 16, 32),
                 "dino_model": "vit_small_patch16_224.dino", "dino_weights": "hub", "batch": 64,
                 "stage2_fraction": 0.1, "output_shift": 0.01, "augment_translation": 0.125,
                 "blur_sigma": 4.0, "blur_fade_kimg": 50.0, "kimg": 500.0, "eval_every": 2000,
                 "sample_every": 1000, "checkpoint_every": 1000},
    "small": {**_REAL, "channel_base": 16384, "channel_max": 256, "num_res_blocks": 1, "batch": 256},
    "lite": {**_REAL, "channel_base": 32768, "channel_max": 512, "num_res_blocks": 2, "batch": 512},
    "full": {**_REAL, "channel_base": 65536, "channel_max": 2048, "num_res_blocks": 3, "batch": 2048},
}
# --8<-- [end:presets]


def preset(name: str, **overrides: Any) -> Config:
    """The config of a named preset, with settings overridden."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    run, gen = _split({**PRESETS[name], **overrides})
    return Config(**run, generator=_replace_generator(DEFAULT_GENERATOR, gen))


def load_experiment(path: str | Path) -> dict[str, Any]:
    """The settings of an experiment file: its module-level assignments (names without a
    leading underscore), e.g. ``modulation = "affine"``.

    Raises:
        ValueError: The file is missing or fails, or sets a name that is no setting.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"experiment file {path} does not exist")
    try:
        namespace = runpy.run_path(str(path))
    except Exception as e:  # noqa: BLE001 - any error in the file is the file's
        raise ValueError(f"experiment file {path} fails: {type(e).__name__}: {e}") from None
    values = {k: v for k, v in namespace.items()
              if not k.startswith("_") and not isinstance(v, types.ModuleType) and not callable(v)}
    unknown = sorted(set(values) - set(SETTINGS))
    if unknown:
        raise ValueError(f"experiment file {path} sets unknown settings {unknown}")
    return values


# --- the CLI ---------------------------------------------------------------------------------------
def _arg_type(annotation: Any) -> dict[str, Any]:
    """argparse keyword arguments for a dataclass field's annotation."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        inner = _arg_type(next(a for a in args if a is not type(None)))
        conv = inner["type"]
        return {"type": lambda s: None if s.lower() in ("none", "") else conv(s), "metavar": inner.get("metavar")}
    if origin is Literal:
        return {"type": str, "choices": list(args)}
    if origin is tuple:  # block resolutions, e.g. "8,16" (GeneratorConfig parses the string)
        return {"type": str, "metavar": "LIST"}
    if annotation is bool:
        return {"action": argparse.BooleanOptionalAction}
    return {"type": annotation, "metavar": annotation.__name__.upper()}


def _docstring_args(cls: type) -> dict[str, str]:
    """The ``Args:`` entries of a class docstring, as one line of plain text each."""
    doc = inspect.getdoc(cls) or ""
    entries: dict[str, str] = {}
    name = None
    for line in doc.split("Args:", 1)[-1].splitlines():
        m = re.match(r"^    (\w+): (.*)", line)
        if m:
            name, entries[m.group(1)] = m.group(1), m.group(2)
        elif line.startswith("        ") and name is not None:
            entries[name] += " " + line.strip()
        elif line.strip():
            name = None
    for key, text in entries.items():  # markdown links and maths to plain text
        text = re.sub(r"\[`([^`\]]+)`\]\[[^\]]*\]", r"\1", text)
        entries[key] = text.replace("$\\psi$", "psi").replace("``", "'")
    return entries


def _setting_help() -> dict[str, tuple[str, bool, Any]]:
    """Setting name -> (help text, shown by --help, annotation)."""
    out: dict[str, tuple[str, bool, Any]] = {}
    hints = typing.get_type_hints(Config)
    for f in dataclasses.fields(Config):
        if f.name != "generator":
            out[f.name] = (f.metadata["help"], f.metadata["common"], hints[f.name])
    docs, ghints = _docstring_args(GeneratorConfig), typing.get_type_hints(GeneratorConfig)
    docs["resolution"] = (f"image resolution: a power of two, {SHAPES_MIN_RESOLUTION}..{SHAPES_MAX_RESOLUTION} "
                          f"with --data shapes, {MIN_RESOLUTION}..{MAX_RESOLUTION} with other data")
    docs["text_encoder"] = ("open_clip model of the frozen CLIP (text encoding, guidance) and of the "
                            "generator's text encoder ('tiny' or e.g. ViT-L-14)")
    for name, gen_field in GENERATOR_SETTINGS.items():
        out[name] = (docs.get(gen_field, gen_field.replace("_", " ")), name in _COMMON_GENERATOR, ghints[gen_field])
    return out


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "''"
    return "none" if value is None else str(value)


def preset_defaults(name: str) -> str:
    """The default of setting ``name`` as help text: one value, or the value of each preset."""
    by_value: dict[str, list[str]] = {}
    for preset_name in PRESETS:
        by_value.setdefault(_shown(setting(preset(preset_name), name)), []).append(preset_name)
    if len(by_value) == 1:
        return f"default: {next(iter(by_value))}"
    return "default: " + "; ".join(f"{value} with --preset {', '.join(names)}" for value, names in by_value.items())


def add_config_arguments(parser: argparse.ArgumentParser, *, show_all: bool = True) -> None:
    """Add one ``--flag`` per setting; unset flags are absent (the preset decides). Without
    ``show_all`` only the common settings have help text (the rest are accepted but hidden)."""
    group = parser.add_argument_group("config (a flag overrides one setting of --preset's config)")
    for name, (text, common, annotation) in _setting_help().items():
        kwargs = {k: v for k, v in _arg_type(annotation).items() if v is not None}
        shown = f"{text} ({preset_defaults(name)})".replace("%", "%%") if show_all or common else argparse.SUPPRESS
        group.add_argument("--" + name.replace("_", "-"), dest=f"cfg_{name}", default=argparse.SUPPRESS,
                           help=shown, **kwargs)


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line."""
    return {k[4:]: v for k, v in vars(args).items() if k.startswith("cfg_")}
