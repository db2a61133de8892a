"""StyleGAN-T's discriminator: trainable heads on the tokens of a frozen ViT."""

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from .._typing import Float, Tensor, check_shape
from ..backbones import exclude_from_state_dict
from ..backbones.dino import ViTFeatureExtractor
from .augment import DiffAugment
from .heads import MultiHeadDiscriminator

__all__ = ["DINOFeatureDiscriminator"]


class DINOFeatureDiscriminator(nn.Module):
    """The StyleGAN-T discriminator: augment, resize, frozen ViT tokens, conditioned heads.

    For images $x \\in [-1, 1]$ and condition $c$,
    $$ D(x, c) = \\text{heads}\\big(\\text{backbone}\\big(\\tfrac{\\operatorname{resize}(\\operatorname{crop}((\\operatorname{aug}(x) + 1)/2)) - \\mu}{\\sigma}\\big), c\\big) $$
    where aug is the optional [`DiffAugment`][ganblocks.discriminator.augment.DiffAugment];
    crop takes, with probability ``crop_prob``, one random window of the backbone's input size
    (same window for the whole batch) when the images are larger; resize is area interpolation
    to the backbone's input size; $\\mu, \\sigma$ are the backbone's normalisation. One logit per
    token of every map: ``num_logits`` per image.

    **The frozen backbone is not part of the discriminator's state.** It is an ordinary
    submodule, so ``.to()``, ``.cuda()`` and ``.half()`` move it along, but a ``state_dict()``
    post-hook removes every ``backbone.*`` entry (checkpoints hold only the heads and never
    depend on a particular copy of DINO), and a ``load_state_dict()`` pre-hook hands the backbone
    its own tensors so they are neither reported missing nor changed; ``backbone.*`` entries in a
    file are reported as unexpected (an error under ``strict=True``) and never loaded. Both hooks
    work wherever the discriminator sits in a larger module. Rebuild the backbone with its
    factory when loading. [`trainable_parameters`][ganblocks.discriminator.feature_discriminator.DINOFeatureDiscriminator.trainable_parameters]
    gives the heads' parameters, for the optimiser, and ``requires_grad_`` only touches them.

    Args:
        backbone: The frozen feature network (see
            [`create_dino_backbone`][ganblocks.backbones.dino.create_dino_backbone]).
        heads: One head per backbone map; their ``channels`` must equal ``backbone.channels``.
        augment: Augmentation of the input (StyleGAN-T: ``DiffAugment()``); ``None``: none.
        crop_prob: Probability of the random crop for images larger than the backbone's input.
    """

    def __init__(
        self,
        backbone: ViTFeatureExtractor,
        heads: MultiHeadDiscriminator,
        *,
        augment: DiffAugment | None = None,
        crop_prob: float = 0.5,
    ) -> None:
        super().__init__()
        if list(heads.channels) != list(backbone.channels):
            raise ValueError(
                f"heads are built for feature maps of widths {list(heads.channels)}, but the "
                f"backbone returns maps of widths {list(backbone.channels)}"
            )
        if not 0.0 <= crop_prob <= 1.0:
            raise ValueError(f"crop_prob must be in [0, 1], got {crop_prob}")
        self.backbone = backbone
        self.heads = heads
        self.augment = augment
        self.crop_prob = crop_prob
        self.c_dim = heads.c_dim
        self.image_size = backbone.image_size
        self.num_logits = len(backbone.channels) * backbone.num_tokens
        exclude_from_state_dict(self, "backbone")

    def trainable_parameters(self) -> Iterator[nn.Parameter]:
        """The parameters to optimise: everything except the frozen backbone (the heads)."""
        for name, param in self.named_parameters():
            if not name.startswith("backbone."):
                yield param

    def requires_grad_(self, requires_grad: bool = True) -> "DINOFeatureDiscriminator":
        """Switch gradients of the trainable parameters only; the backbone stays frozen."""
        for param in self.trainable_parameters():
            param.requires_grad_(requires_grad)
        return self

    def prepare(
        self, images: Float[Tensor, "b 3 h w"], *, generator: torch.Generator | None = None
    ) -> Float[Tensor, "b 3 {self.image_size} {self.image_size}"]:
        """The backbone's input for ``images`` in $[-1, 1]$: augmented, cropped, resized, normalised."""
        check_shape("images", images, (None, 3, None, None))
        x = images if self.augment is None else self.augment(images, generator=generator)
        x = (x + 1) / 2
        size = self.image_size
        h, w = x.shape[-2:]
        if (h > size or w > size) and self.crop_prob > 0:
            where = generator.device if generator is not None else torch.device("cpu")
            draws = torch.rand(3, generator=generator, device=where).tolist()
            if draws[0] < self.crop_prob:
                ch, cw = min(h, size), min(w, size)
                top, left = int(draws[1] * (h - ch + 1)), int(draws[2] * (w - cw + 1))
                x = x[:, :, top : top + ch, left : left + cw]
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="area")
        mean, std = self.backbone.mean.to(x.dtype), self.backbone.std.to(x.dtype)
        return (x - mean[:, None, None]) / std[:, None, None]

    def forward(
        self,
        images: Float[Tensor, "b 3 h w"],
        c: Float[Tensor, "b {self.c_dim}"] | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> Float[Tensor, "b {self.num_logits}"]:
        """Per-token logits for ``images`` in $[-1, 1]$ under condition ``c``.

        Args:
            images: RGB images of any size.
            c: Conditioning vectors (the caption embeddings); may be omitted when ``c_dim == 0``.
            generator: Source of randomness for the augmentation and crop.
        """
        if not isinstance(images, Tensor) or images.ndim != 4 or images.shape[1] != 3:
            shape = list(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise ValueError(f"images has shape {shape}, expected [b, 3, h, w] (RGB in [-1, 1])")
        if c is not None:
            check_shape("c", c, (images.shape[0], self.c_dim))
        elif self.c_dim > 0:
            raise ValueError(f"c is required: the heads are conditioned on c_dim={self.c_dim}")
        return self.heads(self.backbone(self.prepare(images, generator=generator)), c)
