"""The StyleGAN-T example's mode-seeking diversity term: how the fakes pair up, that the term is
logged and trained through both stages, resumed bitwise, and off by default."""

import json
from pathlib import Path

import pytest
import torch
from hypothesis import given, strategies as st

from train_helpers import NETWORKS, OPTIMIZERS, TINY, differing, latest, tensors

DIVERSE = ["--g-diversity-weight", "1"]


def train(*args: str) -> dict:
    import train as train_module

    return train_module.main([*TINY, *args])


@given(n=st.integers(1, 65))
def test_paired_rows_give_half_the_fakes_a_twin_and_keep_every_caption_once_before(n):
    from step import paired_rows

    rows, pairs = paired_rows(n)
    assert len(rows) == n and pairs == n // 2
    assert rows[:n - pairs] == list(range(n - pairs))  # the first fakes take their own captions
    assert rows[:pairs] == rows[n - pairs:]  # fakes[:pairs] and fakes[-pairs:] share captions


def test_make_batch_pairs_the_fakes_conditions_and_leaves_the_reals_alone():
    import ganblocks
    from step import make_batch

    n = 5
    captions = [f"caption {i}" for i in range(n)]
    reals, c = torch.randn(n, 3, 4, 4), torch.randn(n, 6)
    c_g = ganblocks.TextEncoding(torch.randn(n, 6), torch.randn(n, 7, 8), torch.ones(n, 7, dtype=torch.bool))
    plain = make_batch(0, reals, captions, c, c_g, paired=False)
    assert plain.pairs == 0 and plain.rows is None and plain.fake_captions is captions and plain.c_fake is c
    batch = make_batch(0, reals, captions, c, c_g, paired=True)
    assert batch.pairs == 2 and batch.captions == captions and batch.reals is reals and batch.c is c
    assert batch.fake_captions == ["caption 0", "caption 1", "caption 2", "caption 0", "caption 1"]
    torch.testing.assert_close(batch.c_fake[-2:], c[:2])
    for got, full in zip(batch.c_g, c_g):
        torch.testing.assert_close(got, full[[0, 1, 2, 0, 1]])


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("diversity") / "run"
    train(*DIVERSE, "--steps", "4", "--out", str(out))
    return out


def _logged(run: Path) -> list[dict]:
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [x for x in lines if "loss_div" in x]


@pytest.mark.slow
def test_logged_in_both_stages_and_it_changes_training(run: Path, tmp_path: Path) -> None:
    logged = _logged(run)
    assert {x["stage"] for x in logged} == {"generator", "text-encoder"}
    assert all(0 < x["loss_div"] < 10 for x in logged)  # -log of a blurred distance in (0, 2]
    plain = tmp_path / "plain"
    train("--steps", "1", "--out", str(plain))
    assert all(x["loss_div"] == 0 for x in _logged(plain))  # off by default
    one = tmp_path / "one"
    train(*DIVERSE, "--steps", "1", "--out", str(one))
    assert differing(tensors(latest(one), ("G",)), tensors(latest(plain), ("G",)))


@pytest.mark.slow
def test_resume_equals_an_uninterrupted_run(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "resumed"
    train(*DIVERSE, "--steps", "2", "--out", str(out))
    train("--resume", str(out), "--steps", "4")
    names = (*NETWORKS, *OPTIMIZERS)
    assert differing(tensors(latest(out), names), tensors(latest(run), names)) == []


def test_a_negative_weight_or_blur_is_refused(tmp_path: Path) -> None:
    for flag in ("--g-diversity-weight", "--g-diversity-sigma"):
        with pytest.raises(SystemExit) as err:
            train(flag, "-1", "--steps", "1", "--out", str(tmp_path / "bad"))
        assert err.value.code == 2
        assert not (tmp_path / "bad").exists()
