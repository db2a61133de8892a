"""ganblocks: small, typed, tested GAN building blocks, and StyleGAN-T built from them.

``import ganblocks`` is light: timm and open_clip are imported only inside the backbone
factories that build pretrained networks.
"""

__version__ = "0.1.0"

# --- generator blocks ---
# --- end generator blocks ---

# --- discriminator, losses and backbones ---
# --- end discriminator, losses and backbones ---

# --- training utilities (checkpoints, EMA) ---
# --- end training utilities ---

__all__: list[str] = [
    "__version__",
]
