"""Generator blocks of StyleGAN-T: modulation, modulated convolution, synthesis and mapping."""

from .attention import attention as attention, grid_positions as grid_positions
from .cross_attention import TextCrossAttention as TextCrossAttention
from .equalized import EqualLinear as EqualLinear, bias_act as bias_act
from .fourier import FourierFeatures as FourierFeatures
from .layers import ModulatedLayer as ModulatedLayer, StyleConv as StyleConv
from .mapping import MappingNetwork as MappingNetwork
from .modconv import (
    ModulatedConv as ModulatedConv,
    modulated_conv2d as modulated_conv2d,
    resolve_modconv_impl as resolve_modconv_impl,
)
from .modulation import (
    AffineModulation as AffineModulation,
    PolynomialModulation as PolynomialModulation,
    create_modulation as create_modulation,
)
from .noise import NoiseInjection as NoiseInjection
from .residual import ResidualGenBlock as ResidualGenBlock
from .self_attention import SpatialSelfAttention as SpatialSelfAttention
from .synthesis import (
    SYNTHESIS_PRESETS as SYNTHESIS_PRESETS,
    SynthesisBlock as SynthesisBlock,
    SynthesisNetwork as SynthesisNetwork,
    SynthesisPreset as SynthesisPreset,
    synthesis_layout as synthesis_layout,
)
from .torgb import ToRGB as ToRGB
from .translation import TranslateKernel as TranslateKernel, translate as translate
from ..ops.upfirdn import (
    FIR_TAPS as FIR_TAPS,
    NEAREST_TAPS as NEAREST_TAPS,
    UPSAMPLE_TAPS as UPSAMPLE_TAPS,
    UpsampleKind as UpsampleKind,
    fir_filter2d as fir_filter2d,
    fir_taps as fir_taps,
    upsample2d as upsample2d,
    upsample_taps as upsample_taps,
)

__all__ = [
    "EqualLinear",
    "bias_act",
    "FIR_TAPS",
    "NEAREST_TAPS",
    "UPSAMPLE_TAPS",
    "UpsampleKind",
    "fir_taps",
    "fir_filter2d",
    "upsample2d",
    "upsample_taps",
    "modulated_conv2d",
    "resolve_modconv_impl",
    "ModulatedConv",
    "PolynomialModulation",
    "AffineModulation",
    "create_modulation",
    "NoiseInjection",
    "StyleConv",
    "ModulatedLayer",
    "ResidualGenBlock",
    "ToRGB",
    "FourierFeatures",
    "MappingNetwork",
    "SynthesisPreset",
    "SYNTHESIS_PRESETS",
    "synthesis_layout",
    "SynthesisBlock",
    "SynthesisNetwork",
    "attention",
    "grid_positions",
    "translate",
    "TranslateKernel",
    "TextCrossAttention",
    "SpatialSelfAttention",
]
