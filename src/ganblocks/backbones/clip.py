"""A frozen CLIP: caption embeddings for the generator and D, image embeddings for the guidance loss.

StyleGAN-T conditions everything on the pooled, unit-norm CLIP ViT-L/14 text embedding, and
scores generated images with the same CLIP's image tower (the CLIP guidance loss). The generator
fine-tunes its own copy of the text tower in the second training stage:
[`FrozenCLIP.text_encoder_copy`][ganblocks.backbones.clip.FrozenCLIP.text_encoder_copy].
"""

import contextlib
import copy
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .._typing import Bool, Float, Int, Tensor, check_shape
from ._weights import (
    Pretrained, WeightsError, hub_file, load_strict, looks_like_path, read_weights_file, require_file,
)

__all__ = ["FrozenCLIP", "CLIPTextEncoder", "TextEncoding", "create_clip", "CLIP_DEFAULT"]

CLIP_DEFAULT = "ViT-L-14"
"""The text encoder and guidance network of StyleGAN-T (open_clip name; weights tag ``openai``)."""

_OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
_OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)

Tokenizer = Callable[[list[str]], Tensor]


def _prompt_list(prompts: Sequence[str]) -> list[str]:
    if isinstance(prompts, str):
        raise TypeError("prompts must be a sequence of strings, got one str; wrap it: [prompt]")
    prompts = list(prompts)
    if not prompts or not all(isinstance(p, str) for p in prompts):
        raise TypeError("prompts must be a non-empty sequence of strings")
    return prompts


class TextEncoding(NamedTuple):
    """A caption batch as the generator sees it: the pooled embedding and the word tokens.

    Attributes:
        embedding: Unit-norm pooled embedding ``[b, d]`` (the global text vector).
        tokens: Per-token features of the text transformer's last layer, after its final norm
            ``[b, n, t]`` (``t``: the transformer's width).
        mask: ``[b, n]``, ``True`` for the caption's real tokens (start, words, end), ``False``
            for padding.
    """

    embedding: Float[Tensor, "b d"]
    tokens: Float[Tensor, "b n t"]
    mask: Bool[Tensor, "b n"]


def _encode(tower: nn.Module, tokens: Tensor, *, attn_mask: Tensor | None, pool_type: str,
            eos_id: int | None) -> TextEncoding:
    """One pass of a CLIP text tower (an open_clip ``CLIP`` or a ``CLIPTextEncoder``)."""
    x = tower.token_embedding(tokens) + tower.positional_embedding
    x = tower.ln_final(tower.transformer(x, attn_mask=attn_mask))
    rows = torch.arange(x.shape[0], device=x.device)
    positions = torch.arange(tokens.shape[1], device=tokens.device)
    if pool_type == "argmax":  # the end-of-text token has the largest id
        end = tokens.argmax(dim=-1)
    elif pool_type == "eos":
        end = (tokens == eos_id).int().argmax(dim=-1)
    elif pool_type in ("first", "last"):
        end = None
    else:
        raise ValueError(f"unsupported text pooling {pool_type!r}")
    if end is not None:
        pooled, mask = x[rows, end], positions[None, :] <= end[:, None]
    else:
        pooled = x[:, 0] if pool_type == "first" else x[:, -1]
        mask = tokens != 0
    projection = tower.text_projection
    if isinstance(projection, nn.Module):
        pooled = projection(pooled)
    elif projection is not None:
        pooled = pooled @ projection
    return TextEncoding(F.normalize(pooled, dim=-1), x, mask)


