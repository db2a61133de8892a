"""FIR filtering and FIR upsampling: they live in `ganblocks.ops.upfirdn`, re-exported here."""

from ..ops.upfirdn import (
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
    "FIR_TAPS", "NEAREST_TAPS", "UPSAMPLE_TAPS", "UpsampleKind", "fir_taps", "fir_filter2d",
    "upsample2d", "upsample_padding", "upsample_taps",
]
