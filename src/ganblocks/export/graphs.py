"""The two halves of a text-to-image generator as graph-friendly modules, for export.

A server encodes a prompt once and draws many images from it, so the generator is exported as
two graphs: [`TextEncoderGraph`][ganblocks.export.graphs.TextEncoderGraph] (token ids to the
text features) and [`GeneratorGraph`][ganblocks.export.graphs.GeneratorGraph] (latents, text
features and a per-image truncation $\\psi$ to images). Each is a thin ``nn.Module`` around the
generator's own layers, with tensors in and tensors out and no Python branch on a value: what
the exporter traces is the network that ``G.generate`` runs.
"""

import torch
from torch import nn

from .._typing import Bool, Float, Int, Tensor
from ..generator.noise import NoiseMode
from ..generator.translation import translate

__all__ = ["TextEncoderGraph", "GeneratorGraph", "text_output_names", "generator_input_names"]

IMAGE = "image"


def text_output_names(uses_tokens: bool) -> list[str]:
    """What the text encoder graph returns, and the generator graph reads under the same names."""
    return ["text_embedding", "text_tokens", "text_mask"] if uses_tokens else ["text_embedding"]


def generator_input_names(uses_tokens: bool) -> list[str]:
    """The generator graph's inputs, in order."""
    return ["z", "text_embedding", "truncation_psi", *text_output_names(uses_tokens)[1:]]


class TextEncoderGraph(nn.Module):
    """Token ids ``[b, context_length]`` (the tokenizer's output) to the unit-norm pooled
    embedding, and, for a generator that attends to words, the word tokens and their mask.

    Args:
        G: A [`TextToImageGenerator`][ganblocks.t2i.generator.TextToImageGenerator].
    """

    def __init__(self, G: nn.Module) -> None:
        super().__init__()
        self.text_encoder = G.text_encoder
        self.uses_tokens = bool(G.uses_tokens)

    def forward(self, input_ids: Int[Tensor, "b n"]) -> tuple[Tensor, ...]:
        enc = self.text_encoder.encode_tokens_full(input_ids)
        return tuple(enc) if self.uses_tokens else (enc.embedding,)


class GeneratorGraph(nn.Module):
    """``G(z, c, truncation_psi=psi, noise_mode=noise, update_avg=False)`` with ``psi`` a tensor,
    one value per image.

    The mapping runs untruncated and the $z$ part of $w$ is then pulled to the running mean,
    $\\operatorname{lerp}(\\bar x, x, \\psi)$, which is what the mapping does for $\\psi \\ne 1$
    and equals its output up to rounding at $\\psi = 1$. The token mask is not checked in the
    graph (a check reads values, which a graph cannot branch on): the text encoder graph's
    masks always hold the start and end tokens.

    Args:
        G: A [`TextToImageGenerator`][ganblocks.t2i.generator.TextToImageGenerator].
        noise_mode: ``"const"`` (the fixed noise images, what ``G.generate`` uses) or ``"none"``.
    """

    def __init__(self, G: nn.Module, *, noise_mode: NoiseMode = "const") -> None:
        super().__init__()
        if noise_mode not in ("const", "none"):
            raise ValueError(
                f"noise_mode {noise_mode!r} cannot be exported: a graph holds 'const' (the fixed noise "
                "that G.generate uses) or 'none'; random noise would differ from PyTorch's on every run")
        self.G = G
        self.noise_mode: NoiseMode = noise_mode
        self.uses_tokens = bool(G.uses_tokens)

    def forward(
        self,
        z: Float[Tensor, "b z"],
        text_embedding: Float[Tensor, "b c"],
        truncation_psi: Float[Tensor, " b"],
        text_tokens: Float[Tensor, "b n t"] | None = None,
        text_mask: Bool[Tensor, "b n"] | None = None,
    ) -> Float[Tensor, "b 3 r r"]:
        """The images; ``text_tokens`` and ``text_mask`` when the generator attends to words."""
        G = self.G
        tokens, mask = (text_tokens, text_mask) if self.uses_tokens else (None, None)
        if self.uses_tokens and (tokens is None or mask is None):
            raise ValueError("this generator attends to the caption's word tokens: pass text_tokens and text_mask")
        psi = truncation_psi.to(z.dtype)[:, None]
        offset = None
        if G.config.output_shift > 0:  # as G.forward: the latent's first two coordinates move the image
            offset = psi * z[:, :2]
            z = torch.cat([torch.zeros_like(z[:, :2]), z[:, 2:]], dim=1)
        w = G.mapping(z, text_embedding, truncation_psi=1.0, update_avg=False)
        x = G.mapping.x_avg.to(w.dtype).lerp(w[:, :G.z_dim], psi)
        w = torch.cat([x, w[:, G.z_dim:]], dim=1)
        synthesis = G.synthesis
        features, img = synthesis.input(w), None
        for block in synthesis.blocks.values():
            features, img = block(features, img, w, tokens=tokens, mask=mask, noise_mode=self.noise_mode,
                                  check_mask=False)
        if offset is not None:
            img = translate(img, G.config.output_shift * offset)
        return img