class CLIPTextEncoder(nn.Module):
    """A trainable copy of a CLIP text tower: prompts in, unit-norm pooled embeddings out.

    $$ e = \\frac{W^\\top \\mathrm{LN}(T(E[\\text{tokens}] + P))_{\\text{EOT}}}
    {\\lVert W^\\top \\mathrm{LN}(T(E[\\text{tokens}] + P))_{\\text{EOT}} \\rVert} $$
    with token embedding $E$, positions $P$, causal transformer $T$, final norm, pooling at the
    end-of-text token and projection $W$. All parameters are deep copies of the CLIP they come
    from, trainable, and saved by ``state_dict()`` (the tokenizer holds no state).

    Args:
        clip_model: An open_clip ``CLIP`` whose text tower is copied.
        tokenizer: Its tokenizer: a list of prompts to token ids ``[b, context_length]``.
    """

    def __init__(self, clip_model: nn.Module, tokenizer: Tokenizer) -> None:
        super().__init__()
        needed = ("token_embedding", "positional_embedding", "transformer", "ln_final", "text_projection")
        if not all(hasattr(clip_model, a) for a in needed):
            raise TypeError(
                f"{type(clip_model).__name__} has no built-in CLIP text tower ({', '.join(needed)})"
            )
        self.token_embedding = copy.deepcopy(clip_model.token_embedding)
        self.positional_embedding = nn.Parameter(clip_model.positional_embedding.detach().clone())
        self.transformer = copy.deepcopy(clip_model.transformer)
        self.ln_final = copy.deepcopy(clip_model.ln_final)
        projection = clip_model.text_projection
        if isinstance(projection, nn.Module) or projection is None:
            self.text_projection = copy.deepcopy(projection)
        else:
            self.text_projection = nn.Parameter(projection.detach().clone())
        mask = getattr(clip_model, "attn_mask", None)
        self.register_buffer("attn_mask", None if mask is None else mask.clone(), persistent=False)
        self.pool_type: str = getattr(clip_model, "text_pool_type", "argmax")
        self.eos_id: int | None = getattr(clip_model, "text_eos_id", None)
        self.tokenizer = tokenizer
        self.context_length = int(self.positional_embedding.shape[0])
        self.embed_dim = int(clip_model.visual.output_dim)
        self.token_dim = int(self.positional_embedding.shape[1])
        self.requires_grad_(True)

    def encode_tokens(self, tokens: Int[Tensor, "b {self.context_length}"]) -> Float[Tensor, "b {self.embed_dim}"]:
        """Unit-norm embeddings of tokenised prompts."""
        return self.encode_tokens_full(tokens).embedding

    def encode_tokens_full(self, tokens: Int[Tensor, "b {self.context_length}"]) -> TextEncoding:
        """Pooled unit-norm embeddings, per-token features and the real-token mask, in one pass."""
        check_shape("tokens", tokens, (None, self.context_length))
        return _encode(self, tokens, attn_mask=self.attn_mask, pool_type=self.pool_type, eos_id=self.eos_id)

    def forward(self, prompts: Sequence[str]) -> Float[Tensor, "b {self.embed_dim}"]:
        """Unit-norm embeddings of ``prompts``."""
        return self.encode(prompts).embedding

    def encode(self, prompts: Sequence[str]) -> TextEncoding:
        """Unit-norm pooled embeddings of ``prompts`` with their per-token features and mask.

        The token features ``[b, context_length, token_dim]`` are the last layer's outputs after
        the final norm; the mask marks the start token, the words and the end token.
        """
        device = self.positional_embedding.device
        return self.encode_tokens_full(self.tokenizer(_prompt_list(prompts)).to(device))


