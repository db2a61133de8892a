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


def test_set_scores_make_a_table_of_sets_and_the_note_follows() -> None:
    scores = {"seen/style": 0.5, "seen/fd": 400.0, "heldout/style": 0.25, "heldout/fd": 512.5}
    text = card_text(tiny_arch(), {"scores": scores, "scores_note": "Chance: style 0.5."}, parameters=1,
                     metadata_yaml="x: 1")
    assert "| set | style | fd |\n| --- | --- | --- |\n| seen | 0.5 | 400 |\n| heldout | 0.25 | 512.5 |" in text
    assert text.index("| heldout | 0.25") < text.index("Chance: style 0.5.")
    mixed = card_text(tiny_arch(), {"scores": {"seen/style": 0.5, "fid": 3.0}}, parameters=1, metadata_yaml="x: 1")
    assert "| fid | 3 |" in mixed and "| seen/style | 0.5 |" in mixed


def test_the_usage_example_uses_the_models_own_prompts_and_name() -> None:
    training = {"example_prompts": ["red apple, google style", 'a "quoted" one', "", 3, "b", "c", "d"]}
    text = card_text(tiny_arch(), training, parameters=1, metadata_yaml="x: 1", name="ganblocks/emoji-32")
    usage = text.split("## Use", 1)[1].split("## Architecture", 1)[0]
    assert 'from_pretrained("ganblocks/emoji-32")' in usage and "circle" not in usage
    code = usage.split("```python\n", 1)[1].split("```", 1)[0]
    prompts = code.split("prompts = ", 1)[1].split("\nimages", 1)[0]
    assert eval(prompts) == ["red apple, google style", 'a "quoted" one', "b", "c"]  # the first four texts
    assert "seeds=[0, 1, 2, 3]" in code
    plain = card_text(tiny_arch(), {}, parameters=1, metadata_yaml="x: 1")
    assert 'from_pretrained("path/to/this/folder")' in plain and '["a red circle in the center"] * 4' in plain


def test_a_model_saved_into_the_package_is_named_by_its_shipped_name(tmp_path: Path, monkeypatch) -> None:
    from ganblocks.t2i import saving

    monkeypatch.setattr(saving, "_SHIPPED", tmp_path / "models")
    G = tiny_generator()
    G.save_pretrained(tmp_path / "models" / "tiny-16")
    G.save_pretrained(tmp_path / "elsewhere")
    assert 'from_pretrained("ganblocks/tiny-16")' in (tmp_path / "models" / "tiny-16" / "README.md").read_text()
    assert 'from_pretrained("path/to/this/folder")' in (tmp_path / "elsewhere" / "README.md").read_text()
