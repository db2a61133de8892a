"""The Inception-v3 feature extractor of FID, from torch-fidelity, with weights from a local file.

FID is only comparable across papers when every detail of the network matches the original
TensorFlow graph: torch-fidelity's ``FeatureExtractorInceptionV3`` reproduces it (with its
bilinear resize to 299 px and input scaling), so ganblocks uses it rather than its own network.
torch-fidelity is an optional dependency (``pip install "ganblocks[metrics]"``), imported only when
an Inception extractor is built. ganblocks reads the weights itself (``weights_only`` / safetensors)
and loads them strictly; nothing is unpickled beyond tensors.
"""

import io
import os
from pathlib import Path

import torch
from torch import nn

from .._typing import Float, Tensor, check_shape
from ..backbones import WeightsError, WeightsFileNotFoundError, host_reachable, load_strict, read_weights_file

__all__ = [
    "INCEPTION_FILENAME",
    "INCEPTION_URL",
    "InceptionV3Features",
    "create_inception",
    "default_inception_path",
]

INCEPTION_FILENAME = "weights-inception-2015-12-05-6726825d.pth"
"""torch-fidelity's conversion of the TensorFlow FID Inception weights (about 95 MB)."""

INCEPTION_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{INCEPTION_FILENAME}"
"""Where to download the FID Inception weights on a machine with internet."""

_TRUTHY = {"1", "true", "yes", "on"}


def default_inception_path() -> Path:
    """Where torch-fidelity (and ganblocks) look for the weights: torch hub's checkpoint folder."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILENAME


def _how_to_get(default: Path) -> str:
    """A ``WeightsError`` hint: ``{given}`` becomes ``weights=`` or a command-line flag."""
    where = f"download {INCEPTION_URL} and copy it to {default}".replace("{", "{{").replace("}", "}}")
    return f"On a machine with internet, {where}, or pass its path: {{given}}PATH."


def _import_fidelity() -> type:
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except ImportError as err:
        raise ImportError(
            "the FID Inception network comes from torch-fidelity: `pip install \"ganblocks[metrics]\"` "
            "(or `pip install torch-fidelity`)"
        ) from err
    return FeatureExtractorInceptionV3


def _network() -> nn.Module:
    """torch-fidelity's Inception-v3 (2048-d pool features) with its default random initialisation.

    Its constructor would read a weights file with an unrestricted ``torch.load``; it is handed an
    empty in-memory mapping instead and skips loading it, and ganblocks loads the real weights.
    """
    base = _import_fidelity()

    class _Network(base):  # type: ignore[misc, valid-type]
        def load_state_dict(self, state_dict, strict=True, assign=False):  # noqa: ANN001, ANN202
            if not state_dict:  # the constructor's placeholder: keep the random initialisation
                return None
            return super().load_state_dict(state_dict, strict=strict, assign=assign)

    placeholder = io.BytesIO()
    torch.save({}, placeholder)
    placeholder.seek(0)
    return _Network("inception-v3-compat", ["2048"], feature_extractor_weights_path=placeholder)


class InceptionV3Features(nn.Module):
    """The 2048-d pool features of the FID Inception-v3, for images in $[-1, 1]$.

    Images are quantised to 8 bits as if saved to PNG, $u = \\mathrm{round}(127.5 (x + 1))$, then
    torch-fidelity's network resizes them to 299 px (bilinear, as TensorFlow 1 did), scales them to
    $(u - 128) / 128$ and returns the average-pooled activations of its last block. The network is
    frozen and stays in eval mode.

    Args:
        network: torch-fidelity's ``FeatureExtractorInceptionV3`` built with
            ``features_list=["2048"]`` (see [`create_inception`][ganblocks.metrics.inception.create_inception]).
    """

    name = "inception-v3"
    feature_dim = 2048

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        if list(getattr(network, "features_list", [])) != ["2048"]:
            raise ValueError(
                "network must be torch-fidelity's FeatureExtractorInceptionV3 with features_list=['2048']")
        self.network = network
        self.requires_grad_(False)
        self.train(False)

    def train(self, mode: bool = True) -> "InceptionV3Features":
        """Stay in eval mode whatever ``mode`` says: the network is frozen."""
        return super().train(False)

    def forward(self, images: Float[Tensor, "b 3 h w"]) -> Float[Tensor, "b 2048"]:
        """Pool features of ``images`` in $[-1, 1]$ (any size)."""
        check_shape("images", images, (None, 3, None, None))
        pixels = ((images.detach().float() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
        return self.network(pixels)[0]


def _offline() -> bool:
    return any(os.environ.get(v, "").strip().lower() in _TRUTHY for v in ("HF_HUB_OFFLINE", "GANBLOCKS_OFFLINE"))


def _standard_weights() -> Path:
    path = default_inception_path()
    if path.is_file():
        return path
    if _offline() or not host_reachable("github.com"):
        why = "the machine is offline" if _offline() else "the download host cannot be reached"
        raise WeightsFileNotFoundError(
            f"FID and KID need the Inception-v3 weights file {INCEPTION_FILENAME}, which is not at {path}, "
            f"and {why}.", argument="weights", hint=_how_to_get(path)
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.hub.download_url_to_file(INCEPTION_URL, str(path), hash_prefix="6726825d", progress=False)
    return path


def create_inception(
    weights: bool | str | os.PathLike | None = True,
    *,
    device: torch.device | str | None = None,
) -> InceptionV3Features:
    """Build the FID Inception-v3 feature extractor.

    Args:
        weights: ``True``: the standard weights, from
            [`default_inception_path`][ganblocks.metrics.inception.default_inception_path] (downloaded
            there first when the machine is online); a path to a weights file (``.pth`` as published,
            or ``.safetensors``), loaded strictly; ``False``/``None``: random weights (tests only:
            the FID of random features means nothing).
        device: Where to put the network.

    Raises:
        WeightsFileNotFoundError: The weights file is missing (a ``FileNotFoundError``); the
            message says which file to pass and where to get it.
        WeightsError: The file is unreadable or holds weights of another network (naming the
            mismatched keys); a ``ValueError``.
        ImportError: torch-fidelity is not installed.
    """
    network = _network()
    if weights is True:
        path: Path | None = _standard_weights()
    elif weights is False or weights is None:
        path = None
    else:
        path = Path(weights)
        if not path.is_file():
            raise WeightsFileNotFoundError(
                f"the Inception weights file {str(path)!r} does not exist.", argument="weights",
                hint=_how_to_get(default_inception_path()))
    if path is not None:
        try:
            load_strict(network, read_weights_file(path), source=repr(str(path)),
                        expected="torch-fidelity's Inception-v3")
        except WeightsError as err:  # the hint: where to get the right file
            raise WeightsError(err.problem, argument="weights", hint=_how_to_get(default_inception_path())) from err
    return InceptionV3Features(network).to(device)
