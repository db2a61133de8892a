"""FIR filtering and FIR upsampling: they live in `ganblocks.ops.upfirdn`, re-exported here."""

from ..ops import upfirdn as _ops_upfirdn
from ..ops.upfirdn import *  # noqa: F403 - the same names, from their home

__all__ = list(_ops_upfirdn.__all__)
