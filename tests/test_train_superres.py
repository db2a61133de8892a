"""The super-resolution stage: a 32 px run grows to 64 px, carrying every trained weight over."""

from pathlib import Path

import pytest
import torch

from train_helpers import NETWORKS, TINY, latest, tensors

NEW = "synthesis.blocks.b64."


def train(*args: str) -> dict:
    import train as train_module

    return train_module.main([*TINY, *args])


def grow(low: Path, out: Path, *args: str) -> dict:
    return train("--stage", "superres", "--resume", str(low), "--resolution", "64", "--out", str(out), *args)


@pytest.fixture(scope="module")
def low(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 32 px run of 2 steps."""
    out = tmp_path_factory.mktemp("superres") / "low"
    train("--steps", "2", "--stage", "generator", "--out", str(out))
    return out


def lower_weights(t: dict[str, torch.Tensor], *, torgb: bool) -> list[str]:
    """G's parameters of the 32 px network (buffers left out), with or without the toRGB layers."""
    return [k for k in t if k.startswith(("G/mapping.", "G/synthesis.")) and NEW not in k
            and ("torgb" in k) == torgb and not k.endswith(("x_avg", "noise_const"))]


@pytest.fixture(scope="module")
def grown(low: Path) -> Path:
    """The 64 px run right after growing: as many steps as the 32 px run, so none trained."""
    out = low.parent / "grown"
    summary = grow(low, out, "--steps", "2")
    assert summary["step"] == 2 and summary["stage"] == "superres"
    return out


def test_carried_weights_equal_the_trained_ones_before_the_first_step(low: Path, grown: Path) -> None:
    old, new = tensors(latest(low), NETWORKS), tensors(latest(grown), NETWORKS)
    assert set(old) < set(new)
    assert all(torch.equal(old[k], new[k]) for k in old), "a carried tensor changed"
    assert {k.split("/")[0] for k in set(new) - set(old)} == {"G", "G_ema"}
    assert all(k.split("/")[1].startswith(NEW) for k in set(new) - set(old))
    assert not tensors(latest(grown), ("optim-G", "optim-D")), "optimizer state should start fresh"
    from ganblocks.training import read_checkpoint_meta

    meta = read_checkpoint_meta(grown)
    assert meta["config"]["generator"]["resolution"] == meta["generator"]["resolution"] == 64
    assert meta["superres"] == {"lower_resolution": 32, "freeze_lower": False}


def test_freeze_lower_trains_only_new_blocks_and_torgb_also_after_resume(low: Path, grown: Path, tmp_path: Path) -> None:
    old, init = tensors(latest(low), ("G",)), tensors(latest(grown), ("G",))
    grow(low, tmp_path / "frozen", "--steps", "4", "--freeze-lower")
    train("--resume", str(tmp_path / "frozen"), "--resolution", "64", "--steps", "5")  # a plain resume stays frozen
    after = tensors(latest(tmp_path / "frozen"), ("G",))
    frozen = lower_weights(old, torgb=False)
    assert frozen and all(torch.equal(old[k], after[k]) for k in frozen), "a frozen lower weight changed"
    assert all(not torch.equal(old[k], after[k]) for k in lower_weights(old, torgb=True) if k.endswith("weight"))
    new_weights = [k for k in init if NEW in k and k.endswith("weight")]
    assert new_weights and all(not torch.equal(init[k], after[k]) for k in new_weights)


def test_without_freeze_every_generator_weight_trains(low: Path, tmp_path: Path) -> None:
    old = tensors(latest(low), ("G",))
    grow(low, tmp_path / "all", "--steps", "4")
    after = tensors(latest(tmp_path / "all"), ("G",))
    changed = [k for k in lower_weights(old, torgb=False) if not torch.equal(old[k], after[k])]
    assert len(changed) > 0.9 * len(lower_weights(old, torgb=False))


def test_new_blocks_and_torgb_are_the_only_trainable_parts_with_freeze_lower() -> None:
    import dataclasses

    from config import preset
    from model import build_generator, create_frozen_clip
    from superres import superres_trainable

    cfg = preset("shapes", resolution=64, channel_base=2048, channel_max=32, z_dim=8, clip_weights=None)
    G = build_generator(cfg, create_frozen_clip(dataclasses.replace(cfg, clip_weights=None)))
    G.requires_grad_(False)
    superres_trainable(G, lower_resolution=32, freeze_lower=True)
    trainable = {n for n, p in G.named_parameters() if p.requires_grad}
    assert trainable == {n for n, _ in G.named_parameters() if n.startswith("synthesis.blocks.b64.") or ".torgb." in n}
    superres_trainable(G, lower_resolution=32, freeze_lower=False)
    assert {n for n, p in G.named_parameters() if p.requires_grad} == {
        n for n, _ in G.named_parameters() if n.startswith(("mapping.", "synthesis."))}


@pytest.mark.parametrize("args,needle", [
    (["--resolution", "32"], "needs --resolution above the checkpoint's 32"),
    (["--resolution", "64", "--channel-base", "4096", "--channel-max", "64"], "shape mismatches"),
])
def test_a_checkpoint_that_cannot_grow_is_a_one_line_error(low: Path, tmp_path: Path, capsys, args, needle) -> None:
    with pytest.raises(SystemExit) as e:
        train("--stage", "superres", "--resume", str(low), "--out", str(tmp_path / "x"), "--steps", "3", *args)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and needle in err[-1]
