"""ganblocks: small, typed, tested GAN building blocks, and StyleGAN-T built from them.

``import ganblocks`` is light: timm and open_clip are imported only inside the backbone
factories that build pretrained networks.
"""

__version__ = "0.1.0"

# --- generator blocks ---
from .generator import (
    EqualLinear as EqualLinear,
    bias_act as bias_act,
    FIR_TAPS as FIR_TAPS,
    fir_taps as fir_taps,
    fir_filter2d as fir_filter2d,
    upsample2d as upsample2d,
    modulated_conv2d as modulated_conv2d,
    resolve_modconv_impl as resolve_modconv_impl,
    ModulatedConv as ModulatedConv,
    PolynomialModulation as PolynomialModulation,
    AffineModulation as AffineModulation,
    create_modulation as create_modulation,
    NoiseInjection as NoiseInjection,
    StyleConv as StyleConv,
    ResidualGenBlock as ResidualGenBlock,
    ToRGB as ToRGB,
    FourierFeatures as FourierFeatures,
    MappingNetwork as MappingNetwork,
    SynthesisPreset as SynthesisPreset,
    SYNTHESIS_PRESETS as SYNTHESIS_PRESETS,
    synthesis_layout as synthesis_layout,
    SynthesisBlock as SynthesisBlock,
    SynthesisNetwork as SynthesisNetwork,
)
# --- end generator blocks ---

# --- discriminator, losses and backbones ---
# --- end discriminator, losses and backbones ---

# --- training utilities (checkpoints, EMA) ---
from .training import (
    CheckpointError as CheckpointError,
    save_checkpoint as save_checkpoint,
    load_checkpoint as load_checkpoint,
    find_checkpoint as find_checkpoint,
    read_checkpoint_meta as read_checkpoint_meta,
    RNGState as RNGState,
    capture_rng_state as capture_rng_state,
    restore_rng_state as restore_rng_state,
    seed_everything as seed_everything,
    EMA as EMA,
    ema_beta as ema_beta,
    update_ema as update_ema,
)
# --- end training utilities ---

__all__: list[str] = [
    "__version__",
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "find_checkpoint",
    "read_checkpoint_meta",
    "RNGState",
    "capture_rng_state",
    "restore_rng_state",
    "seed_everything",
    "EMA",
    "ema_beta",
    "update_ema",
    "EqualLinear",
    "bias_act",
    "FIR_TAPS",
    "fir_taps",
    "fir_filter2d",
    "upsample2d",
    "modulated_conv2d",
    "resolve_modconv_impl",
    "ModulatedConv",
    "PolynomialModulation",
    "AffineModulation",
    "create_modulation",
    "NoiseInjection",
    "StyleConv",
    "ResidualGenBlock",
    "ToRGB",
    "FourierFeatures",
    "MappingNetwork",
    "SynthesisPreset",
    "SYNTHESIS_PRESETS",
    "synthesis_layout",
    "SynthesisBlock",
    "SynthesisNetwork",
]
