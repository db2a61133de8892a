"""One training iteration's generator forward passes: computed once and kept for the G step when
there is one accumulation round, recomputed otherwise, with the same result either way."""

import pytest
import torch

from train_helpers import differing, latest, tensors
from train_helpers import train_here as train

STEPS = ["--steps", "3"]  # the third step is stage 2: both stages are covered


def count_forwards(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record every generator forward of the training steps: whether it kept a graph."""
    import step as step_module

    calls: list[bool] = []
    fakes = step_module.TrainStep._fakes

    def counted(self, *args, **kwargs):
        calls.append(torch.is_grad_enabled())
        return fakes(self, *args, **kwargs)

    monkeypatch.setattr(step_module.TrainStep, "_fakes", counted)
    return calls


def test_one_round_runs_the_generator_once_per_step(tmp_path, monkeypatch) -> None:
    calls = count_forwards(monkeypatch)
    train(*STEPS, "--batch-per-device", "8", "--out", str(tmp_path / "run"))
    assert calls == [True] * 3  # one forward per step, with its graph, used by both steps


def test_accumulation_recomputes_the_generator_forward(tmp_path, monkeypatch) -> None:
    calls = count_forwards(monkeypatch)
    train(*STEPS, "--out", str(tmp_path / "run"))  # batch 8 = 2 rounds of 4
    assert calls == [False, False, True, True] * 3  # the D step without graphs, then the G step's


def test_keeping_the_fakes_equals_recomputing_them(tmp_path, monkeypatch) -> None:
    import step as step_module

    train(*STEPS, "--batch-per-device", "8", "--out", str(tmp_path / "kept"))
    monkeypatch.setattr(step_module.TrainStep, "keeps_fakes", lambda self: False)
    train(*STEPS, "--batch-per-device", "8", "--out", str(tmp_path / "recomputed"))
    a, b = tensors(latest(tmp_path / "kept")), tensors(latest(tmp_path / "recomputed"))
    close = [k for k in differing(a, b) if not torch.allclose(a[k], b[k], rtol=1e-5, atol=1e-6)]
    assert not close, f"{len(close)} tensors differ beyond float tolerance, e.g. {close[:4]}"


def test_stage_1_encodes_captions_once_and_stage_2_twice(tmp_path, monkeypatch) -> None:
    """While G's text encoder is the frozen CLIP's text tower, one text pass gives both the D
    condition and G's encoding; once stage 2 trains it, the frozen CLIP encodes the captions again.
    Sharing gives the very numbers the frozen CLIP would."""
    import step as step_module

    calls: list[bool] = []
    batch = step_module.TrainStep._batch

    def checked(self, step, r):
        b = batch(self, step, r)
        calls.append(self.shares_text_encoder)
        with torch.no_grad():
            assert torch.equal(b.c, self.clip.encode_text(b.captions))  # shared or not, the CLIP's embedding
        return b

    monkeypatch.setattr(step_module.TrainStep, "_batch", checked)
    train(*STEPS, "--batch-per-device", "8", "--out", str(tmp_path / "run"))
    assert calls == [True, True, False]  # steps 1-2: stage 1; step 3: stage 2
