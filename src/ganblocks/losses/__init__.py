"""Losses: the hinge GAN losses, CLIP guidance and a mode-seeking diversity term."""

from .clip_guidance import CLIPGuidanceLoss as CLIPGuidanceLoss
from .clip_guidance import spherical_distance as spherical_distance
from .diversity import diversity_loss as diversity_loss
from .hinge import hinge_d_loss as hinge_d_loss
from .hinge import hinge_d_loss_fake as hinge_d_loss_fake
from .hinge import hinge_d_loss_real as hinge_d_loss_real
from .hinge import hinge_g_loss as hinge_g_loss

__all__ = [
    "CLIPGuidanceLoss",
    "diversity_loss",
    "hinge_d_loss",
    "hinge_d_loss_fake",
    "hinge_d_loss_real",
    "hinge_g_loss",
    "spherical_distance",
]
