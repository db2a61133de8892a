"""A text-to-image generator that loads from any script: build, train, save, share, generate.

[`TextToImageGenerator`][ganblocks.t2i.generator.TextToImageGenerator] is a text encoder, a
mapping and a synthesis network; ``from_pretrained`` reads a saved folder, a training run or a Hugging
Face Hub repository, ``save_pretrained`` writes a shareable folder with a model card. The image
helpers clamp raw outputs to $[-1, 1]$ and write pixels.
"""

from .config import GeneratorConfig as GeneratorConfig
from .generator import TextToImageGenerator as TextToImageGenerator
from .images import image_grid as image_grid
from .images import save_grid as save_grid
from .images import to_pil as to_pil
from .images import to_uint8 as to_uint8

__all__ = ["GeneratorConfig", "TextToImageGenerator", "image_grid", "save_grid", "to_pil", "to_uint8"]
