"""The architecture of a text-to-image generator: every field needed to rebuild it, nothing else.

A [`GeneratorConfig`][ganblocks.t2i.config.GeneratorConfig] is what a saved model's
``config.json`` holds, and what a training checkpoint records of its generator. Training
settings (learning rates, losses, data) are not part of it: two runs that differ only in those
build the same network.
"""

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..generator.upfirdn import UPSAMPLE_TAPS, UpsampleKind

__all__ = ["GeneratorConfig", "clip_quick_gelu", "parse_resolutions"]

_RESERVED = frozenset({"format", "version", "training"})  # written beside the fields in config.json

_REMOVED: Mapping[str, Any] = {"input_shift": 0.0}
"""Fields that older configs may hold: read when they hold the value that builds today's network."""


@dataclass(frozen=True)
class GeneratorConfig:
    """The architecture of a [`TextToImageGenerator`][ganblocks.t2i.generator.TextToImageGenerator].

    Every field but ``resolution`` has a default, and a saved config without a field means the
    default: new optional fields are added with a default that builds the network as before.

    Args:
        resolution: Image side in pixels, a power of two >= 8.
        z_dim: Latent size.
        channel_base: Channels at resolution $r$ are ``min(channel_base // r, channel_max)``.
        channel_max: Maximum channels of a synthesis block.
        num_res_blocks: Pairs of [modulated conv, residual modulated conv] per block.
        residual: Residual second layer in each pair (off: plain conv).
        modulation: Style modulation: ``"polynomial"`` (StyleGAN-T) or ``"affine"`` (StyleGAN2).
        upsample: The synthesis network's 2x upsampling: ``"fir"`` (StyleGAN's low-pass filter)
            or ``"nearest"`` (nearest-neighbour).
        mapping_layers: Layers of the latent mapping MLP.
        text_encoder: open_clip architecture of the text tower (``"tiny"`` or e.g. ``"ViT-L-14"``).
        text_quick_gelu: Whether the text tower uses QuickGELU (CLIP's ``openai`` weights do).
        cross_attention: Block resolutions whose features attend to the caption's word tokens
            (beyond StyleGAN-T, after GigaGAN; empty: the global text vector only).
        self_attention: Block resolutions with self-attention over their pixels.
        attention_heads: Heads of the attention layers.
        output_shift: Standard deviation, in image sides, of a translation of the finished
            image read from the latent's first two coordinates (times the truncation $\\psi$), by cubic
            interpolation ([`translate`][ganblocks.generator.translation.translate]); the mapping
            does not see them either, so no layer knows the offset or can take it back. 0: off.
    """

    resolution: int
    z_dim: int = 64
    channel_base: int = 1024
    channel_max: int = 64
    num_res_blocks: int = 1
    residual: bool = True
    modulation: Literal["polynomial", "affine"] = "polynomial"
    upsample: UpsampleKind = "fir"
    mapping_layers: int = 2
    text_encoder: str = "tiny"
    text_quick_gelu: bool = False
    cross_attention: tuple[int, ...] = ()
    self_attention: tuple[int, ...] = ()
    attention_heads: int = 4
    output_shift: float = 0.0

    def __post_init__(self) -> None:
        for name in ("cross_attention", "self_attention"):
            object.__setattr__(self, name, parse_resolutions(getattr(self, name), name=name,
                                                             resolution=self.resolution))
        r = self.resolution
        if not isinstance(r, int) or r < 8 or r & (r - 1):
            raise ValueError(f"resolution must be a power of two >= 8, got {r!r}")
        for name in ("z_dim", "channel_base", "channel_max", "mapping_layers", "attention_heads"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.num_res_blocks, int) or self.num_res_blocks < 0:
            raise ValueError(f"num_res_blocks must be an integer >= 0, got {self.num_res_blocks!r}")
        if self.modulation not in ("polynomial", "affine"):
            raise ValueError(f"modulation must be 'polynomial' or 'affine', got {self.modulation!r}")
        if self.upsample not in UPSAMPLE_TAPS:
            names = " or ".join(repr(k) for k in UPSAMPLE_TAPS)
            raise ValueError(f"upsample must be {names}, got {self.upsample!r}")
        shift = self.output_shift
        if isinstance(shift, bool) or not isinstance(shift, (int, float)) or not 0 <= shift < 1:
            raise ValueError(f"output_shift must be a number in [0, 1) (image sides), got {shift!r}")
        if shift > 0 and self.z_dim < 2:
            raise ValueError(f"output_shift reads two latent coordinates; z_dim is {self.z_dim}")
        if not isinstance(self.text_encoder, str) or not self.text_encoder:
            raise ValueError(f"text_encoder must be an open_clip model name, got {self.text_encoder!r}")

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, source: str = "the config") -> "GeneratorConfig":
        """Read a saved config (``config.json`` of a saved model).

        Missing optional fields take their defaults; ``format``, ``version`` and ``training`` are
        skipped. Unknown fields are refused: they come from a newer ganblocks whose network this
        version would build differently.

        Raises:
            ValueError: Unknown fields, no ``resolution``, or invalid values; naming ``source``.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        for name, default in _REMOVED.items():
            if name in values and values[name] != default:
                raise ValueError(f"{source} sets {name}={values[name]!r}, an option this ganblocks no longer "
                                 f"has (it builds the network only with {name}={default!r})")
        values = {k: v for k, v in values.items() if k not in _REMOVED}
        unknown = sorted(set(values) - names - _RESERVED)
        if unknown:
            raise ValueError(f"{source} has unknown generator fields {unknown} (written by a newer "
                             f"ganblocks? upgrade it); known fields: {sorted(names)}")
        if "resolution" not in values:
            raise ValueError(f"{source} has no 'resolution': it is not a generator config")
        try:
            fields = {k: v for k, v in values.items() if k in names}
            for key in ("cross_attention", "self_attention"):  # JSON lists, or "8,16" in run configs
                if key in fields:
                    fields[key] = parse_resolutions(fields[key], name=key, resolution=fields["resolution"])
            return cls(**fields)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{source}: {err}") from None


def clip_quick_gelu(name: str, weights: Any) -> bool:
    """Whether ``create_clip(name, pretrained=weights)`` builds towers with QuickGELU.

    The tiny preset never does; a weights tag follows open_clip's setting for it; a file or random
    weights follow the name's default tag (``openai`` where it exists).
    """
    if name == "tiny":
        return False
    import open_clip

    if name not in open_clip.list_models():
        raise ValueError(f"unknown CLIP name {name!r} (see open_clip.list_models())")
    tags = open_clip.list_pretrained_tags_by_model(name)
    given = isinstance(weights, str) and open_clip.is_pretrained_cfg(name, weights)
    tag = weights if given else ("openai" if "openai" in tags else (tags[0] if tags else ""))
    return bool(open_clip.get_pretrained_cfg(name, tag).get("quick_gelu", False))


def parse_resolutions(value: Any, *, name: str, resolution: int) -> tuple[int, ...]:
    """Block resolutions from a list or a string such as ``"8,16"`` (empty: none), sorted.

    Raises:
        ValueError: Naming ``name``, for anything but block resolutions 8, 16, ..., ``resolution``.
    """
    r = resolution if isinstance(resolution, int) and resolution >= 8 else 8
    blocks = [2**k for k in range(3, r.bit_length())]
    items: list[Any]
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise ValueError(f"{name} must be a list of block resolutions or a string like '8,16', got {value!r}")
    try:
        parsed = sorted({int(v) for v in items if not isinstance(v, bool) and int(v) == float(v)})
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or any(p not in blocks for p in parsed):
        raise ValueError(f"{name} {value!r} must name block resolutions of a {resolution} px "
                         f"generator, from {blocks} (e.g. '8,16'; empty: off)")
    return tuple(parsed)
