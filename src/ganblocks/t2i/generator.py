"""A text-to-image generator built from ganblocks' blocks, loadable from any script.

$G(z, \\text{prompt}) = \\text{synthesis}([\\text{MLP}(z), E(\\text{prompt})])$: the generator's own
CLIP text encoder $E$, a [`MappingNetwork`][ganblocks.generator.mapping.MappingNetwork] and a
[`SynthesisNetwork`][ganblocks.generator.synthesis.SynthesisNetwork]. A trained one loads from a
training run folder, from a folder written by ``save_pretrained``, or from a Hugging Face Hub
repository.
"""

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from .._typing import Float, Tensor
from ..backbones.clip import CLIPTextEncoder, TextEncoding, create_clip
from ..generator.mapping import MappingNetwork
from ..generator.noise import NoiseMode
from ..generator.synthesis import SynthesisNetwork
from ..generator.translation import translate
from .config import GeneratorConfig

__all__ = ["TextToImageGenerator"]

_DOCS = "https://ganblocks.github.io/ganblocks/"


def _uses_quick_gelu(module: nn.Module) -> bool:
    return any(type(m).__name__ == "QuickGELU" for m in module.modules())


class TextToImageGenerator(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="ganblocks",
    pipeline_tag="text-to-image",
    tags=["ganblocks", "gan", "stylegan-t", "text-to-image"],
    repo_url="https://github.com/ganblocks/ganblocks",
    docs_url=_DOCS,
):
    """Text encoder + mapping + synthesis: prompts and latents in, images out.

    Images come out raw: the last layer is linear, so values are not bounded. A trained
    generator's images lie close to $[-1, 1]$ (the range of its training images), an untrained
    one's spread wider; [`to_uint8`][ganblocks.t2i.images.to_uint8] and
    [`save_grid`][ganblocks.t2i.images.save_grid] clamp to $[-1, 1]$ when converting.

    Args:
        config: The architecture.
        text_encoder: The text tower to start from (e.g. ``FrozenCLIP.text_encoder_copy()`` of a
            pretrained CLIP, as the trainer does); default: a randomly initialised one of
            ``config.text_encoder``, to be filled by loading weights.

    Attributes:
        config: The architecture (saved as ``config.json``).
        training_info: What the model card says about training (data, steps, scores); filled
            when loaded from a run, saved with the model; a plain dict you may edit.
    """

    def __init__(self, config: GeneratorConfig, *, text_encoder: CLIPTextEncoder | None = None) -> None:
        super().__init__()
        if not isinstance(config, GeneratorConfig):
            raise TypeError(f"config must be a GeneratorConfig, got {type(config).__name__}")
        if text_encoder is None:
            clip = create_clip(config.text_encoder, pretrained=False, quick_gelu=config.text_quick_gelu)
            text_encoder = clip.text_encoder_copy()
            del clip
        elif _uses_quick_gelu(text_encoder) != config.text_quick_gelu:
            raise ValueError(
                f"the text encoder {'uses' if not config.text_quick_gelu else 'does not use'} QuickGELU "
                f"but config.text_quick_gelu is {config.text_quick_gelu}: build the config with "
                "text_quick_gelu=clip_quick_gelu(name, weights) (ganblocks.t2i.config) to match")
        self.config = config
        self.training_info: dict[str, Any] = {}
        self.text_encoder = text_encoder
        self.mapping = MappingNetwork(config.z_dim, text_encoder.embed_dim, num_layers=config.mapping_layers)
        self.synthesis = SynthesisNetwork(
            self.mapping.w_dim, config.resolution, channel_base=config.channel_base,
            channel_max=config.channel_max, num_res_blocks=config.num_res_blocks,
            residual=config.residual, modulation=config.modulation, upsample=config.upsample,
            cross_attention=config.cross_attention, self_attention=config.self_attention,
            text_dim=text_encoder.token_dim if config.cross_attention else None,
            attention_heads=config.attention_heads)
        self.z_dim = config.z_dim
        self.c_dim = text_encoder.embed_dim
        self.resolution = config.resolution

    @property
    def uses_tokens(self) -> bool:
        """Whether the synthesis network attends to the caption's word tokens."""
        return bool(self.config.cross_attention)

    def encode_text(self, prompts: Sequence[str]) -> Float[Tensor, "b {self.c_dim}"]:
        """Unit-norm text embeddings of the generator's own text encoder."""
        return self.text_encoder(list(prompts))

    def encode(self, prompts: Sequence[str]) -> TextEncoding:
        """Everything the generator reads of ``prompts``, from one pass of its text encoder: the
        pooled embedding, the word tokens and their mask (pass it to ``forward`` as ``c``)."""
        return self.text_encoder.encode(list(prompts))

    def forward(
        self,
        z: Float[Tensor, "b {self.z_dim}"],
        c: Float[Tensor, "b {self.c_dim}"] | TextEncoding | None,
        *,
        prompts: Sequence[str] | None = None,
        truncation_psi: float = 1.0,
        noise_mode: NoiseMode = "random",
        update_avg: bool | None = None,
    ) -> Float[Tensor, "b 3 {self.resolution} {self.resolution}"]:
        """Raw images (about $[-1, 1]$ once trained, not clamped) for latents ``z`` and text
        embeddings ``c``.

        Args:
            z: Latents.
            c: Text embeddings, a ``TextEncoding`` from ``encode`` (needed when the generator
                attends to word tokens), or ``None`` with ``prompts`` (encoded here, so gradients
                reach the text encoder within one forward call).
            prompts: One prompt per latent, instead of ``c``.
            truncation_psi: 1 = no truncation, 0 = the mean latent of each prompt.
            noise_mode: Per-pixel noise: ``"random"``, ``"const"`` (fixed) or ``"none"``.
            update_avg: Update the mapping's running mean (default: in training mode).

        With ``config.output_shift`` $\\sigma > 0$ the finished image is moved by
        $\\sigma\\,\\psi\\,(z_0, z_1)$ image sides
        ([`translate`][ganblocks.generator.translation.translate]) and the mapping reads $z$ with
        $z_0 = z_1 = 0$: where the latent puts the picture is part of the model, and nothing in
        $w$ knows the offset, so no layer can learn to take it back.
        """
        if (c is None) == (prompts is None):
            raise ValueError("pass exactly one of c (text embeddings) and prompts")
        if c is None:
            c = self.encode(prompts)
        tokens = mask = None
        if isinstance(c, TextEncoding):
            c, tokens, mask = c
        elif self.uses_tokens:
            raise ValueError(
                "this generator attends to the caption's word tokens "
                f"(cross_attention={list(self.config.cross_attention)}): pass c=G.encode(prompts) "
                "or prompts=, not a pooled embedding alone")
        offset = None
        if self.config.output_shift > 0:
            offset = truncation_psi * z[:, :2]
            z = torch.cat([torch.zeros_like(z[:, :2]), z[:, 2:]], dim=1)  # the mapping never sees them
        w = self.mapping(z, c, truncation_psi=truncation_psi, update_avg=update_avg)
        img = self.synthesis(w, tokens=tokens, mask=mask, noise_mode=noise_mode)
        if offset is not None:
            img = translate(img, self.config.output_shift * offset)
        return img

    @torch.no_grad()
    def generate(
        self, prompts: Sequence[str], seeds: Sequence[int], *, truncation_psi: float = 1.0
    ) -> Float[Tensor, "b 3 {self.resolution} {self.resolution}"]:
        """One image per (prompt, seed) pair, deterministic: seed ``s`` always gives the same $z$
        and the noise is fixed. Raw values: see the class docstring."""
        if isinstance(prompts, str):
            raise TypeError("prompts must be a sequence of strings, got one str; wrap it: [prompt]")
        if len(prompts) != len(seeds):
            raise ValueError(f"got {len(prompts)} prompts and {len(seeds)} seeds; pass one seed per prompt")
        device = self.mapping.x_avg.device
        z = torch.stack([torch.randn(self.z_dim, generator=torch.Generator().manual_seed(int(s)))
                         for s in seeds]).to(device)
        return self(z, self.encode(prompts), truncation_psi=truncation_psi, noise_mode="const", update_avg=False)

    def export_onnx(self, folder: str | os.PathLike, **kwargs: Any) -> dict[str, Any]:
        """Write ``text_encoder.onnx``, ``generator.onnx`` and ``model.json`` to ``folder``, checked
        against this generator with ONNX Runtime; returns what ``model.json`` holds. Keyword
        arguments: see [`export_onnx`][ganblocks.export.onnx_export.export_onnx]."""
        from ..export import export_onnx

        return export_onnx(self, folder, **kwargs)

    # -- loading and saving (see saving.py and runs.py) ------------------------------------------

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike,
        *,
        device: str | torch.device = "cpu",
        revision: str | None = None,
        cache_dir: str | os.PathLike | None = None,
        token: str | bool | None = None,
        local_files_only: bool = False,
        force_download: bool = False,
    ) -> "TextToImageGenerator":
        """A trained generator, in eval mode with gradients off, from any of:

        - a folder written by ``save_pretrained`` (``config.json`` + ``model.safetensors``);
        - a training run folder, or one of its checkpoint folders (the EMA weights; see
          [`from_run`][ganblocks.t2i.generator.TextToImageGenerator.from_run]);
        - the name of a model that ships with ganblocks (``"ganblocks/emoji-32"``; see
          [`shipped_models`][ganblocks.t2i.saving.shipped_models]), read from the installed package;
        - a Hugging Face Hub repository id (``owner/name``), downloaded or read from the cache.
          With ``HF_HUB_OFFLINE=1`` only the cache is read.

        Args:
            pretrained_model_name_or_path: The folder or the repository id.
            device: Where to put the network.
            revision: Hub only: a branch, tag or commit.
            cache_dir: Hub only: the cache folder.
            token: Hub only: an access token.
            local_files_only: Hub only: read the cache, never download.
            force_download: Hub only: download again even if cached.

        Raises:
            FileNotFoundError: The folder holds neither a saved generator nor a run, or the
                repository cannot be found or reached; the message says what was expected.
            ValueError: A config or weights file that does not describe this generator.
        """
        from .saving import load_pretrained

        return load_pretrained(cls, pretrained_model_name_or_path, device=device, revision=revision,
                               cache_dir=cache_dir, token=token, local_files_only=local_files_only,
                               force_download=force_download)

    @classmethod
    def from_run(
        cls, path: str | os.PathLike, *, device: str | torch.device = "cpu", network: str = "G_ema"
    ) -> "TextToImageGenerator":
        """The generator of a training run folder (its latest checkpoint) or of one checkpoint
        folder, in eval mode with gradients off (what a checkpoint must record: [`checkpoint_meta`][ganblocks.t2i.runs.checkpoint_meta]).

        Args:
            path: The run or checkpoint folder.
            device: Where to put the network.
            network: Which saved generator: ``"G_ema"`` (the EMA weights, default) or ``"G"``.

        Raises:
            FileNotFoundError: ``path`` holds no checkpoint.
            ValueError: The checkpoint records no generator architecture, or its weights do not
                fit it.
        """
        from .runs import load_run

        return load_run(cls, path, device=device, network=network)

    def save_pretrained(self, save_directory: str | os.PathLike, *, weights_dtype: torch.dtype | None = None,
                        **kwargs: Any) -> Any:
        """Write ``model.safetensors``, ``config.json`` and the model card ``README.md`` to a folder
        (and, with ``push_to_hub=True``, upload them: see ``huggingface_hub``'s ``PyTorchModelHubMixin``).

        Args:
            save_directory: The folder.
            weights_dtype: Store the floating-point weights in this dtype, e.g. ``torch.float16``
                to halve the file; loading casts them back to the network's dtype.
            **kwargs: Passed on to ``PyTorchModelHubMixin.save_pretrained``.
        """
        self._weights_dtype = weights_dtype
        try:
            return super().save_pretrained(save_directory, **kwargs)
        finally:
            self._weights_dtype = None

    def _save_pretrained(self, save_directory: Path) -> None:
        from .saving import save_folder

        save_folder(self, save_directory, dtype=getattr(self, "_weights_dtype", None))

    def generate_model_card(self, *args: Any, **kwargs: Any) -> Any:
        """The model card (``README.md``): architecture, training data and measured scores."""
        from .card import model_card

        return model_card(self, **kwargs)

    def extra_repr(self) -> str:
        c = self.config
        return (f"resolution={c.resolution}, z_dim={c.z_dim}, text_encoder={c.text_encoder!r}, "
                f"channel_base={c.channel_base}, channel_max={c.channel_max}")
