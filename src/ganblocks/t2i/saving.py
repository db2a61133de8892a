"""Save a generator as a shareable folder, and load one from a folder, a run or the Hub.

A saved generator is a folder (or a Hugging Face Hub model repository) holding, as
``huggingface_hub``'s ``PyTorchModelHubMixin`` writes them::

    config.json          {"format": "ganblocks.text_to_image", "version": 1, <GeneratorConfig fields>,
                          "training": {data, steps, scores, ...}}
    model.safetensors    the network's state_dict
    README.md            the model card
"""

import json
import os
import re
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from ..backbones import hub_offline, hub_reachable, load_strict, read_weights_file
from .config import GeneratorConfig
from .runs import is_run_folder, load_run

__all__ = ["FORMAT", "FORMAT_VERSION", "CONFIG_FILE", "WEIGHTS_FILE", "SHIPPED_PREFIX", "save_folder",
           "load_pretrained", "shipped_model_folder", "shipped_models"]

FORMAT = "ganblocks.text_to_image"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
G = TypeVar("G", bound=nn.Module)

_EXPECTED = (f"a folder written by save_pretrained ({CONFIG_FILE} and {WEIGHTS_FILE}), a training "
             "run or checkpoint folder, the name of a shipped model (ganblocks.t2i.saving.shipped_models()), "
             "or a Hugging Face Hub repo id (owner/name)")
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")

SHIPPED_PREFIX = "ganblocks/"
"""Names of the models that ship with the package start with this (``"ganblocks/emoji-32"``)."""

_SHIPPED = Path(__file__).resolve().parent / "models"


def shipped_models() -> list[str]:
    """The names of the trained generators that ship with this ganblocks (``from_pretrained`` reads them offline)."""
    if not _SHIPPED.is_dir():
        return []
    return sorted(SHIPPED_PREFIX + f.name for f in _SHIPPED.iterdir() if (f / CONFIG_FILE).is_file())


def shipped_model_folder(name: str) -> Path | None:
    """The package folder of the shipped model ``name`` (``"ganblocks/emoji-32"``), or None."""
    if not name.startswith(SHIPPED_PREFIX):
        return None
    folder = _SHIPPED / name[len(SHIPPED_PREFIX):]
    return folder if name[len(SHIPPED_PREFIX):] and (folder / CONFIG_FILE).is_file() else None


def save_folder(generator: nn.Module, folder: Path, *, dtype: torch.dtype | None = None) -> None:
    """Write the weights, ``config.json`` and the model card ``README.md`` into ``folder``.

    With ``dtype`` (e.g. ``torch.float16``) the floating-point tensors are stored in that dtype.
    A folder in the package's models folder gets a card that loads it by its shipped name.
    """
    from safetensors.torch import save_file

    if dtype is not None and not dtype.is_floating_point:
        raise ValueError(f"weights_dtype must be a floating-point dtype, got {dtype}")
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", dtype=dtype if dtype is not None and v.is_floating_point() else v.dtype)
             .contiguous() for k, v in generator.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
    doc = {"format": FORMAT, "version": FORMAT_VERSION, **generator.config.to_dict()}
    if generator.training_info:
        doc["training"] = generator.training_info
    (folder / CONFIG_FILE).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    shipped = folder.resolve().parent == _SHIPPED.resolve()  # writing a model that ships with the package
    generator.generate_model_card(name=SHIPPED_PREFIX + folder.name if shipped else None).save(
        str(folder / "README.md"))


