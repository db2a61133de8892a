"""The super-resolution stage (progressive growing): grow a trained generator to a higher resolution.

    python examples/stylegan_t/train.py --stage superres --resume runs/x --resolution 64 --out runs/x64
    python examples/stylegan_t/train.py --stage superres --resume runs/x --resolution 64 --freeze-lower ...

The synthesis blocks are keyed by resolution (``b8``, ``b16``, ...) and their widths depend on
the resolution only, so the blocks of the trained network fit the larger one unchanged. Carried
over from the checkpoint, with every shape checked: the generator and its EMA (mapping, text
encoder, Fourier input, every block with its toRGB layer) and the discriminator. The blocks above
the old resolution start from their initialisation; optimizer state starts fresh.

What trains: everything (the paper), or with ``--freeze-lower`` only the new blocks and every
toRGB layer (the official release's ``freeze64``); the mapping network and the Fourier input
then stay fixed too.
"""

from pathlib import Path
from typing import Any

from torch import nn

from config import Config
from ganblocks.training import load_module_weights, read_checkpoint_meta


def new_block_prefixes(G: nn.Module, lower_resolution: int) -> tuple[str, ...]:
    """State-dict prefixes of the synthesis blocks above ``lower_resolution``."""
    return tuple(f"synthesis.blocks.b{r}." for r in G.synthesis.block_resolutions if r > lower_resolution)


def carry_over(path: Path, G: nn.Module, G_ema: nn.Module, D: nn.Module) -> dict[str, Any]:
    """Load a lower-resolution checkpoint's G, G_ema and D into the grown networks.

    Returns:
        The checkpoint's meta.

    Raises:
        CheckpointError: A damaged checkpoint, or weights that do not fit (another width, another
            text encoder); nothing was loaded into the network that failed.
    """
    meta = read_checkpoint_meta(path)
    new_blocks = new_block_prefixes(G, Config.from_dict(meta["config"]).resolution)
    for name, module in (("G", G), ("G_ema", G_ema)):
        load_module_weights(path, name, module, allow_missing_prefixes=new_blocks)
    load_module_weights(path, "D", D)
    return meta


def superres_trainable(G: nn.Module, *, lower_resolution: int, freeze_lower: bool) -> None:
    """Set ``requires_grad`` of G's mapping and synthesis for the super-resolution stage."""
    G.mapping.requires_grad_(not freeze_lower)
    G.synthesis.requires_grad_(True)
    if freeze_lower:
        G.synthesis.input.requires_grad_(False)
        for r, block in zip(G.synthesis.block_resolutions, G.synthesis.blocks.values()):
            if r <= lower_resolution:
                block.requires_grad_(False)
                block.torgb.requires_grad_(True)
