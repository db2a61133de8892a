"""Discriminator blocks: local batch norm, heads, DiffAugment, input blur, the feature discriminator,
a trainable pixel-space critic."""

from .augment import DiffAugment as DiffAugment
from .augment import diff_augment as diff_augment
from .blur import blur_kernel as blur_kernel
from .blur import blur_sigma as blur_sigma
from .blur import gaussian_blur as gaussian_blur
from .feature_discriminator import DINOFeatureDiscriminator as DINOFeatureDiscriminator
from .heads import DiscriminatorHead as DiscriminatorHead
from .heads import MultiHeadDiscriminator as MultiHeadDiscriminator
from .local_batchnorm import LocalBatchNorm as LocalBatchNorm
from .local_batchnorm import local_batch_norm as local_batch_norm
from .pixel import PixelDiscriminator as PixelDiscriminator

__all__ = [
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
]
