"""The text-to-emoji generator that ships with the package (``ganblocks/emoji-32``): it loads
offline by name, draws finite 32 px images of emoji captions, stays small, and its model card
says how it was trained and scored; ``emoji_grid.py`` draws it beside the real emoji.

The checks against the real EmojiT2I data run when ``GANBLOCKS_EMOJI_DATA`` names a built
folder (``python -m ganblocks.data.emoji build ... --out data/emoji``), and are skipped otherwise.
"""

import json
import os
import re
from pathlib import Path

import pytest
import torch

from ganblocks import TextToImageGenerator
from ganblocks.t2i.saving import shipped_model_folder, shipped_models

NAME = "ganblocks/emoji-32"
PROMPTS = ["red apple, google style", "grinning face, twitter style", "cat face, google style",
           "father christmas, medium skin tone, twitter style"]
CAPTION = re.compile(r"[^\n]+, (google|twitter) style")
SETS = ("seen", "heldout_style", "heldout_tone")
SUMMARY = ("style", "tone", "category", "subject_top10", "fd")


@pytest.fixture(scope="module")
def G() -> TextToImageGenerator:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("HF_HUB_CACHE", "/nonexistent-hub-cache")  # nothing from a cache: the package alone
        return TextToImageGenerator.from_pretrained(NAME)


def real_data() -> Path:
    data = os.environ.get("GANBLOCKS_EMOJI_DATA")
    if not data or not (Path(data) / "heldout").is_dir():
        pytest.skip("set GANBLOCKS_EMOJI_DATA to a built EmojiT2I folder (python -m ganblocks.data.emoji build)")
    return Path(data)


def test_it_ships_small_in_float16() -> None:
    from safetensors import safe_open

    assert NAME in shipped_models()
    folder = shipped_model_folder(NAME)
    assert sorted(f.name for f in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert sum(f.stat().st_size for f in folder.iterdir()) <= 20 * 2**20
    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        dtypes = {f.get_slice(k).get_dtype() for k in f.keys()}
    assert "F16" in dtypes and "F32" not in dtypes


def test_it_loads_offline_and_draws_finite_emoji(G: TextToImageGenerator) -> None:
    assert G.resolution == G.config.resolution == 32 and not G.training
    images = G.generate(PROMPTS, seeds=[0, 1, 2, 3])
    assert images.shape == (4, 3, 32, 32) and torch.isfinite(images).all()
    assert torch.equal(images, G.generate(PROMPTS, seeds=[0, 1, 2, 3]))  # a seed is an image
    assert (images[0] - images[1]).abs().mean() > 0.05  # the caption changes the image
    assert images.float().mean(dim=(1, 2, 3)).abs().max() < 1.0  # trained: about [-1, 1], not noise


def test_its_card_has_the_scores_command_attribution_and_emoji_usage(G: TextToImageGenerator) -> None:
    card = (shipped_model_folder(NAME) / "README.md").read_text(encoding="utf-8")
    usage = card.split("## Use", 1)[1].split("## Architecture", 1)[0]
    assert f'from_pretrained("{NAME}")' in usage
    listed = re.findall(r'^    "(.+)",$', usage, re.M)
    assert len(listed) == 4 and all(CAPTION.fullmatch(p) for p in listed) and "circle" not in usage
    assert "| training command | python examples/stylegan_t/train.py --preset emoji --seed 1 --kimg 380.16 " \
           "--compile --data data/emoji/train |" in card
    assert "Noto Color Emoji (Apache-2.0, Google)" in card and "Twemoji (CC-BY 4.0" in card
    assert "`ganblocks.metrics.emoji`" in card and "subject top-10 0.005" in card and "style 0.5" in card
    scores = G.training_info["scores"]
    header = next(line for line in card.splitlines() if line.startswith("| set |"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    for s in SETS:
        row = next(line for line in card.splitlines() if line.startswith(f"| {s} |"))
        cells = dict(zip(columns, (c.strip() for c in row.strip("|").split("|"))))
        for m in SUMMARY:
            assert float(cells[m]) == pytest.approx(scores[f"{s}/{m}"], rel=1e-3), (s, m)
    assert scores["seen/images"] == scores["heldout_style/images"] == 512


def test_its_example_prompts_are_emoji_captions(G: TextToImageGenerator) -> None:
    prompts = G.training_info["example_prompts"]
    assert len(prompts) >= 8 and all(CAPTION.fullmatch(p) for p in prompts)
    config = json.loads((shipped_model_folder(NAME) / "config.json").read_text())
    assert config["training"]["example_prompts"] == prompts


@pytest.mark.slow
def test_its_prompts_and_scores_hold_on_the_real_data(G: TextToImageGenerator) -> None:
    from ganblocks.data.emoji import read_emoji_items
    from ganblocks.metrics.emoji import evaluate_emoji, load_emoji_scorer

    items = read_emoji_items(real_data())
    by_split = {s: {it.caption for it in items if it.split == s} for s in ("train", "heldout_style", "heldout_tone")}
    prompts = G.training_info["example_prompts"]
    assert all(p in by_split["train"] for p in prompts[:6])  # seen captions first (the card's example)
    assert all(p in by_split["heldout_style"] | by_split["heldout_tone"] for p in prompts[6:])
    assert all(p in by_split["train"] for p in PROMPTS)  # the README's
    # the float16 weights score as the float32 ones did at the end of training
    report = evaluate_emoji(G, load_emoji_scorer(32), items, samples=256, seeds_per_item=2)
    for key, value in G.training_info["scores"].items():
        assert report[key] == pytest.approx(value, abs=0.01 if not key.endswith("fd") else 0.01 * value), key


def test_emoji_grid_draws_real_and_generated_rows(tmp_path: Path) -> None:
    from PIL import Image

    from emoji_grid import main, pick_items
    from emoji_helpers import make_packages
    from ganblocks.data.emoji import build_emoji, read_emoji_items
    from t2i_helpers import tiny_generator

    data = build_emoji(*make_packages(tmp_path / "npm"), tmp_path / "emoji").out
    items = read_emoji_items(data)
    picked = pick_items(items, 2, seed=0)
    assert picked == pick_items(list(reversed(items)), 2, seed=0)  # fixed by the seed, not the file order
    assert [it.split for it in picked] == ["train"] * 2 + ["heldout_style"] * 2 + ["heldout_tone"] * 2
    tiny_generator(seed=1).save_pretrained(tmp_path / "model")
    main(["--model", str(tmp_path / "model"), "--data", str(data), "--out", str(tmp_path / "grid.png"),
          "--rows", "2", "--seeds", "3", "--scale", "2"])
    image = Image.open(tmp_path / "grid.png")
    assert image.height > 6 * 32 and image.width > 4 * 32
    with pytest.raises(SystemExit) as info:
        main(["--model", str(tmp_path / "model"), "--data", str(data / "train"), "--out", str(tmp_path / "x.png")])
    assert info.value.code == 2 and not (tmp_path / "x.png").exists()
