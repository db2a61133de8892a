"""Training utilities: checkpoint I/O, RNG state, and the generator's weight EMA."""

from .checkpoint import CheckpointError as CheckpointError
from .checkpoint import find_checkpoint as find_checkpoint
from .checkpoint import load_checkpoint as load_checkpoint
from .checkpoint import load_module_weights as load_module_weights
from .checkpoint import read_checkpoint_meta as read_checkpoint_meta
from .checkpoint import save_checkpoint as save_checkpoint
from .ema import EMA as EMA
from .ema import ema_beta as ema_beta
from .ema import update_ema as update_ema
from .rng import RNGState as RNGState
from .rng import capture_rng_state as capture_rng_state
from .rng import restore_rng_state as restore_rng_state
from .rng import seed_everything as seed_everything

__all__ = [
    "CheckpointError",
    "EMA",
    "RNGState",
    "capture_rng_state",
    "ema_beta",
    "find_checkpoint",
    "load_checkpoint",
    "load_module_weights",
    "read_checkpoint_meta",
    "restore_rng_state",
    "save_checkpoint",
    "seed_everything",
    "update_ema",
]
