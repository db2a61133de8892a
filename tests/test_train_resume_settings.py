"""A resume trains with the learning rates and Adam betas on its command line, not with the ones
the optimizer states were saved with (loading an optimizer's state also loads its settings)."""

import json
from pathlib import Path

from train_helpers import differing, latest, tensors
from train_helpers import train_here as train

CHANGED = ["--lr-g", "0.001", "--lr-text", "3e-05", "--lr-d", "0.0005", "--adam-beta2", "0.9"]


def saved_settings(run: Path) -> dict[str, tuple[float, list[float]]]:
    info = json.loads((latest(run) / "checkpoint.json").read_text())["optimizers"]
    return {name: (opt["param_groups"][0]["lr"], opt["param_groups"][0]["betas"]) for name, opt in info.items()}


def test_a_resume_uses_the_learning_rates_it_is_given(tmp_path: Path) -> None:
    train("--steps", "2", "--out", str(tmp_path / "cut"))
    assert saved_settings(tmp_path / "cut") == {"G": (0.002, [0.0, 0.99]), "text": (1e-4, [0.0, 0.99]),
                                                  "D": (0.002, [0.0, 0.99])}
    for name in ("plain", "changed"):  # steps 3 (stage 1) and 4 (stage 2) from the same checkpoint
        train("--resume", str(latest(tmp_path / "cut")), "--out", str(tmp_path / name), "--steps", "4",
              *(CHANGED if name == "changed" else []))
    assert saved_settings(tmp_path / "changed") == {"G": (0.001, [0.0, 0.9]), "text": (3e-05, [0.0, 0.9]),
                                                      "D": (0.0005, [0.0, 0.9])}
    assert saved_settings(tmp_path / "plain") == saved_settings(tmp_path / "cut")
    plain, changed = tensors(latest(tmp_path / "plain")), tensors(latest(tmp_path / "changed"))
    moved = differing(plain, changed)
    for prefix in ("G/synthesis.", "G/text_encoder.", "D/"):
        assert any(k.startswith(prefix) for k in moved), f"no {prefix} tensor was trained differently"
