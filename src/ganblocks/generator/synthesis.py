"""Synthesis network of StyleGAN-T: Fourier input, residual blocks at 8, 16, ..., R px, RGB skips."""

import dataclasses
import math
import types
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import torch
from torch import nn

from .._typing import Bool, Float, Tensor, check_shape
from .attention import check_token_mask
from .cross_attention import TextCrossAttention
from .fourier import FourierFeatures
from .layers import StyleConv
from .modulation import ModulationKind
from .noise import NoiseMode
from .residual import ResidualGenBlock
from .self_attention import AttentionLogits, SpatialSelfAttention
from .torgb import ToRGB
from ..ops.upfirdn import UpsampleKind, upsample2d, upsample_taps

__all__ = [
    "SynthesisPreset",
    "SYNTHESIS_PRESETS",
    "synthesis_layout",
    "SynthesisBlock",
    "SynthesisNetwork",
]

_PAIR_GAIN = 1.0  # sqrt(2) * sqrt(0.5)
_PAIR_CLAMP = 256.0 * math.sqrt(0.5)


@dataclasses.dataclass(frozen=True)
class SynthesisPreset:
    """Width and depth of a synthesis network (see `SYNTHESIS_PRESETS`).

    Args:
        channel_base: Channels at resolution $r$ are `min(channel_base // r, channel_max)`.
        channel_max: Upper bound on the channels.
        num_res_blocks: Pairs of [StyleConv, ResidualGenBlock] per block.
        num_groups: GroupNorm groups of the residual layers.
    """

    channel_base: int
    channel_max: int
    num_res_blocks: int
    num_groups: int = 32


SYNTHESIS_PRESETS: Mapping[str, SynthesisPreset] = types.MappingProxyType({
    "full": SynthesisPreset(65536, 2048, 3),
    "lite": SynthesisPreset(32768, 512, 2),
    "small": SynthesisPreset(16384, 256, 1),
    "tiny": SynthesisPreset(2048, 32, 1, num_groups=4),
})
"""The paper's presets (`full`, `lite`, `small`) and `tiny`, ours, for quick CPU runs and tests
(other widths are passed to `SynthesisNetwork` directly)."""


