"""The model card saved with a generator: Hub metadata, usage, the config, training data, scores."""

from pathlib import Path

from huggingface_hub import ModelCard

from ganblocks.t2i.card import card_text
from t2i_helpers import tiny_arch, tiny_generator


def test_saved_card_has_metadata_config_training_and_scores(tmp_path: Path) -> None:
    G = tiny_generator()
    G.training_info = {"data": "my_images", "preset": "shapes", "step": 40, "kimg": 2.56,
                       "scores": {"all_correct": 0.25, "fid": 31.0}, "scores_source": "final_eval.json"}
    G.save_pretrained(tmp_path)
    card = ModelCard.load(tmp_path / "README.md")
    assert card.data.library_name == "ganblocks" and card.data.pipeline_tag == "text-to-image"
    assert "text-to-image" in card.data.tags
    text = card.text
    for name, value in G.config.to_dict().items():
        shown = f"{value:.4g}" if isinstance(value, float) else value  # floats as in the scores table
        assert f"| {name} | {shown} |" in text
    assert "| training data | my_images |" in text and "| training steps | 40 |" in text
    assert "| all_correct | 0.25 |" in text and "| fid | 31 |" in text and "Measured by final_eval.json" in text
    assert "TextToImageGenerator.from_pretrained" in text


def test_card_without_training_information_says_so() -> None:
    text = card_text(tiny_arch(), {}, parameters=10, metadata_yaml="library_name: ganblocks")
    assert text.startswith("---\nlibrary_name: ganblocks\n---\n")
    assert "No training information was recorded" in text and "No scores were recorded" in text


def test_table_cells_cannot_break_the_table() -> None:
    text = card_text(tiny_arch(), {"data": "a|b\nc"}, parameters=1, metadata_yaml="x: 1")
    assert "| training data | a\\|b c |" in text
