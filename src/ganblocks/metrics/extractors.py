"""Pluggable feature extractors for the Fréchet and kernel distances, and batched extraction.

An extractor is any module that maps images in $[-1, 1]$ to one feature vector per image and
says what it is (``name``, ``feature_dim``). Two come with ganblocks:

- [`InceptionV3Features`][ganblocks.metrics.inception.InceptionV3Features]: the standard FID network;
- [`DINOFeatures`][ganblocks.metrics.extractors.DINOFeatures]: the class token of a DINO ViT (FD-DINO),
  built on [`create_dino_backbone`][ganblocks.backbones.dino.create_dino_backbone].
"""

import hashlib
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn

from .._typing import Float, Shaped, Tensor, check_shape
from ..backbones import Pretrained
from ..backbones.dino import DINO_DEFAULT, ViTFeatureExtractor, create_dino_backbone

__all__ = [
    "FeatureExtractor",
    "DINOFeatures",
    "create_dino_features",
    "extract_features",
    "weights_fingerprint",
]


@runtime_checkable
class FeatureExtractor(Protocol):
    """What the metrics need of a feature network: images in $[-1, 1]$ to ``[b, feature_dim]``."""

    name: str
    feature_dim: int

    def __call__(self, images: Tensor) -> Tensor: ...


def weights_fingerprint(module: nn.Module) -> str:
    """A short hash of a module's parameters and buffers (names, shapes, dtypes and values).

    Two extractors with the same fingerprint compute the same features, so it keys cached
    statistics: random or fine-tuned weights never reuse the statistics of other weights.
    """
    digest = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        value = value.detach().to("cpu").contiguous()
        digest.update(f"{key}:{value.dtype}:{list(value.shape)};".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:12]


class DINOFeatures(nn.Module):
    """The class token of a frozen ViT (FD-DINO), for images in $[-1, 1]$.

    $$ f(x) = \\mathrm{LN}\\big(\\mathrm{ViT}(\\hat x)\\big)_{\\text{cls}}, \\qquad
    \\hat x = \\frac{\\operatorname{resize}((x + 1)/2) - \\mu}{\\sigma} $$

    with a bicubic, antialiased resize to the network's input size and its normalisation
    $\\mu, \\sigma$: the network's own pooled pre-logits output (timm ``forward_head(...,
    pre_logits=True)``), i.e. the final-norm class token for DINO ViTs.

    Args:
        backbone: A timm ViT wrapped by [`create_dino_backbone`][ganblocks.backbones.dino.create_dino_backbone]
            (its taps are not used).
        name: What the features are called in reports and cache keys.
    """

    def __init__(self, backbone: ViTFeatureExtractor, *, name: str = "dino") -> None:
        super().__init__()
        vit = getattr(backbone, "vit", None)
        if not all(hasattr(vit, a) for a in ("forward_features", "forward_head")):
            raise TypeError("backbone must wrap a timm VisionTransformer (built by create_dino_backbone)")
        self.backbone = backbone
        self.name = name
        self.image_size = int(backbone.image_size)
        self.feature_dim = int(backbone.embed_dim)
        self.requires_grad_(False)
        self.train(False)

    def train(self, mode: bool = True) -> "DINOFeatures":
        """Stay in eval mode whatever ``mode`` says: the network is frozen."""
        return super().train(False)

    def forward(self, images: Float[Tensor, "b 3 h w"]) -> Float[Tensor, "b {self.feature_dim}"]:
        """Class-token features of ``images`` in $[-1, 1]$ (any size)."""
        check_shape("images", images, (None, 3, None, None))
        backbone = self.backbone
        x = (images.to(backbone.mean.dtype) + 1.0) / 2.0
        if x.shape[-2:] != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bicubic",
                              align_corners=False, antialias=True)
        x = (x - backbone.mean[:, None, None]) / backbone.std[:, None, None]
        vit = backbone.vit
        return vit.forward_head(vit.forward_features(x), pre_logits=True)


def create_dino_features(
    name: str = DINO_DEFAULT,
    *,
    pretrained: Pretrained = True,
    seed: int = 0,
    device: torch.device | str | None = None,
    **tiny: int,
) -> DINOFeatures:
    """Build the FD-DINO extractor on [`create_dino_backbone`][ganblocks.backbones.dino.create_dino_backbone].

    Args:
        name: A timm ViT name (default DINO ViT-S/16; e.g. ``vit_large_patch14_dinov2.lvd142m``
            for the DINOv2 network of the FD-DINO literature) or ``"tiny"``.
        pretrained: As for ``create_dino_backbone``: ``True``, a weights file, or ``False``/``None``
            for random weights.
        seed: Seed of random weights (so that two runs build the same network).
        device: Where to put the network.
        **tiny: Size overrides of the tiny preset (``img_size``, ``patch_size``, ...).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        backbone = create_dino_backbone(name, pretrained=pretrained, device=device, **tiny)
    label = "dino" if name == DINO_DEFAULT else f"dino-{name}"
    return DINOFeatures(backbone, name=label)


def _batches(images: Tensor | Iterable[Tensor], batch_size: int) -> Iterable[Tensor]:
    if isinstance(images, Tensor):
        check_shape("images", images, (None, 3, None, None))
        for start in range(0, images.shape[0], batch_size):
            yield images[start:start + batch_size]
    else:
        for batch in images:
            if not isinstance(batch, Tensor):
                raise TypeError(f"images must be a tensor or an iterable of tensors, got {type(batch).__name__}")
            check_shape("images batch", batch, (None, 3, None, None))
            yield batch


@torch.inference_mode()
def extract_features(
    extractor: FeatureExtractor,
    images: Shaped[Tensor, "n 3 h w"] | Iterable[Tensor],
    *,
    batch_size: int = 64,
) -> Float[Tensor, "n d"]:
    """Features of many images, in batches, as one float32 CPU tensor ``[n, feature_dim]``.

    Args:
        extractor: Any [`FeatureExtractor`][ganblocks.metrics.extractors.FeatureExtractor].
        images: A tensor of images or an iterable of batches; ``uint8`` (0-255) or float in
            $[-1, 1]$. Batches are moved to the extractor's device.
        batch_size: Images per forward pass when ``images`` is one tensor.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    device = None
    if isinstance(extractor, nn.Module):
        device = next(iter(extractor.parameters()), torch.empty(0)).device
    out: list[Tensor] = []
    for batch in _batches(images, batch_size):
        if batch.dtype == torch.uint8:
            batch = batch.float() / 127.5 - 1.0
        features = extractor(batch.to(device) if device is not None else batch)
        out.append(features.float().cpu())
    if not out:
        raise ValueError("no images to extract features from")
    return torch.cat(out)

