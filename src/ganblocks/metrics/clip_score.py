"""CLIP score: how well generated images match their captions, as seen by a CLIP model.

The value depends entirely on the CLIP model (and its weights) that computes it, so reports
always carry the model's name beside it (see [`evaluate_metrics`][ganblocks.metrics.report.evaluate_metrics]).
"""

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import torch

from .._typing import Float, Shaped, Tensor, check_shape

__all__ = ["ImageTextEncoder", "clip_similarities", "clip_score"]


@runtime_checkable
class ImageTextEncoder(Protocol):
    """What the CLIP score needs: unit-norm embeddings of images in $[-1, 1]$ and of prompts
    ([`FrozenCLIP`][ganblocks.backbones.clip.FrozenCLIP] is one)."""

    def encode_image(self, images: Tensor) -> Tensor: ...

    def encode_text(self, prompts: Sequence[str]) -> Tensor: ...


def _device(encoder: ImageTextEncoder) -> torch.device | None:
    parameters = getattr(encoder, "parameters", None)
    if parameters is None:
        return None
    first = next(iter(parameters()), None)
    return None if first is None else first.device


@torch.inference_mode()
def clip_similarities(
    clip: ImageTextEncoder,
    images: Shaped[Tensor, "n 3 h w"],
    captions: Sequence[str],
    *,
    batch_size: int = 64,
) -> Float[Tensor, " n"]:
    """Cosine similarity of each image with its caption, $\\cos(E_I(x_i), E_T(t_i))$.

    Args:
        clip: The encoder, e.g. a [`FrozenCLIP`][ganblocks.backbones.clip.FrozenCLIP].
        images: Images, ``uint8`` (0-255) or float in $[-1, 1]$, any size (the encoder resizes).
        captions: One caption per image.
        batch_size: Images per forward pass.

    Returns:
        One cosine per image, float32 on the CPU.
    """
    check_shape("images", images, (None, 3, None, None))
    if isinstance(captions, str):
        raise TypeError("captions must be a sequence of strings, one per image, not one str")
    captions = list(captions)
    if len(captions) != images.shape[0]:
        raise ValueError(f"got {images.shape[0]} images but {len(captions)} captions; pass one caption per image")
    if not captions:
        raise ValueError("the CLIP score needs at least one image")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    device = _device(clip)
    out = []
    for start in range(0, len(captions), batch_size):
        batch = images[start:start + batch_size]
        if batch.dtype == torch.uint8:
            batch = batch.float() / 127.5 - 1.0
        if device is not None:
            batch = batch.to(device)
        a = clip.encode_image(batch).float()
        b = clip.encode_text(captions[start:start + batch_size]).float()
        a = a / a.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        b = b / b.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        out.append((a * b).sum(dim=-1).cpu())
    return torch.cat(out)


def clip_score(
    clip: ImageTextEncoder,
    images: Shaped[Tensor, "n 3 h w"],
    captions: Sequence[str],
    *,
    batch_size: int = 64,
) -> float:
    """Mean cosine similarity between image and caption embeddings.

    $$ \\mathrm{CLIPScore} = \\frac{1}{n} \\sum_i \\frac{\\langle E_I(x_i), E_T(t_i) \\rangle}
    {\\lVert E_I(x_i) \\rVert \\, \\lVert E_T(t_i) \\rVert} \\in [-1, 1] $$

    This is the plain mean cosine (some papers report $100 \\max(\\cos, 0)$ instead; multiply
    by 100 to compare when no image scores below 0).

    Args:
        clip: The encoder, e.g. a [`FrozenCLIP`][ganblocks.backbones.clip.FrozenCLIP].
        images: Images, ``uint8`` (0-255) or float in $[-1, 1]$.
        captions: One caption per image.
        batch_size: Images per forward pass.
    """
    return float(clip_similarities(clip, images, captions, batch_size=batch_size).mean())
