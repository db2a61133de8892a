"""ganblocks: small, typed, tested GAN building blocks, and StyleGAN-T built from them.

``import ganblocks`` is light: timm and open_clip are imported only inside the backbone
factories that build pretrained networks, and huggingface_hub only when a name of
``ganblocks.t2i`` (the text-to-image generator) is first used.
"""

from typing import Any

__version__ = "0.1.0"

# --- generator blocks ---
from .generator import (
    EqualLinear as EqualLinear,
    bias_act as bias_act,
    FIR_TAPS as FIR_TAPS,
    NEAREST_TAPS as NEAREST_TAPS,
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
    attention as attention,
    grid_positions as grid_positions,
    translate as translate,
    TextCrossAttention as TextCrossAttention,
    SpatialSelfAttention as SpatialSelfAttention,
)
# --- end generator blocks ---

# --- discriminator, losses and backbones ---
from .discriminator import (
    DINOFeatureDiscriminator as DINOFeatureDiscriminator,
    DiffAugment as DiffAugment,
    DiscriminatorHead as DiscriminatorHead,
    LocalBatchNorm as LocalBatchNorm,
    MultiHeadDiscriminator as MultiHeadDiscriminator,
    PixelDiscriminator as PixelDiscriminator,
    blur_kernel as blur_kernel,
    blur_sigma as blur_sigma,
    diff_augment as diff_augment,
    gaussian_blur as gaussian_blur,
    local_batch_norm as local_batch_norm,
)
from .losses import (
    CLIPGuidanceLoss as CLIPGuidanceLoss,
    diversity_loss as diversity_loss,
    hinge_d_loss as hinge_d_loss,
    hinge_d_loss_fake as hinge_d_loss_fake,
    hinge_d_loss_real as hinge_d_loss_real,
    hinge_g_loss as hinge_g_loss,
    spherical_distance as spherical_distance,
)
from .backbones import (
    CLIPTextEncoder as CLIPTextEncoder,
    TextEncoding as TextEncoding,
    FrozenCLIP as FrozenCLIP,
    ViTFeatureExtractor as ViTFeatureExtractor,
    WeightsError as WeightsError,
    create_clip as create_clip,
    create_dino_backbone as create_dino_backbone,
    default_taps as default_taps,
)
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

# --- data (ShapesT2I) ---
from .data import (
    ShapesT2I as ShapesT2I,
    EvalPrompt as EvalPrompt,
    make_eval_prompts as make_eval_prompts,
    caption_for as caption_for,
    parse_caption as parse_caption,
    render_caption as render_caption,
    score_image as score_image,
    score_images as score_images,
    diversity as diversity,
    uint8_to_float as uint8_to_float,
    float_to_uint8 as float_to_uint8,
)
# --- end data ---

# --- metrics (light: extractors import torch-fidelity / timm / open_clip when built) ---
from .metrics import (
    FeatureStats as FeatureStats,
    feature_statistics as feature_statistics,
    frechet_distance as frechet_distance,
    frechet_distance_from_features as frechet_distance_from_features,
    kid as kid,
    clip_score as clip_score,
    create_inception as create_inception,
    create_dino_features as create_dino_features,
    extract_features as extract_features,
    StatsCache as StatsCache,
    evaluate_metrics as evaluate_metrics,
)
# --- end metrics ---

# --- text-to-image generator (ganblocks.t2i; imported on first use, it needs huggingface_hub) ---
_T2I = ("GeneratorConfig", "TextToImageGenerator", "image_grid", "save_grid", "to_pil", "to_uint8")


# ONNX export (ganblocks.export; onnx and onnxruntime are imported when used)
_EXPORT = ("export_onnx", "OnnxTextToImage")


def __getattr__(name: str) -> Any:
    if name in _T2I:
        from . import t2i

        return getattr(t2i, name)
    if name in _EXPORT:
        from . import export

        return getattr(export, name)
    raise AttributeError(f"module 'ganblocks' has no attribute {name!r}")
# --- end text-to-image generator ---

__all__: list[str] = [
    "__version__",
    "GeneratorConfig",
    "TextToImageGenerator",
    "image_grid",
    "save_grid",
    "to_pil",
    "to_uint8",
    "export_onnx",
    "OnnxTextToImage",
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
    "NEAREST_TAPS",
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
    "attention",
    "grid_positions",
    "translate",
    "TextCrossAttention",
    "SpatialSelfAttention",
    "ShapesT2I",
    "EvalPrompt",
    "make_eval_prompts",
    "caption_for",
    "parse_caption",
    "render_caption",
    "score_image",
    "score_images",
    "diversity",
    "uint8_to_float",
    "float_to_uint8",
    "DINOFeatureDiscriminator",
    "DiffAugment",
    "DiscriminatorHead",
    "LocalBatchNorm",
    "MultiHeadDiscriminator",
    "PixelDiscriminator",
    "blur_kernel",
    "blur_sigma",
    "diff_augment",
    "gaussian_blur",
    "local_batch_norm",
    "CLIPGuidanceLoss",
    "diversity_loss",
    "hinge_d_loss",
    "hinge_d_loss_fake",
    "hinge_d_loss_real",
    "hinge_g_loss",
    "spherical_distance",
    "CLIPTextEncoder",
    "TextEncoding",
    "FrozenCLIP",
    "ViTFeatureExtractor",
    "WeightsError",
    "create_clip",
    "create_dino_backbone",
    "default_taps",
    "FeatureStats",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_from_features",
    "kid",
    "clip_score",
    "create_inception",
    "create_dino_features",
    "extract_features",
    "StatsCache",
    "evaluate_metrics",
]