class FrozenCLIP(nn.Module):
    """A frozen open_clip model: unit-norm text embeddings of prompts and of images in $[-1, 1]$.

    Images are mapped to $[0, 1]$, area-resized to the model's input size and normalised,
    $\\hat x = (\\operatorname{resize}((x + 1)/2) - \\mu) / \\sigma$, then encoded; gradients flow to
    the images. The model never trains: its parameters do not require gradients and it stays in
    eval mode whatever ``train()`` is told.

    Args:
        model: An open_clip ``CLIP`` (built by [`create_clip`][ganblocks.backbones.clip.create_clip]).
        tokenizer: Its tokenizer: a list of prompts to token ids.
        mean: Per-channel normalisation mean of the image tower.
        std: Per-channel normalisation standard deviation of the image tower.
    """

    def __init__(
        self,
        model: nn.Module,
        tokenizer: Tokenizer,
        *,
        mean: Sequence[float] = _OPENAI_MEAN,
        std: Sequence[float] = _OPENAI_STD,
    ) -> None:
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.embed_dim = int(model.visual.output_dim)
        self.token_dim = int(model.positional_embedding.shape[1])
        size = model.visual.image_size
        self.image_size = int(size if isinstance(size, int) else size[0])
        self.register_buffer("mean", torch.tensor(tuple(mean), dtype=torch.float32), persistent=False)
        self.register_buffer("std", torch.tensor(tuple(std), dtype=torch.float32), persistent=False)
        self.requires_grad_(False)
        self.train(False)

    def train(self, mode: bool = True) -> "FrozenCLIP":
        """Stay in eval mode whatever ``mode`` says: the network is frozen."""
        return super().train(False)

    def encode_text(self, prompts: Sequence[str]) -> Float[Tensor, "b {self.embed_dim}"]:
        """Unit-norm pooled text embeddings of ``prompts``."""
        tokens = self.tokenizer(_prompt_list(prompts)).to(self.mean.device)
        return self.model.encode_text(tokens, normalize=True)

    def encode_text_tokens(self, prompts: Sequence[str]) -> TextEncoding:
        """Pooled unit-norm embeddings of ``prompts`` with per-token features and the real-token
        mask, from one pass of the text tower (the pooled part equals ``encode_text``)."""
        tokens = self.tokenizer(_prompt_list(prompts)).to(self.mean.device)
        return _encode(self.model, tokens, attn_mask=getattr(self.model, "attn_mask", None),
                       pool_type=getattr(self.model, "text_pool_type", "argmax"),
                       eos_id=getattr(self.model, "text_eos_id", None))

    def encode_image(self, images: Float[Tensor, "b 3 h w"]) -> Float[Tensor, "b {self.embed_dim}"]:
        """Unit-norm image embeddings of ``images`` in $[-1, 1]$ (any size; area-resized)."""
        check_shape("images", images, (None, 3, None, None))
        x = ((images + 1) / 2).to(self.mean.dtype)
        if x.shape[-2:] != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="area")
        x = (x - self.mean[:, None, None]) / self.std[:, None, None]
        return self.model.encode_image(x, normalize=True)

    def text_encoder_copy(self) -> CLIPTextEncoder:
        """An independent, trainable deep copy of the text tower (the generator's, trained in stage 2)."""
        return CLIPTextEncoder(self.model, self.tokenizer).to(self.mean.device)


