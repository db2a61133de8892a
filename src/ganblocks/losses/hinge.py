"""Hinge losses of StyleGAN-T's discriminator and generator."""

import torch.nn.functional as F

from .._typing import Float, Tensor

__all__ = ["hinge_d_loss", "hinge_d_loss_real", "hinge_d_loss_fake", "hinge_g_loss"]


def hinge_d_loss_real(real_logits: Float[Tensor, "*shape"]) -> Float[Tensor, ""]:
    """The discriminator's loss on reals, $\\operatorname{mean}\\, \\max(0, 1 - D(x_{\\text{real}}, c))$.

    The mean runs over every logit (batch and tokens).
    """
    return F.relu(1 - real_logits).mean()


def hinge_d_loss_fake(fake_logits: Float[Tensor, "*shape"]) -> Float[Tensor, ""]:
    """The discriminator's loss on fakes, $\\operatorname{mean}\\, \\max(0, 1 + D(G(z, c), c))$.

    The mean runs over every logit (batch and tokens).
    """
    return F.relu(1 + fake_logits).mean()


def hinge_d_loss(real_logits: Float[Tensor, "*shape"], fake_logits: Float[Tensor, "*shape2"]) -> Float[Tensor, ""]:
    """The discriminator's hinge loss on reals and fakes together.

    $$ L_D = \\operatorname{mean} \\max(0, 1 - D(x_{\\text{real}}, c))
           + \\operatorname{mean} \\max(0, 1 + D(G(z, c), c)) $$
    Each mean runs over batch and tokens, so the loss does not scale with either. StyleGAN-T
    sends reals and fakes through D in separate calls; add
    [`hinge_d_loss_real`][ganblocks.losses.hinge.hinge_d_loss_real] and
    [`hinge_d_loss_fake`][ganblocks.losses.hinge.hinge_d_loss_fake] of each call to get the same.

    Args:
        real_logits: The discriminator's logits for real images.
        fake_logits: Its logits for generated images (any shape).
    """
    return hinge_d_loss_real(real_logits) + hinge_d_loss_fake(fake_logits)


def hinge_g_loss(fake_logits: Float[Tensor, "*shape"]) -> Float[Tensor, ""]:
    """The generator's loss, $L_G = -\\operatorname{mean}\\, D(G(z, c), c)$ over batch and tokens.

    Args:
        fake_logits: The discriminator's logits for generated images.
    """
    return -fake_logits.mean()
