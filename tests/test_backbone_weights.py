"""ganblocks.backbones' weights files: weights files that cannot be used say why, and how to pass usable ones."""

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from ganblocks import create_clip, create_dino_backbone
from ganblocks.backbones import WeightsError, WeightsFileNotFoundError, WeightsUnavailableError
from ganblocks.backbones import load_strict, read_weights_file


def test_a_weights_error_names_the_argument_it_came_from() -> None:
    err = WeightsError("file 'w' does not exist.")
    assert str(err) == ("file 'w' does not exist. Pass pretrained=<path to a .safetensors file> (see the "
                        "'Pretrained networks' page) or pretrained=False for random weights.")
    flag = err.for_argument("--clip-weights")
    assert "Pass --clip-weights <path" in str(flag) and "--clip-weights none for random" in str(flag)
    assert "pretrained" not in str(flag) and flag.problem == err.problem
    assert str(WeightsError("no hint.", hint=None)) == "no hint."
    # kept compatible with the built-in types they were before
    assert isinstance(WeightsFileNotFoundError("x"), FileNotFoundError)
    assert isinstance(WeightsUnavailableError("x").for_argument("--x"), RuntimeError)


def test_missing_folder_garbage_and_foreign_files_are_told_apart(tmp_path: Path) -> None:
    with pytest.raises(WeightsFileNotFoundError, match="'.*nope.safetensors' does not exist"):
        read_weights_file(tmp_path / "nope.safetensors")
    with pytest.raises(WeightsError, match="is a folder"):
        read_weights_file(tmp_path)
    (tmp_path / "bad.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(WeightsError, match="cannot be read as .safetensors .*truncated or not a weights file"):
        read_weights_file(tmp_path / "bad.safetensors")
    (tmp_path / "bad.pt").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(WeightsError, match="cannot be read as .pt"):
        read_weights_file(tmp_path / "bad.pt")
    (tmp_path / "w.npz").write_bytes(b"")
    with pytest.raises(WeightsError, match="suffix '.npz'"):
        read_weights_file(tmp_path / "w.npz")
    save_file({"weight": torch.zeros(2, 3)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(WeightsError, match="does not hold weights for a linear layer; nothing was loaded. "
                                           "1 missing keys: bias"):
        load_strict(torch.nn.Linear(3, 2), read_weights_file(tmp_path / "other.safetensors"),
                    source="'other.safetensors'", expected="a linear layer")


def test_a_missing_file_is_called_missing_not_an_unknown_tag(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.safetensors")
    for build in (lambda: create_clip("tiny", pretrained=missing), lambda: create_clip(pretrained=missing),
                  lambda: create_dino_backbone("tiny", pretrained=missing)):
        with pytest.raises(WeightsFileNotFoundError) as err:
            build()
        message = str(err.value)
        assert "missing.safetensors' does not exist" in message and "pretrained=<path" in message
        assert "no published weights" not in message and "weights tag" not in message
    with pytest.raises(WeightsError, match=r"no published weights \(pretrained='openai'\)"):
        create_clip("tiny", pretrained="openai")
