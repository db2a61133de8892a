"""The model card (``README.md``) saved with a generator: how to use it, its architecture, its
training data and its measured scores, with Hugging Face Hub metadata in the YAML header."""

from typing import Any

from torch import nn

from .config import GeneratorConfig

__all__ = ["model_card", "card_text"]

_TRAINING_ROWS = (
    ("data", "training data"),
    ("preset", "training preset"),
    ("step", "training steps"),
    ("kimg", "images seen (thousands)"),
    ("stage", "training stage reached"),
    ("text_encoder_weights", "text encoder initialised from"),
    ("command", "training command"),
)


def _cell(value: Any) -> str:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: tuple[str, str], rows: list[tuple[str, Any]]) -> str:
    lines = [f"| {header[0]} | {header[1]} |", "| --- | --- |"]
    lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in rows]
    return "\n".join(lines)


def card_text(config: GeneratorConfig, training: dict[str, Any], *, parameters: int,
              metadata_yaml: str) -> str:
    """The card's Markdown: YAML header, usage, architecture, training, scores."""
    r = config.resolution
    parts = [
        f"---\n{metadata_yaml.strip()}\n---",
        f"# Text-to-image GAN generator ({r}x{r} px)",
        "A StyleGAN-T-style text-to-image generator built with "
        "[ganblocks](https://github.com/ganblocks/ganblocks): one forward pass maps a text prompt "
        f"and a seed to a {r}x{r} RGB image. {parameters:,} parameters (text encoder, mapping and "
        "synthesis networks).",
        "## Use",
        "```python\nfrom ganblocks import TextToImageGenerator, save_grid\n\n"
        'G = TextToImageGenerator.from_pretrained("path/to/this/folder")  # or a Hub repo id\n'
        'images = G.generate(["a red circle in the center"] * 4, seeds=[0, 1, 2, 3], truncation_psi=0.7)\n'
        'save_grid(images, "grid.png")\n```',
        "Images are raw network outputs, close to [-1, 1] for a trained generator; `save_grid`, "
        "`to_pil` and `to_uint8` clamp them to [-1, 1] before converting to pixels.",
        "## Architecture",
        "Stored in `config.json` (a `ganblocks.GeneratorConfig`):",
        _table(("field", "value"), list(config.to_dict().items())),
        "## Training",
    ]
    rows = [(label, training[key]) for key, label in _TRAINING_ROWS if key in training]
    parts.append(_table(("", ""), rows) if rows else "No training information was recorded with this model.")
    attribution = training.get("attribution")
    if isinstance(attribution, str) and attribution.strip():
        parts += ["## Licence and attribution", attribution.strip()]
    parts.append("## Scores")
    scores = training.get("scores")
    if isinstance(scores, dict) and scores:
        parts.append(f"Measured by {training.get('scores_source', 'the trainer')}:")
        parts.append(_table(("metric", "value"), sorted(scores.items())))
    else:
        parts.append("No scores were recorded with this model.")
    return "\n\n".join(parts) + "\n"


def model_card(generator: nn.Module, **extra_metadata: Any) -> Any:
    """A ``huggingface_hub.ModelCard`` for ``generator`` (a ``TextToImageGenerator``).

    Args:
        generator: The generator; its ``config`` and ``training_info`` fill the card.
        extra_metadata: Further Hub metadata fields for the YAML header (e.g. ``license``).
    """
    from huggingface_hub import ModelCard, ModelCardData

    data = generator._hub_mixin_info.model_card_data.to_dict()
    data.update(extra_metadata)
    text = card_text(generator.config, dict(generator.training_info),
                     parameters=sum(p.numel() for p in generator.parameters()),
                     metadata_yaml=ModelCardData(**data).to_yaml())
    return ModelCard(text)
