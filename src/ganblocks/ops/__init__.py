"""Image operations shared by the generator, the discriminator and the losses.

FIR filtering and FIR upsampling (`upfirdn`: StyleGAN's $[1, 3, 3, 1]$ low-pass and the
nearest-neighbour box filter) and the separable Gaussian blur (`blur`). They hold no parameters
and import nothing else of the library, so any block may use them.
"""

from .blur import blur_kernel as blur_kernel, gaussian_blur as gaussian_blur
from .upfirdn import (
    FIR_TAPS as FIR_TAPS,
    NEAREST_TAPS as NEAREST_TAPS,
    UPSAMPLE_TAPS as UPSAMPLE_TAPS,
    UpsampleKind as UpsampleKind,
    fir_filter2d as fir_filter2d,
    fir_taps as fir_taps,
    upsample2d as upsample2d,
    upsample_padding as upsample_padding,
    upsample_taps as upsample_taps,
)

__all__ = [
    "FIR_TAPS",
    "NEAREST_TAPS",
    "UPSAMPLE_TAPS",
    "UpsampleKind",
    "blur_kernel",
    "fir_filter2d",
    "fir_taps",
    "gaussian_blur",
    "upsample2d",
    "upsample_padding",
    "upsample_taps",
]
