"""save_pretrained / from_pretrained: a shareable folder that reads back bitwise, offline, with
clear errors for anything else."""

import json
import os
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from ganblocks import TextToImageGenerator
from t2i_helpers import PROMPTS, SEEDS, fake_run, tiny_generator


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[TextToImageGenerator, Path]:
    G = tiny_generator(seed=3)
    G.training_info = {"data": "my_images", "step": 12, "scores": {"fid": 12.5}}
    folder = tmp_path_factory.mktemp("model")
    G.save_pretrained(folder)
    return G, folder


def test_round_trip_gives_bitwise_identical_images(saved: tuple[TextToImageGenerator, Path]) -> None:
    G, folder = saved
    assert sorted(os.listdir(folder)) == ["README.md", "config.json", "model.safetensors"]
    H = TextToImageGenerator.from_pretrained(folder)
    assert H.config == G.config and not H.training and not any(p.requires_grad for p in H.parameters())
    a, b = G.state_dict(), H.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(G.generate(PROMPTS, SEEDS, truncation_psi=0.7), H.generate(PROMPTS, SEEDS, truncation_psi=0.7))
    assert H.training_info == G.training_info  # carried over, so a re-export keeps its card


def test_config_json_is_the_architecture_plus_format(saved: tuple[TextToImageGenerator, Path]) -> None:
    G, folder = saved
    doc = json.loads((folder / "config.json").read_text())
    assert doc.pop("format") == "ganblocks.text_to_image" and doc.pop("version") == 1
    assert doc.pop("training") == G.training_info
    assert doc == G.config.to_dict()


def test_loading_leaves_the_callers_random_state_alone(saved: tuple[TextToImageGenerator, Path]) -> None:
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    TextToImageGenerator.from_pretrained(saved[1])
    assert torch.equal(torch.rand(3), expected)


def test_offline_local_folder_loads_and_unknown_repo_fails_at_once(
        saved: tuple[TextToImageGenerator, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    assert TextToImageGenerator.from_pretrained(str(saved[1])).config == saved[0].config
    started = time.monotonic()
    with pytest.raises(FileNotFoundError) as info:
        TextToImageGenerator.from_pretrained("someone/no-such-generator")
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert "'someone/no-such-generator'" in message and "HF_HUB_OFFLINE" in message
    assert "save_pretrained" in message and "\n" not in message


def _bad(folder: Path, match: str, error: type = FileNotFoundError) -> None:
    with pytest.raises(error, match=match):
        TextToImageGenerator.from_pretrained(folder)


def test_bad_folders_name_the_path_and_what_was_expected(saved: tuple[TextToImageGenerator, Path],
                                                         tmp_path: Path) -> None:
    _, good = saved
    empty = tmp_path / "empty"
    empty.mkdir()
    _bad(empty, f"{empty} holds neither a saved generator nor a training run; expected a folder written by save_pretrained")
    _bad(tmp_path / "missing", f"{tmp_path / 'missing'}: no such folder; expected")
    _bad(good / "config.json", "is a file; expected a folder")

    only_config = tmp_path / "only_config"
    only_config.mkdir()
    (only_config / "config.json").write_text((good / "config.json").read_text())
    _bad(only_config, f"{only_config} has no model.safetensors; a saved generator holds config.json and model.safetensors")

    def copy_with(name: str, config: str | None = None, weights: dict | None = None) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.json").write_text(config or (good / "config.json").read_text())
        save_file(weights if weights is not None else load_file(good / "model.safetensors"),
                  str(folder / "model.safetensors"))
        return folder

    doc = json.loads((good / "config.json").read_text())
    _bad(copy_with("newer", json.dumps({**doc, "version": 99})), "format version 99.*upgrade ganblocks", ValueError)
    _bad(copy_with("other", json.dumps({**doc, "format": "diffusers"})), "format 'diffusers'", ValueError)
    _bad(copy_with("unknown", json.dumps({**doc, "token_dropout": True})), "unknown generator fields", ValueError)
    _bad(copy_with("notjson", "{not json"), "cannot read .*config.json", ValueError)
    wrong = copy_with("wrong", json.dumps({**doc, "channel_max": 64}))
    _bad(wrong, f"{wrong / 'model.safetensors'} does not hold weights for a generator.*wrong shapes", ValueError)
    partial = dict(load_file(good / "model.safetensors"))
    partial.pop("mapping.x_avg")
    _bad(copy_with("partial", weights=partial), "missing keys: mapping.x_avg", ValueError)
    truncated = copy_with("truncated")
    (truncated / "model.safetensors").write_bytes(b"\x00" * 10)
    _bad(truncated, "cannot read the weights", ValueError)


def test_from_pretrained_also_reads_run_folders(tmp_path: Path) -> None:
    run = fake_run(tmp_path / "run")
    a, b = TextToImageGenerator.from_pretrained(run), TextToImageGenerator.from_run(run)
    assert torch.equal(a.generate(PROMPTS, SEEDS), b.generate(PROMPTS, SEEDS))


def test_half_precision_weights_halve_the_file_and_load_back(tmp_path) -> None:
    G = tiny_generator(3)
    G.save_pretrained(tmp_path / "full")
    G.save_pretrained(tmp_path / "half", weights_dtype=torch.float16)
    full, half = (tmp_path / d / "model.safetensors" for d in ("full", "half"))
    assert half.stat().st_size < 0.6 * full.stat().st_size
    again = TextToImageGenerator.from_pretrained(tmp_path / "half")
    assert all(p.dtype == torch.float32 for p in again.parameters())
    for (k, a), b in zip(G.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a.half().float(), b) if a.is_floating_point() else torch.equal(a, b), k
    with pytest.raises(ValueError, match="floating-point dtype"):
        G.save_pretrained(tmp_path / "int", weights_dtype=torch.int8)


def test_shipped_models_load_by_name_offline(monkeypatch, tmp_path) -> None:
    from ganblocks.t2i import saving

    G = tiny_generator(4)
    G.training_info = {"data": "tiny", "attribution": "Images: somebody, CC-BY-4.0.", "command": "train.py"}
    G.save_pretrained(tmp_path / "models" / "tiny-16", weights_dtype=torch.float16)
    monkeypatch.setattr(saving, "_SHIPPED", tmp_path / "models")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert saving.shipped_models() == ["ganblocks/tiny-16"]
    loaded = TextToImageGenerator.from_pretrained("ganblocks/tiny-16")
    assert loaded.config == G.config and loaded.training_info["attribution"].startswith("Images")
    card = (tmp_path / "models" / "tiny-16" / "README.md").read_text()
    assert "## Licence and attribution" in card and "| training command | train.py |" in card
    with pytest.raises(FileNotFoundError, match="not in the Hugging Face cache"):
        TextToImageGenerator.from_pretrained("ganblocks/not-shipped")


def test_the_installed_package_lists_its_shipped_models() -> None:
    from ganblocks.t2i.saving import shipped_models

    for name in shipped_models():  # each loads by name, from the package alone
        G = TextToImageGenerator.from_pretrained(name)
        assert G.generate(["a test"], [0]).shape[-1] == G.config.resolution