@contextlib.contextmanager
def _quiet_random_init() -> Iterator[None]:
    """Drop open_clip's "No pretrained weights loaded" log line (the root logger's)."""
    def keep(record: logging.LogRecord) -> bool:
        return "No pretrained weights loaded" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def _tiny_clip(image_size: int, patch_size: int, width: int, layers: int, context_length: int,
               embed_dim: int, quick_gelu: bool) -> tuple[nn.Module, Tokenizer]:
    from open_clip import CLIP
    from open_clip.tokenizer import SimpleTokenizer

    if image_size % patch_size or width % 16:
        raise ValueError(
            f"tiny preset: image_size ({image_size}) must be a multiple of patch_size "
            f"({patch_size}) and width ({width}) a multiple of 16"
        )
    vision = dict(image_size=image_size, patch_size=patch_size, width=width, layers=layers, head_width=16)
    text = dict(context_length=context_length, vocab_size=49408, width=width, heads=width // 16, layers=layers)
    model = CLIP(embed_dim=embed_dim, vision_cfg=vision, text_cfg=text, quick_gelu=quick_gelu)
    return model, SimpleTokenizer(context_length=context_length)


def create_clip(
    name: str = CLIP_DEFAULT,
    *,
    pretrained: Pretrained = "openai",
    device: torch.device | str | None = None,
    quick_gelu: bool | None = None,
    image_size: int | None = None,
    patch_size: int | None = None,
    width: int | None = None,
    layers: int | None = None,
    context_length: int | None = None,
    embed_dim: int | None = None,
) -> FrozenCLIP:
    """Build a frozen open_clip model with its tokenizer.

    Args:
        name: An open_clip architecture (default ViT-L/14), or ``"tiny"``: a random CLIP with a
            32 px ViT (patch 4, width 64, 2 layers), a 2-layer text transformer of width 64 and
            context 32, and open_clip's bundled tokenizer, for tests and CPU demos.
        pretrained: A weights tag (``"openai"``; ``True`` picks ``"openai"`` when the name has
            it, else its first tag) from the Hugging Face cache, downloaded when online;
            ``False``/``None`` for random weights; or a path to a file holding the open_clip
            model's ``state_dict()`` (loaded strictly). The tiny preset: only ``False``/``None``
            or a path.
        device: Where to put the model.
        quick_gelu: Whether the towers use QuickGELU. ``None`` follows the weights: the tag's
            own setting; for a path or random weights, that of the name's default tag (``openai``
            weights were trained with QuickGELU); ``False`` for the tiny preset.
        image_size: Tiny preset only: input size of the image tower.
        patch_size: Tiny preset only: its patch size.
        width: Tiny preset only: width of both towers (a multiple of 16; 16 per head).
        layers: Tiny preset only: depth of both towers.
        context_length: Tiny preset only: tokens per prompt.
        embed_dim: Tiny preset only: width of the joint embedding.

    Raises:
        ValueError: For an unknown name (listing valid ones) or size overrides on a non-tiny name.
        WeightsError: For an unknown tag (listing valid ones), a missing or unreadable weights
            file (also a ``FileNotFoundError`` when missing), or a file for another architecture
            (naming mismatched keys). A ``ValueError``.
        WeightsUnavailableError: Within seconds, when the tagged weights are neither cached nor
            reachable (a ``WeightsError`` and a ``RuntimeError``).
    """
    try:
        import open_clip
    except ImportError as err:  # pragma: no cover - open_clip is a dependency
        raise ImportError("create_clip needs open_clip: `pip install open_clip_torch`") from err
    sizes = dict(image_size=image_size, patch_size=patch_size, width=width, layers=layers,
                 context_length=context_length, embed_dim=embed_dim)
    path: str | os.PathLike | None = None
    mean, std = _OPENAI_MEAN, _OPENAI_STD
    if isinstance(pretrained, (str, os.PathLike)) and looks_like_path(pretrained):
        require_file(pretrained)  # a missing file is named as such, not taken for a tag
    if name == "tiny":
        if pretrained is True or (
            isinstance(pretrained, (str, os.PathLike)) and not os.path.isfile(pretrained)
        ):
            raise WeightsError(f"the 'tiny' preset has no published weights (pretrained={pretrained!r}).")
        defaults = dict(image_size=32, patch_size=4, width=64, layers=2, context_length=32, embed_dim=64)
        model, tokenizer = _tiny_clip(
            **{k: defaults[k] if v is None else v for k, v in sizes.items()},
            quick_gelu=bool(quick_gelu),
        )
        path = pretrained if isinstance(pretrained, (str, os.PathLike)) else None
    else:
        given = [k for k, v in sizes.items() if v is not None]
        if given:
            raise ValueError(f"{', '.join(given)} only apply to the 'tiny' preset, not {name!r}")
        if name not in open_clip.list_models():
            raise ValueError(
                f"unknown CLIP name {name!r}; valid names include: tiny, ViT-B-32, ViT-B-16, "
                "ViT-L-14, ViT-L-14-336, ViT-H-14 (see open_clip.list_models())"
            )
        tags = open_clip.list_pretrained_tags_by_model(name)
        default_tag = "openai" if "openai" in tags else (tags[0] if tags else None)
        tag = default_tag if pretrained is True else None
        if isinstance(pretrained, str) and open_clip.is_pretrained_cfg(name, pretrained):
            tag = pretrained
        elif isinstance(pretrained, (str, os.PathLike)):
            if not os.path.isfile(pretrained):
                raise WeightsError(
                    f"{str(pretrained)!r} is neither a weights tag of {name} "
                    f"({', '.join(tags) or 'none'}) nor an existing file."
                )
            path = pretrained
        if pretrained is True and tag is None:
            raise WeightsError(f"open_clip has no pretrained weights for {name!r}.")
        cfg = open_clip.get_pretrained_cfg(name, tag or default_tag or "")
        if quick_gelu is None:
            quick_gelu = bool(cfg.get("quick_gelu", False))
        checkpoint = None
        if tag is not None:
            mean, std = cfg.get("mean", mean), cfg.get("std", std)
            if not cfg.get("hf_hub"):
                raise WeightsError(
                    f"the {name}/{tag} weights are not on the Hugging Face hub; download them "
                    "yourself and pass the file."
                )
            repo, filename = os.path.split(cfg["hf_hub"])  # "org/repo/" or "org/repo/file"
            files = ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
            if filename:
                stem, suffix = os.path.splitext(filename)
                files = [filename] if suffix == ".safetensors" else [stem + ".safetensors", filename]
            checkpoint = hub_file(repo, files, what=f"{name} ({tag})")
        with _quiet_random_init():  # random or file weights are what was asked for: no warning
            model = open_clip.create_model(name, pretrained=checkpoint, force_quick_gelu=quick_gelu)
        tokenizer = open_clip.get_tokenizer(name)
    if path is not None:
        load_strict(model, read_weights_file(path), source=repr(str(path)), expected=f"the open_clip model {name!r}")
    return FrozenCLIP(model, tokenizer, mean=mean, std=std).to(device)
