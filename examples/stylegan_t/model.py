"""Build StyleGAN-T's networks from a Config, using only public ganblocks blocks.

- ``FrozenCLIP``: the frozen text/image encoder. It embeds captions for the discriminator and the
  CLIP guidance loss, and is the source of the generator's own (trainable in stage 2) copy of
  its text tower.
- ``build_generator``: the library's ``TextToImageGenerator`` of ``cfg.generator`` (text encoder
  -> c; mapping(z, c) -> w = [MLP(z), c]; synthesis(w) -> image), its text encoder copied from the CLIP.
- ``DINOFeatureDiscriminator``: frozen ViT feature network + trainable multi-head discriminator.
"""

import torch
from torch import nn

import ganblocks
from config import Config
from ganblocks.backbones import weights_argument  # a weights error names the config field


def _weights_arg(value: str | None, *, hub_word: str | None = None) -> bool | str:
    """Map a config weights field to a factory's ``pretrained`` argument."""
    if value is None or value.lower() in ("none", "random"):
        return False
    if hub_word is not None and value == hub_word:
        return True
    return value


def create_frozen_clip(cfg: Config, device: torch.device | str = "cpu") -> "ganblocks.FrozenCLIP":
    """The frozen CLIP of the run. Random weights are drawn from ``backbone_seed`` so they are
    the same in every process and on every resume."""
    weights = cfg.clip_weights
    if weights == "shapes":
        if cfg.clip_model != "tiny":
            raise ValueError("clip_weights 'shapes' is the pretrained tiny CLIP: use --clip-model tiny")
        from pretrain import ensure_shapes_clip

        weights = str(ensure_shapes_clip({"steps": cfg.clip_pretrain_steps}))
    elif weights == "emoji":
        if cfg.clip_model != "tiny":
            raise ValueError("clip_weights 'emoji' is the pretrained tiny CLIP: use --clip-model tiny")
        from pretrain import ensure_emoji_clip

        weights = str(ensure_emoji_clip(cfg.data))
    with torch.random.fork_rng(devices=[]), weights_argument("clip_weights"):
        torch.manual_seed(cfg.backbone_seed)
        clip = ganblocks.create_clip(cfg.clip_model, pretrained=_weights_arg(weights))
    return clip.to(device)


def create_dino(cfg: Config, clip: "ganblocks.FrozenCLIP", device: torch.device | str = "cpu") -> nn.Module:
    """The discriminator's frozen feature network (random weights drawn from ``backbone_seed``).

    ``dino_model == "clip"`` taps the frozen CLIP's image tower instead (shared, not copied).
    """
    if cfg.dino_model == "clip":
        return ganblocks.ViTFeatureExtractor.from_open_clip(clip.model.visual).to(device)
    with torch.random.fork_rng(devices=[]), weights_argument("dino_weights"):
        torch.manual_seed(cfg.backbone_seed + 1)
        net = ganblocks.create_dino_backbone(
            cfg.dino_model, pretrained=_weights_arg(cfg.dino_weights, hub_word="hub"))
    return net.to(device)


Generator = ganblocks.TextToImageGenerator
"""The generator class (the library's): text encoder -> c; mapping(z, c) -> w; synthesis(w)."""


# --8<-- [start:build]
def build_generator(cfg: Config, clip: "ganblocks.FrozenCLIP") -> "ganblocks.TextToImageGenerator":
    """The generator of ``cfg.generator``; its text encoder starts as a copy of the frozen CLIP's."""
    return ganblocks.TextToImageGenerator(cfg.generator, text_encoder=clip.text_encoder_copy())


def build_discriminator(cfg: Config, backbone: nn.Module, c_dim: int) -> nn.Module:
    """The projected ViT-feature discriminator of a config."""
    heads = ganblocks.MultiHeadDiscriminator(
        backbone.channels, c_dim, cmap_dim=cfg.d_cmap_dim, kernel_size=cfg.d_kernel_size,
        virtual_batch=cfg.d_virtual_batch,
        compute_dtype=torch.bfloat16 if cfg.d_head_precision == "bf16" else None)
    augment = ganblocks.DiffAugment(
        brightness=cfg.augment_brightness, saturation=cfg.augment_saturation,
        contrast=cfg.augment_contrast, translation=cfg.augment_translation,
        cutout=cfg.augment_cutout)
    return ganblocks.DINOFeatureDiscriminator(backbone, heads, augment=augment)


# --8<-- [end:build]


def count_parameters(module: nn.Module, *, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
