"""CLIP guidance: the squared spherical distance between image and caption embeddings."""

import torch
import torch.nn.functional as F
from torch import nn

from .._typing import Float, Tensor, check_shape
from ..backbones import exclude_from_state_dict
from ..backbones.clip import FrozenCLIP

__all__ = ["spherical_distance", "CLIPGuidanceLoss"]


def _safe_norm(x: Tensor) -> Tensor:
    # Euclidean norm over the last axis whose gradient at 0 is 0 instead of NaN
    sq = x.square().sum(dim=-1)
    positive = sq > 0
    return torch.where(positive, torch.where(positive, sq, torch.ones_like(sq)).sqrt(), torch.zeros_like(sq))


def spherical_distance(a: Float[Tensor, "*batch d"], b: Float[Tensor, "*batch d"]) -> Float[Tensor, "*batch"]:
    """Great-circle distance between unit vectors, finite in value and gradient everywhere.

    $$ \\theta(a, b) = 2 \\operatorname{atan2}(\\lVert a - b \\rVert, \\lVert a + b \\rVert)
       = \\arccos \\langle a, b \\rangle \\in [0, \\pi] $$
    for $\\lVert a \\rVert = \\lVert b \\rVert = 1$. Unlike $\\arccos$, it never sees an argument
    rounded past $\\pm 1$, and its gradient stays finite at $a = b$ and $a = -b$ (where the norm
    of a zero vector is given a zero gradient).

    Args:
        a: Unit vectors.
        b: Unit vectors, same shape.
    """
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {list(a.shape)} and {list(b.shape)}")
    return 2 * torch.atan2(_safe_norm(a - b), _safe_norm(a + b))


class CLIPGuidanceLoss(nn.Module):
    """CLIP guidance: generated images should embed close to their captions.

    $$ L = \\frac{1}{b} \\sum_i \\theta\\big(E_I(\\operatorname{crop}(x_i)),\\, e_i\\big)^2
       \\in [0, \\pi^2] $$
    with $E_I$ the frozen CLIP image encoder (area resize, CLIP normalisation, unit norm),
    $\\theta$ the [`spherical_distance`][ganblocks.losses.clip_guidance.spherical_distance] and
    $e_i$ the unit caption embedding. Images larger than ``crop`` are cut to one random
    ``crop``$\\times$``crop`` window (the same for the whole batch). The image tower runs under
    the ambient autocast (e.g. bf16 when training in bf16: a ViT-L/14 is most of the guidance's
    cost); the embeddings are cast to float32 and normalised again, and the distance is computed
    in float32 with autocast switched off. The loss is a mean over the batch, like the hinge losses, so the
    weights of the two do not depend on the batch size. The CLIP model is not part of this
    module's ``state_dict()``.

    Args:
        clip: The frozen CLIP (see [`create_clip`][ganblocks.backbones.clip.create_clip]).
        crop: Side of the random window taken from larger images.
    """

    def __init__(self, clip: FrozenCLIP, *, crop: int = 64) -> None:
        super().__init__()
        if crop < 1:
            raise ValueError(f"crop must be positive, got {crop}")
        self.clip = clip
        self.crop = crop
        self.embed_dim = clip.embed_dim
        exclude_from_state_dict(self, "clip")

    def forward(
        self,
        images: Float[Tensor, "b 3 h w"],
        text_embeds: Float[Tensor, "b {self.embed_dim}"],
        *,
        generator: torch.Generator | None = None,
    ) -> Float[Tensor, ""]:
        """Mean squared spherical distance between the embeddings of ``images`` and ``text_embeds``.

        Args:
            images: Generated images in $[-1, 1]$.
            text_embeds: Unit caption embeddings of the same CLIP.
            generator: Source of randomness for the crop.
        """
        check_shape("images", images, (None, 3, None, None))
        check_shape("text_embeds", text_embeds, (images.shape[0], self.embed_dim))
        x = images
        h, w = x.shape[-2:]
        if h > self.crop or w > self.crop:
            ch, cw = min(h, self.crop), min(w, self.crop)
            where = generator.device if generator is not None else torch.device("cpu")
            u = torch.rand(2, generator=generator, device=where).tolist()
            top, left = int(u[0] * (h - ch + 1)), int(u[1] * (w - cw + 1))
            x = x[:, :, top : top + ch, left : left + cw]
        embeds = self.clip.encode_image(x)
        with torch.autocast(device_type=images.device.type, enabled=False):
            embeds = F.normalize(embeds.float(), dim=-1)
            return spherical_distance(embeds, F.normalize(text_embeds.float(), dim=-1)).square().mean()
