"""The model card (``README.md``) saved with a generator: how to use it, its architecture, its
training data and its measured scores, with Hugging Face Hub metadata in the YAML header.

The card reads the generator's ``training_info``: the rows of ``_TRAINING_ROWS``, and optionally
``attribution`` (the training data's licences), ``scores`` with ``scores_source`` (who measured
them) and ``scores_note`` (how, and what chance is), and ``example_prompts`` (captions of the
training data, used by the card's code example instead of a ShapesT2I caption).
"""

import json
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


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _scores_table(scores: dict[str, Any]) -> str:
    """Scores named ``{set}/{metric}`` as a table with a row per set and a column per metric
    (in the order they come), any others as a ``metric | value`` table."""
    if not all(isinstance(k, str) and k.count("/") == 1 for k in scores):
        return _table(("metric", "value"), sorted(scores.items()))
    sets: dict[str, dict[str, Any]] = {}
    for key, value in scores.items():
        group, metric = key.split("/")
        sets.setdefault(group, {})[metric] = value
    metrics = list(dict.fromkeys(m for values in sets.values() for m in values))
    return _table(("set", *metrics), [(group, *(values.get(m, "") for m in metrics))
                                      for group, values in sets.items()])


def _example_prompts(training: dict[str, Any]) -> list[str]:
    prompts = training.get("example_prompts")
    if not isinstance(prompts, (list, tuple)):
        return []
    return [p.strip() for p in prompts if isinstance(p, str) and p.strip()][:4]


def _usage(name: str | None, training: dict[str, Any]) -> str:
    """The code example: load the model, generate a few images, save them as a grid."""
    source = (f"{json.dumps(name)})  # ships with ganblocks: read offline from the installed package" if name
              else '"path/to/this/folder")  # or a Hub repo id')
    prompts = _example_prompts(training)
    if prompts:  # captions of the model's own training data
        listed = "".join(f"    {json.dumps(p, ensure_ascii=False)},\n" for p in prompts)
        seeds = ", ".join(str(i) for i in range(len(prompts)))
        generate = f"prompts = [\n{listed}]\nimages = G.generate(prompts, seeds=[{seeds}])\n"
    else:
        generate = 'images = G.generate(["a red circle in the center"] * 4, seeds=[0, 1, 2, 3], truncation_psi=0.7)\n'
    return ("```python\nfrom ganblocks import TextToImageGenerator, save_grid\n\n"
            f"G = TextToImageGenerator.from_pretrained({source}\n{generate}"
            'save_grid(images, "grid.png")\n```')


def card_text(config: GeneratorConfig, training: dict[str, Any], *, parameters: int,
              metadata_yaml: str, name: str | None = None) -> str:
    """The card's Markdown: YAML header, usage, architecture, training, scores.

    ``name`` is what ``from_pretrained`` reads the model by (a shipped model's
    ``"ganblocks/<name>"``), shown in the code example; default: a folder path.
    """
    r = config.resolution
    parts = [
        f"---\n{metadata_yaml.strip()}\n---",
        f"# Text-to-image GAN generator ({r}x{r} px)",
        "A StyleGAN-T-style text-to-image generator built with "
        "[ganblocks](https://github.com/ganblocks/ganblocks): one forward pass maps a text prompt "
        f"and a seed to a {r}x{r} RGB image. {parameters:,} parameters (text encoder, mapping and "
        "synthesis networks).",
        "## Use",
        _usage(name, training),
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
        parts.append(_scores_table(scores))
        note = training.get("scores_note")
        if isinstance(note, str) and note.strip():
            parts.append(note.strip())
    else:
        parts.append("No scores were recorded with this model.")
    return "\n\n".join(parts) + "\n"


def model_card(generator: nn.Module, *, name: str | None = None, **extra_metadata: Any) -> Any:
    """A ``huggingface_hub.ModelCard`` for ``generator`` (a ``TextToImageGenerator``).

    Args:
        generator: The generator; its ``config`` and ``training_info`` fill the card.
        name: What ``from_pretrained`` reads the model by, for the card's code example (default:
            a folder path).
        extra_metadata: Further Hub metadata fields for the YAML header (e.g. ``license``).
    """
    from huggingface_hub import ModelCard, ModelCardData

    data = generator._hub_mixin_info.model_card_data.to_dict()
    data.update(extra_metadata)
    text = card_text(generator.config, dict(generator.training_info),
                     parameters=sum(p.numel() for p in generator.parameters()),
                     metadata_yaml=ModelCardData(**data).to_yaml(), name=name)
    return ModelCard(text)