def synthesis_layout(
    resolution: int, *, channel_base: int, channel_max: int
) -> list[tuple[int, int]]:
    """List `(resolution, channels)` of every synthesis block: 8, 16, ..., `resolution`.

    Args:
        resolution: Output side; a power of two >= 8.
        channel_base: Channels at resolution $r$ are `min(channel_base // r, channel_max)`.
        channel_max: Upper bound on the channels.

    Returns:
        One `(r, channels)` pair per block, lowest resolution first.
    """
    if resolution < 8 or resolution & (resolution - 1) != 0:
        raise ValueError(f"resolution must be a power of two >= 8, got {resolution}")
    layout = []
    for log2 in range(3, int(math.log2(resolution)) + 1):
        r = 2**log2
        channels = min(channel_base // r, channel_max)
        if channels < 1:
            raise ValueError(
                f"channel_base {channel_base} gives no channels at resolution {r}"
            )
        layout.append((r, channels))
    return layout


class SynthesisBlock(nn.Module):
    r"""One resolution of the synthesis network, with its RGB skip output.

    $$x \leftarrow \operatorname{StyleConv}_{\uparrow 2}(x, w), \qquad
    x \leftarrow \operatorname{Res}_j(\operatorname{Conv}_j(x, w), w),\ j = 1..N, \qquad
    \text{img} \leftarrow \operatorname{up}(\text{img}) + \operatorname{ToRGB}(x, w)$$

    where the upsampling (of the image here and inside the first conv) is StyleGAN's FIR
    low-pass ($[1, 3, 3, 1]$) by default, or nearest-neighbour with `upsample="nearest"`.

    The first block (`first=True`) has no upsampling conv: its input is the Fourier features at
    the block's resolution. Optionally, after the convs, a `SpatialSelfAttention` over the
    block's pixels and a `TextCrossAttention` to the caption's tokens (GigaGAN's order), both
    layer-scaled residuals, so the block still starts close to the plain one. The convs inside the pairs use activation gain 1 and clamp
    $256 / \sqrt 2$. With `residual=False` the second layer of each pair is a plain StyleConv
    (the paper's ablation).

    Args:
        in_channels: Channels of the input features.
        out_channels: Channels of the block (equal to `in_channels` when `first`).
        w_dim: Width of the latent $w$.
        resolution: Output side of the block.
        num_res_blocks: Number of [StyleConv, residual] pairs $N$.
        residual: Use `ResidualGenBlock` as the second layer of each pair.
        first: The block takes the input features at its own resolution.
        img_channels: Image channels.
        modulation: `"polynomial"` or `"affine"`.
        use_noise: Whether the convs add noise.
        num_groups: GroupNorm groups of the residual layers.
        upsample: `"fir"` (StyleGAN's low-pass filter) or `"nearest"` (see `UPSAMPLE_TAPS`).
        self_attention: Add a `SpatialSelfAttention` after the convs.
        text_dim: Width of the text tokens; a `TextCrossAttention` follows the convs when set.
        attention_heads: Heads of both attention layers.
        attention_logits: Logits of the self-attention (see `SpatialSelfAttention`).
        attention_layer_scale: Initial layer scale of both attention layers (0: identity).
        device: Device of the parameters.
        dtype: Dtype of the parameters.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        *,
        resolution: int,
        num_res_blocks: int,
        residual: bool = True,
        first: bool = False,
        img_channels: int = 3,
        modulation: ModulationKind = "polynomial",
        use_noise: bool = True,
        num_groups: int = 32,
        upsample: UpsampleKind = "fir",
        self_attention: bool = False,
        text_dim: int | None = None,
        attention_heads: int = 4,
        attention_logits: AttentionLogits = "qk_norm",
        attention_layer_scale: float = 1e-2,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if first and in_channels != out_channels:
            raise ValueError(
                f"the first block needs in_channels == out_channels, got {in_channels}, "
                f"{out_channels}"
            )
        if num_res_blocks < 0:
            raise ValueError(f"num_res_blocks must be >= 0, got {num_res_blocks}")
        if not first and resolution % 2 != 0:
            raise ValueError(f"resolution must be even for an upsampling block, got {resolution}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.w_dim = w_dim
        self.resolution = resolution
        self.in_resolution = resolution if first else resolution // 2
        self.img_channels = img_channels
        self.first = first
        self.upsample = upsample
        self._up_taps = upsample_taps(upsample)
        common: dict[str, Any] = {
            "resolution": resolution, "modulation": modulation, "use_noise": use_noise,
            "device": device, "dtype": dtype,
        }
        self.up_conv = (None if first else
                        StyleConv(in_channels, out_channels, w_dim, up=2, up_taps=self._up_taps, **common))
        layers: list[nn.Module] = []
        for _ in range(num_res_blocks):
            layers.append(StyleConv(out_channels, out_channels, w_dim, activation_gain=_PAIR_GAIN,
                                    conv_clamp=_PAIR_CLAMP, **common))
            if residual:
                layers.append(ResidualGenBlock(out_channels, w_dim, num_groups=num_groups,
                                               conv_clamp=_PAIR_CLAMP, **common))
            else:
                layers.append(StyleConv(out_channels, out_channels, w_dim,
                                        activation_gain=_PAIR_GAIN, conv_clamp=_PAIR_CLAMP,
                                        **common))
        self.layers = nn.ModuleList(layers)
        attn: dict[str, Any] = {"num_heads": attention_heads, "layer_scale_init": attention_layer_scale,
                                "device": device, "dtype": dtype}
        self.self_attn = (SpatialSelfAttention(out_channels, logits=attention_logits, **attn)
                          if self_attention else None)
        self.text_dim = text_dim
        self.cross_attn = TextCrossAttention(out_channels, text_dim, **attn) if text_dim else None
        self.torgb = ToRGB(out_channels, w_dim, out_channels=img_channels, modulation=modulation,
                           device=device, dtype=dtype)

    def forward(
        self,
        x: Float[Tensor, "b {self.in_channels} {self.in_resolution} {self.in_resolution}"],
        img: Float[Tensor, "b {self.img_channels} {self.in_resolution} {self.in_resolution}"] | None,
        w: Float[Tensor, "b {self.w_dim}"],
        *,
        tokens: Float[Tensor, "b n t"] | None = None,
        mask: Bool[Tensor, "b n"] | None = None,
        noise_mode: NoiseMode = "random",
        check_mask: bool = True,
        shift: Float[Tensor, "b 2"] | None = None,
    ) -> tuple[
        Float[Tensor, "b {self.out_channels} {self.resolution} {self.resolution}"],
        Float[Tensor, "b {self.img_channels} {self.resolution} {self.resolution}"],
    ]:
        """Run the block.

        Args:
            x: Features from the previous block (or the Fourier input for the first block).
            img: Image from the previous block, or `None` to start the image here.
            w: Style latent.
            tokens: Per-token text features (needed when the block has cross-attention).
            mask: `True` for the captions' real tokens.
            noise_mode: `"random"`, `"const"` or `"none"`.
            check_mask: Check that every caption has a valid token (see `TextCrossAttention`).
            shift: Per-sample translation, in image sides, of the attention layers' position
                encoding (see `grid_positions`); the network passes the one its input takes.

        Returns:
            The block's features and the image summed so far.
        """
        side = self.in_resolution
        check_shape("x", x, (None, self.in_channels, side, side))
        check_shape("w", w, (x.shape[0], self.w_dim))
        if img is not None:
            check_shape("img", img, (x.shape[0], self.img_channels, side, side))
        if self.up_conv is not None:
            x = self.up_conv(x, w, noise_mode=noise_mode)
        for layer in self.layers:
            x = layer(x, w, noise_mode=noise_mode)
        if self.self_attn is not None:
            x = self.self_attn(x, shift=shift)
        if self.cross_attn is not None:
            if tokens is None or mask is None:
                raise ValueError(f"the {self.resolution} px block attends to text tokens: pass tokens= and mask=")
            x = self.cross_attn(x, tokens, mask, check_mask=check_mask, shift=shift)
        rgb = self.torgb(x, w)
        if img is None:
            return x, rgb
        if not self.first:
            img = upsample2d(img, taps=self._up_taps)
        return x, img.to(rgb.dtype) + rgb


class SynthesisNetwork(nn.Module):
    r"""StyleGAN-T's synthesis network: $w \mapsto$ image, no output non-linearity.

    A `FourierFeatures` input at 8x8 with $C(8)$ channels feeds `SynthesisBlock`s at 8, 16, ...,
    `resolution`, with $C(r) = \min(\text{channel\_base} / r, \text{channel\_max})$ channels; the
    blocks' RGB outputs are upsampled (FIR low-pass, or nearest-neighbour with
    `upsample="nearest"`) and summed. Every layer receives the same $w$.

    Blocks live in `self.blocks`, an `nn.ModuleDict` keyed `"b8"`, `"b16"`, ...: the state dict
    of a lower-resolution network with the same widths loads into a higher-resolution one with
    `load_state_dict(state, strict=False)` (only the new blocks are reported missing), which is
    how the super-resolution stage grows a trained 64 px generator.

    Token-level text conditioning (beyond StyleGAN-T, after GigaGAN) is off by default: with
    `cross_attention` resolutions and `text_dim`, those blocks end with a `TextCrossAttention` to
    the caption's tokens, and `forward` takes `tokens` and `mask`; `self_attention` resolutions
    get a `SpatialSelfAttention` before it. Without them the network has StyleGAN-T's architecture
    and parameter count, but its state dict is not the original release's: the keys differ, the
    residual layers' `gamma` is a vector of `channels` entries, and two conventions differ: the
    upsampling convolution's kernel is the release's rotated by 180° (here it correlates the
    zero-inserted input, see `modulated_conv2d`), and the Fourier input's translation is
    $t = -R\, t_\text{release}$ (see `FourierFeatures`). A release checkpoint needs those keys,
    shapes and tensors converted before it loads.

    Args:
        w_dim: Width of the latent $w$ (`z_dim + c_dim` of the mapping network).
        resolution: Output side; a power of two >= 8.
        channel_base: Channel numerator $C(r) = \min(\text{channel\_base} // r, \text{channel\_max})$.
        channel_max: Upper bound on the channels.
        num_res_blocks: [StyleConv, residual] pairs per block.
        img_channels: Image channels.
        residual: Use residual layers (`False`: plain StyleConvs, the paper's ablation).
        modulation: `"polynomial"` or `"affine"`.
        use_noise: Whether the convs add noise.
        num_groups: GroupNorm groups of the residual layers.
        upsample: `"fir"`: StyleGAN's $[1, 3, 3, 1]$ low-pass filter after each 2x upsampling
            (of the features and of the RGB skips); `"nearest"`: nearest-neighbour upsampling
            (beyond StyleGAN-T: a piecewise-constant image is then exactly representable, so
            sharp axis-aligned edges and corners cost the convs nothing to keep).
        cross_attention: Block resolutions that attend to the text tokens.
        self_attention: Block resolutions with self-attention over their pixels.
        text_dim: Width of the text tokens (required with `cross_attention`).
        attention_heads: Heads of every attention layer.
        attention_logits: Logits of the self-attention layers (see `SpatialSelfAttention`).
        attention_layer_scale: Initial layer scale of the attention layers (0: identity).
        device: Device of the parameters (`"meta"` builds without memory).
        dtype: Dtype of the parameters.
    """

    def __init__(
        self,
        w_dim: int,
        resolution: int,
        *,
        channel_base: int,
        channel_max: int,
        num_res_blocks: int,
        img_channels: int = 3,
        residual: bool = True,
        modulation: ModulationKind = "polynomial",
        use_noise: bool = True,
        num_groups: int = 32,
        upsample: UpsampleKind = "fir",
        cross_attention: Sequence[int] = (),
        self_attention: Sequence[int] = (),
        text_dim: int | None = None,
        attention_heads: int = 4,
        attention_logits: AttentionLogits = "qk_norm",
        attention_layer_scale: float = 1e-2,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.w_dim = w_dim
        self.resolution = resolution
        self.img_channels = img_channels
        self.channel_base = channel_base
        self.channel_max = channel_max
        self.upsample = upsample  # each block checks the name
        layout = synthesis_layout(resolution, channel_base=channel_base, channel_max=channel_max)
        self.block_resolutions = [r for r, _ in layout]
        for name, given in (("cross_attention", cross_attention), ("self_attention", self_attention)):
            unknown = sorted(set(given) - set(self.block_resolutions))
            if unknown:
                raise ValueError(
                    f"{name} resolutions {unknown} are not block resolutions of a {resolution} px "
                    f"network; pick from {self.block_resolutions}")
        if cross_attention and (text_dim is None or text_dim < 1):
            raise ValueError(f"cross_attention at {sorted(cross_attention)} needs text_dim, the width of the text tokens")
        self.cross_attention = tuple(sorted(set(cross_attention)))
        self.self_attention = tuple(sorted(set(self_attention)))
        self.text_dim = text_dim if self.cross_attention else None
        factory = {"device": device, "dtype": dtype}
        self.input = FourierFeatures(w_dim, layout[0][1], size=8, sampling_rate=8.0,
                                     bandwidth=2.0, **factory)
        blocks = {}
        in_channels = layout[0][1]
        for r, channels in layout:
            blocks[f"b{r}"] = SynthesisBlock(
                in_channels, channels, w_dim, resolution=r, num_res_blocks=num_res_blocks,
                residual=residual, first=r == 8, img_channels=img_channels,
                modulation=modulation, use_noise=use_noise, num_groups=num_groups,
                upsample=upsample, self_attention=r in self.self_attention,
                text_dim=text_dim if r in self.cross_attention else None,
                attention_heads=attention_heads, attention_logits=attention_logits,
                attention_layer_scale=attention_layer_scale, **factory,
            )
            in_channels = channels
        self.blocks = nn.ModuleDict(blocks)

    @classmethod
    def from_preset(
        cls, preset: Literal["full", "lite", "small", "tiny"], w_dim: int, resolution: int,
        **kwargs: Any,
    ) -> "SynthesisNetwork":
        """Build the network of a named `SYNTHESIS_PRESETS` entry; `kwargs` go to `__init__`."""
        if preset not in SYNTHESIS_PRESETS:
            raise ValueError(f"preset must be one of {sorted(SYNTHESIS_PRESETS)}, got {preset!r}")
        return cls(w_dim, resolution, **{**dataclasses.asdict(SYNTHESIS_PRESETS[preset]), **kwargs})

    def layout(self) -> list[tuple[int, int]]:
        """List `(resolution, channels)` of every block, lowest resolution first."""
        return synthesis_layout(
            self.resolution, channel_base=self.channel_base, channel_max=self.channel_max
        )

    def forward(
        self,
        w: Float[Tensor, "b {self.w_dim}"],
        *,
        tokens: Float[Tensor, "b n t"] | None = None,
        mask: Bool[Tensor, "b n"] | None = None,
        noise_mode: NoiseMode = "random",
        shift: Float[Tensor, "b 2"] | None = None,
    ) -> Float[Tensor, "b {self.img_channels} {self.resolution} {self.resolution}"]:
        """The image of `w`; `tokens` and `mask` (e.g. a `TextEncoding`'s) when the network
        attends to text tokens, ignored otherwise; `shift` translates the picture: the Fourier
        input further (see `FourierFeatures`; in image sides, since the input grid spans one
        unit) and the attention layers' position encoding by as much (see `grid_positions`), so
        that no layer keeps the untranslated frame."""
        check_shape("w", w, (None, self.w_dim))
        if self.cross_attention:
            if tokens is None or mask is None:
                raise ValueError(
                    f"this network attends to text tokens at {list(self.cross_attention)} px: pass "
                    "tokens= and mask= (a TextEncoding's .tokens and .mask)")
            assert self.text_dim is not None
            check_token_mask(tokens, mask, text_dim=self.text_dim)
            if tokens.shape[0] != w.shape[0]:
                raise ValueError(f"tokens has batch {tokens.shape[0]}, w has {w.shape[0]}: pass one caption per image")
        else:
            tokens = mask = None
        x = self.input(w, shift=shift)
        img = None
        for block in self.blocks.values():
            x, img = block(x, img, w, tokens=tokens, mask=mask, noise_mode=noise_mode,
                           check_mask=False, shift=shift)  # mask checked once above
        assert img is not None
        return img
