"""The StyleGAN-T example on EmojiT2I: the trainer's grids, evaluation and the page's suggestions
follow the data (ShapesT2I, an EmojiT2I folder, any other captioned folder), the emoji preset,
and the emoji tiny CLIP's hard negatives and held-out retrieval."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from emoji_helpers import make_packages

from ganblocks.data.emoji import build_emoji, read_emoji_items

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "stylegan_t"

pytestmark = pytest.mark.filterwarnings("ignore:.*rank-deficient covariance")

TINY = [
    "--resolution", "32", "--channel-base", "1024", "--channel-max", "32", "--batch", "8",
    "--d-virtual-batch", "4", "--sample-every", "0", "--log-every", "1", "--clip-weights", "none",
    "--eval-samples", "10", "--checkpoint-every", "0", "--blur-sigma", "2", "--blur-fade-kimg", "0.05",
    "--stage2-fraction", "0.2",
]


@pytest.fixture(scope="module")
def emoji(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("emoji")
    build_emoji(*make_packages(folder / "npm"), folder / "emoji")
    return folder / "emoji"


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Path:
    """A captioned folder that is not EmojiT2I."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("plain")
    lines = []
    for i in range(20):
        Image.new("RGB", (32, 32), (10 * i, 100, 200)).save(folder / f"{i}.png")
        lines.append(json.dumps({"file_name": f"{i}.png", "text": f"picture number {i}"}))
    (folder / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def test_data_kind(emoji, plain):
    from evaluate import data_kind, emoji_root

    assert data_kind("shapes") == "shapes"
    assert data_kind(str(emoji)) == data_kind(str(emoji / "train")) == "emoji"
    assert emoji_root(emoji / "train") == emoji_root(emoji) == emoji
    assert data_kind(str(plain)) == "captions"
    # without build.json, the items' fields in train/metadata.jsonl still mark the folder
    copy = plain.parent / "no-marker"
    if not copy.exists():
        import shutil

        shutil.copytree(emoji, copy)
        (copy / "build.json").unlink()
    assert emoji_root(copy / "train") == copy


def test_shapes_grid_is_unchanged():
    from config import preset
    from evaluate import grid_prompts

    from ganblocks.metrics import shapes_grid_captions

    assert grid_prompts(preset("shapes")) == shapes_grid_captions()


def test_emoji_grid_uses_seen_and_heldout_captions(emoji):
    from config import preset
    from evaluate import grid_prompts

    items = read_emoji_items(emoji)
    by_split = {s: {it.caption for it in items if it.split == s} for s in ("train", "heldout_style", "heldout_tone")}
    rows = grid_prompts(preset("emoji", data=str(emoji / "train")))
    assert rows == grid_prompts(preset("emoji", data=str(emoji / "train")))  # fixed
    assert len(rows) == len(set(rows))
    assert any(r in by_split["train"] for r in rows)
    assert any(r in by_split["heldout_style"] for r in rows)
    assert any(r in by_split["heldout_tone"] for r in rows)
    assert all(any(r in s for s in by_split.values()) for r in rows)


def test_plain_folder_grid_uses_its_captions(plain):
    from config import preset
    from evaluate import GRID_ROWS, evaluate_generator, grid_prompts

    cfg = preset("shapes", data=str(plain))
    rows = grid_prompts(cfg)
    assert len(rows) == GRID_ROWS and all(r.startswith("picture number ") for r in rows)
    assert evaluate_generator(None, cfg, torch.device("cpu")) == {}  # nothing to score


def test_suggestions_follow_the_data(emoji, tmp_path):
    from config import preset
    from serve import suggestions

    assert suggestions(preset("emoji", data=str(emoji / "train"))) == \
        __import__("evaluate").grid_prompts(preset("emoji", data=str(emoji / "train")))
    assert suggestions(preset("emoji", data=str(tmp_path / "missing"))) == []
    assert len(suggestions(preset("shapes"))) > 0


def test_emoji_preset():
    from config import preset

    cfg = preset("emoji")
    assert cfg.resolution == 32 and cfg.clip_weights == "emoji" and cfg.clip_model == "tiny"
    assert cfg.kimg is not None and cfg.data.endswith("train")


def test_emoji_64_preset_sets_up_at_the_data_s_full_size(emoji, capsys):
    """The GPU preset: 64 px, DINO ViT-S/16 as D's feature network (random weights here)."""
    import train
    from config import preset

    cfg = preset("emoji-64")
    assert cfg.resolution == 64 and cfg.clip_weights == "emoji" and cfg.dino_model.startswith("vit_small")
    result = train.main(["--preset", "emoji-64", "--data", str(emoji / "train"), "--dino-weights", "none", "--check"])
    assert result["checked"] and "64px" in capsys.readouterr().out


@pytest.mark.slow
def test_train_on_emoji_logs_emoji_scores(emoji, tmp_path):
    import train

    summary = train.main([*TINY, "--preset", "emoji", "--data", str(emoji / "train"), "--steps", "3",
                          "--eval-every", "2", "--out", str(tmp_path / "run")])
    assert summary["step"] == 3
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert any("eval/seen/style" in x for x in lines)
    final = json.loads((tmp_path / "run" / "final_eval.json").read_text())
    assert {"seen/style", "heldout_style/subject_top10", "heldout_tone/tone"} <= set(final)
    assert (tmp_path / "run" / "samples" / "final.png").is_file()


@pytest.mark.slow
def test_train_on_a_plain_folder_skips_scores(plain, tmp_path):
    import train

    summary = train.main([*TINY, "--data", str(plain), "--steps", "2", "--eval-every", "1",
                          "--out", str(tmp_path / "run")])
    assert "scores" not in summary
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert not any(k.startswith(("eval/", "final/")) for x in lines for k in x)
    assert not (tmp_path / "run" / "final_eval.json").exists()
    rows = (tmp_path / "run" / "samples" / "final.txt").read_text()
    assert "picture number" in rows


def test_emoji_clip_negatives_change_style_tone_or_subject(emoji):
    from pretrain import _emoji_negatives

    items = read_emoji_items(emoji / "train")
    groups: dict = {}
    for i, it in enumerate(items):
        groups.setdefault((it.style, it.tones), []).append(i)
    idx = np.arange(len(items))
    rows = _emoji_negatives(items, idx, 3, np.random.default_rng(0), groups)
    for i, row in zip(idx, rows):
        it = items[i]
        assert len(row) == 3
        assert any(("google" in n) != ("google" in it.caption) for n in row)  # one swaps the style
        assert it.caption not in row[:2] or len(groups[(it.style, it.tones)]) == 1


def test_emoji_clip_trains_on_training_items_only(emoji, monkeypatch):
    import pretrain

    seen = []
    real = pretrain.read_emoji_items if hasattr(pretrain, "read_emoji_items") else None
    from ganblocks.data import emoji as emoji_data

    original = emoji_data.read_emoji_items

    def spy(root, splits=None):
        out = original(root, splits)
        seen.append((Path(root).name, splits, {it.split for it in out}))
        return out

    monkeypatch.setattr(emoji_data, "read_emoji_items", spy)
    state, report = pretrain.train_emoji_clip(emoji / "train", {"steps": 2, "batch": 8, "warmup": 1}, log=False)
    assert real is None
    assert seen[0] == ("train", ["train"], {"train"})  # what it trains on
    assert all(split != "train" for _, splits, got in seen[1:] for split in got)  # the retrieval report
    assert report["train_items"] == len(original(emoji / "train"))
    for key in ("heldout_style/style", "heldout_tone/tone", "heldout_style/subject_top10"):
        assert 0.0 <= report[key] <= 1.0
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def test_model_card_names_emoji_and_its_attribution(emoji):
    from config import preset

    info = preset("emoji", data=str(emoji / "train")).card_info("emoji")
    assert info["data"].startswith("EmojiT2I") and "Twemoji (CC-BY 4.0" in info["attribution"]
    assert "attribution" not in preset("shapes").card_info("shapes")