def read_config(path: Path) -> tuple[GeneratorConfig, dict[str, Any]]:
    """The architecture and the training information of a saved ``config.json``.

    Raises:
        ValueError: Not JSON, another format, a newer version, or invalid fields.
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read {path}: {err}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path} is not a JSON object; expected a generator config written by save_pretrained")
    if doc.get("format", FORMAT) != FORMAT:
        raise ValueError(f"{path} has format {doc['format']!r}, expected {FORMAT!r} (a ganblocks generator)")
    version = doc.get("version", FORMAT_VERSION)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(f"{path} has format version {version!r}; this ganblocks reads up to "
                         f"{FORMAT_VERSION}: upgrade ganblocks")
    training = doc.get("training", {})
    return GeneratorConfig.from_dict(doc, source=str(path)), training if isinstance(training, dict) else {}


def _load_files(cls: type[G], config_file: Path, weights_file: Path, where: str,
                device: str | torch.device) -> G:
    config, training = read_config(config_file)
    with torch.random.fork_rng(devices=[]):  # building draws random weights; keep the caller's RNG
        generator = cls(config)
    try:
        state = read_weights_file(weights_file)
    except Exception as err:  # noqa: BLE001 - a truncated or foreign file: say which and why
        raise ValueError(f"cannot read the weights {weights_file}: {err}") from None
    load_strict(generator, state, source=str(weights_file), expected=f"a generator with the config of {where}")
    generator.training_info = training
    return generator.to(device).eval().requires_grad_(False)


def _hub_files(repo_id: str, **kwargs: Any) -> tuple[Path, Path]:
    from huggingface_hub import hf_hub_download

    offline = hub_offline()
    cache_only = offline or kwargs["local_files_only"] or not hub_reachable()
    try:
        return tuple(Path(hf_hub_download(repo_id, name, **{**kwargs, "local_files_only": cache_only}))
                     for name in (CONFIG_FILE, WEIGHTS_FILE))  # type: ignore[return-value]
    except Exception as err:  # noqa: BLE001 - every hub failure gets one clear message
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if cache_only:
            why = ("HF_HUB_OFFLINE is set" if offline else "local_files_only was given" if kwargs["local_files_only"]
                   else "the Hugging Face Hub cannot be reached")
            raise FileNotFoundError(
                f"{repo_id!r} is not a local folder, and it is not in the Hugging Face cache while {why}. "
                f"Expected {_EXPECTED}.") from None
        raise FileNotFoundError(f"{repo_id!r} is not a local folder, and the Hugging Face Hub does not "
                                f"serve it ({type(err).__name__}: {detail}). Expected {_EXPECTED}.") from None


def load_pretrained(cls: type[G], name_or_path: str | os.PathLike, *, device: str | torch.device = "cpu",
                    revision: str | None = None, cache_dir: str | os.PathLike | None = None,
                    token: str | bool | None = None, local_files_only: bool = False,
                    force_download: bool = False) -> G:
    """See [`TextToImageGenerator.from_pretrained`][ganblocks.t2i.generator.TextToImageGenerator.from_pretrained]."""
    text = os.fspath(name_or_path)
    path = Path(text)
    if path.is_dir():
        if is_run_folder(path):  # first: a run folder also holds a config.json (the run's settings)
            return load_run(cls, path, device=device)
        config_file, weights_file = path / CONFIG_FILE, path / WEIGHTS_FILE
        if config_file.is_file() or weights_file.is_file():
            for f in (config_file, weights_file):
                if not f.is_file():
                    raise FileNotFoundError(f"{path} has no {f.name}; a saved generator holds "
                                            f"{CONFIG_FILE} and {WEIGHTS_FILE} (written by save_pretrained)")
            return _load_files(cls, config_file, weights_file, str(path), device)
        raise FileNotFoundError(f"{path} holds neither a saved generator nor a training run; expected {_EXPECTED}")
    if path.exists():
        raise FileNotFoundError(f"{path} is a file; expected {_EXPECTED}")
    shipped = shipped_model_folder(text)
    if shipped is not None:
        return _load_files(cls, shipped / CONFIG_FILE, shipped / WEIGHTS_FILE, f"the shipped model {text!r}", device)
    if not _REPO_ID.fullmatch(text.replace(os.sep, "/")) or text.startswith(("/", ".", "~")):
        raise FileNotFoundError(f"{path}: no such folder; expected {_EXPECTED}")
    config_file, weights_file = _hub_files(
        text, revision=revision, cache_dir=None if cache_dir is None else os.fspath(cache_dir), token=token,
        local_files_only=local_files_only, force_download=force_download)
    return _load_files(cls, config_file, weights_file, f"the Hub repo {text!r}", device)
