"""The blur of the discriminator's input, faded out early in training (see `blur_sigma`).

`gaussian_blur` and `blur_kernel` live in `ganblocks.ops` and are re-exported here.
"""

from ..ops.blur import blur_kernel as blur_kernel, gaussian_blur as gaussian_blur

__all__ = ["gaussian_blur", "blur_sigma", "blur_kernel"]


def blur_sigma(images_seen: int | float, *, sigma_start: float = 32.0, fade_kimg: float = 1000.0) -> float:
    """The blur width after ``images_seen`` training images: a linear fade to 0.

    $$ \\sigma = \\sigma_0 \\max\\!\\left(0,\\; 1 - \\frac{\\text{images\\_seen}}{1000\\,\\text{fade\\_kimg}}\\right) $$

    Args:
        images_seen: Real images shown to the discriminator so far.
        sigma_start: $\\sigma_0$, the width at the start.
        fade_kimg: Thousands of images over which the blur fades out (0: no blur at all).
    """
    if images_seen < 0 or sigma_start < 0 or fade_kimg < 0:
        raise ValueError("images_seen, sigma_start and fade_kimg must be non-negative")
    if fade_kimg == 0:
        return 0.0
    return float(sigma_start * max(0.0, 1.0 - images_seen / (fade_kimg * 1000)))
