"""Frozen pretrained networks, built by factories: the discriminator's ViT and CLIP.

timm and open_clip are imported only when a factory (or adaptor) is called.
"""

from .clip import CLIPTextEncoder as CLIPTextEncoder
from .clip import TextEncoding as TextEncoding
from .clip import FrozenCLIP as FrozenCLIP
from .clip import create_clip as create_clip
from ._frozen import exclude_from_state_dict as exclude_from_state_dict
from ._weights import Pretrained as Pretrained
from ._weights import WeightsError as WeightsError
from ._weights import WeightsFileNotFoundError as WeightsFileNotFoundError
from ._weights import WeightsUnavailableError as WeightsUnavailableError
from ._weights import weights_argument as weights_argument
from ._weights import host_reachable as host_reachable
from ._weights import hub_offline as hub_offline
from ._weights import hub_reachable as hub_reachable
from ._weights import load_strict as load_strict
from ._weights import read_weights_file as read_weights_file
from .dino import ViTFeatureExtractor as ViTFeatureExtractor
from .dino import create_dino_backbone as create_dino_backbone
from .dino import default_taps as default_taps

__all__ = [
    "CLIPTextEncoder",
    "TextEncoding",
    "FrozenCLIP",
    "ViTFeatureExtractor",
    "WeightsError",
    "WeightsFileNotFoundError",
    "WeightsUnavailableError",
    "create_clip",
    "create_dino_backbone",
    "default_taps",
    "exclude_from_state_dict",
    "host_reachable",
    "hub_offline",
    "hub_reachable",
    "load_strict",
    "Pretrained",
    "read_weights_file",
    "weights_argument",
]
