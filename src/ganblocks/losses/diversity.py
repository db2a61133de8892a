"""A mode-seeking term: pairs of samples of one condition are pushed apart.

A conditional generator trained against a per-image critic may map every latent of a condition
to the same image: each sample is plausible on its own, so the critic has nothing to object to
(mode collapse per condition). Mode-seeking GANs (Mao et al. 2019) and diversity-sensitive
conditional GANs (Yang et al. 2019) add a term that rewards the distance between two samples
``G(z1, c)`` and ``G(z2, c)`` of one condition.

This form measures the distance after a Gaussian blur and takes its logarithm:

$$ L_\\text{div} = -\\operatorname{mean}_\\text{pairs}
   \\log\\big(\\epsilon + \\operatorname{mean}_\\text{pixels} |B_\\sigma(x_1) - B_\\sigma(x_2)|\\big) $$

- **The blur** removes what two samples differ in pixel by pixel (noise, texture, the exact
  edge) and keeps what they differ in at the scale of ``sigma``: where objects are and how
  large. Pixel-level difference is easy to produce and is not the diversity a user wants.
- **The logarithm** makes the term scale-free: doubling a pair's distance gains the same,
  whatever the images' typical distance, so its weight does not depend on the data set's
  contrast, and the push is strongest on the pairs that are most collapsed. The latent
  distance of the mode-seeking ratio only adds a constant under the logarithm (no gradient
  reaches the latents' distance), so it is left out.
"""

from .._typing import Float, Tensor
from ..ops.blur import gaussian_blur

__all__ = ["diversity_loss"]


def diversity_loss(
    first: Float[Tensor, "n c h w"],
    second: Float[Tensor, "n c h w"],
    *,
    sigma: float = 2.0,
    eps: float = 1e-3,
) -> Float[Tensor, ""]:
    """The mode-seeking loss of image pairs that share a condition (lower: more diverse).

    Args:
        first: One sample per pair.
        second: The other sample of each pair, generated from the same condition and another
            latent.
        sigma: Standard deviation in pixels of the Gaussian blur both images get before their
            distance is taken (0: no blur).
        eps: Added to each distance inside the logarithm, so identical pairs have a finite loss.

    Returns:
        ``-mean log(eps + d)`` over the pairs, ``d`` the mean absolute difference of a blurred pair.
    """
    if first.shape != second.shape:
        raise ValueError(f"diversity_loss needs pairs of equal shape, got {tuple(first.shape)} and "
                         f"{tuple(second.shape)}")
    if first.shape[0] == 0:
        raise ValueError("diversity_loss needs at least one pair, got an empty batch")
    if sigma < 0 or eps <= 0:
        raise ValueError(f"diversity_loss needs sigma >= 0 and eps > 0, got sigma={sigma}, eps={eps}")
    blurred = gaussian_blur(first.float(), sigma), gaussian_blur(second.float(), sigma)
    distance = (blurred[0] - blurred[1]).abs().flatten(1).mean(dim=1)
    return -(distance + eps).log().mean()
