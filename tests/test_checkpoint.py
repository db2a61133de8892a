"""Checkpoints: round trip, exact resume, atomicity under crashes, failures, untrusted files."""

import errno
import json
import os
import pickle
import random
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file
from torch import nn

from ganblocks.training import (
    EMA,
    CheckpointError,
    capture_rng_state,
    find_checkpoint,
    load_checkpoint,
    load_module_weights,
    read_checkpoint_meta,
    save_checkpoint,
    seed_everything,
)
from ganblocks.training import _files
from ganblocks.training._files import file_digest
from strategies import seeds

tmp_settings = settings(
    max_examples=5, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class Net(nn.Module):
    """A small MLP with dropout (random in training) and BatchNorm (buffers)."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(4, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(0.5)
        )
        self.head = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def adam(net: nn.Module) -> torch.optim.Adam:
    return torch.optim.Adam(net.parameters(), lr=1e-2, betas=(0.0, 0.99), eps=1e-8)


def train_step(net: nn.Module, opt: torch.optim.Optimizer) -> None:
    device = next(net.parameters()).device
    x = torch.randn(8, 4, device=device) * float(np.random.uniform(0.5, 2.0)) + random.random()
    loss = net(x).square().mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def trained(seed: int = 0, steps: int = 2) -> tuple[Net, torch.optim.Adam]:
    torch.manual_seed(seed)
    net = Net()
    opt = adam(net)
    for _ in range(steps):
        train_step(net, opt)
    return net, opt


def snapshot(*objs) -> list:
    out = []
    for obj in objs:
        sd = obj.state_dict()
        if isinstance(obj, torch.optim.Optimizer):
            sd = {i: {k: v.clone() for k, v in s.items()} for i, s in sd["state"].items()}
            out.append(sd)
        else:
            out.append({k: v.clone() for k, v in sd.items()})
    return out


def same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b


def save_run(run: Path, step: int = 1, **kw) -> tuple[Net, Net, torch.optim.Adam]:
    g, opt = trained(seed=step)
    d, _ = trained(seed=step + 100)
    save_checkpoint(run, step=step, modules={"G": g, "D": d}, optimizers={"G": opt},
                    meta={"step": step, "config": {"preset": "tiny"}}, **kw)
    return g, d, opt


# ---------------------------------------------------------------- round trip and layout


def test_round_trip_restores_networks_optimizers_meta(tmp_path):
    g, d, opt = save_run(tmp_path, step=7)
    folder = tmp_path / "checkpoints" / "step-000000007"
    assert sorted(p.name for p in folder.iterdir()) == [
        "D.safetensors", "G.safetensors", "checkpoint.json", "optim-G.safetensors",
        "rng.safetensors",
    ]
    assert (tmp_path / "checkpoints" / "latest").read_text().strip() == folder.name
    g2, d2 = Net(), Net()
    opt2 = adam(g2)
    meta = load_checkpoint(tmp_path, modules={"G": g2, "D": d2}, optimizers={"G": opt2})
    assert meta == {"step": 7, "config": {"preset": "tiny"}}
    assert same(snapshot(g, d, opt), snapshot(g2, d2, opt2))
    assert opt2.param_groups[0]["betas"] == (0.0, 0.99)


def test_tied_weights_and_subsets_load(tmp_path):
    tied = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    tied[1].weight = tied[0].weight
    save_checkpoint(tmp_path, step=0, modules={"tied": tied, "other": Net()}, optimizers={},
                    meta={}, rng=False)
    fresh = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    load_checkpoint(tmp_path, modules={"tied": fresh}, optimizers={}, restore_rng=False)
    assert torch.equal(fresh[1].weight, tied[0].weight)
    with pytest.raises(CheckpointError, match="saved without RNG"):
        load_checkpoint(tmp_path, modules={"tied": fresh}, optimizers={})


def test_saving_and_loading_never_advance_a_generator(tmp_path):
    seed_everything(3)
    g, opt = trained()
    at_save = capture_rng_state().to_parts()
    save_checkpoint(tmp_path, step=1, modules={"G": g}, optimizers={"G": opt}, meta={})
    assert same(at_save, capture_rng_state().to_parts())
    train_step(g, opt)  # draws from every generator
    assert not same(at_save, capture_rng_state().to_parts())
    load_checkpoint(tmp_path, modules={"G": Net()}, optimizers={})
    assert same(at_save, capture_rng_state().to_parts())


# ---------------------------------------------------------------- exact resume


def train(run: Path, total: int, seed: int, *, stop_at: int | None = None, resume=False, rng=True,
          device="cpu"):
    seed_everything(seed)
    net = Net().to(device)
    opt = adam(net)
    ema = EMA(net)
    step = 0
    if resume:
        modules = {"net": net, "net_ema": ema.module}
        meta = load_checkpoint(run, modules=modules, optimizers={"net": opt}, restore_rng=rng,
                               map_location=device)
        step = meta["step"]
    while step < total:
        train_step(net, opt)
        ema.update(net, batch_size=8, images_seen=8 * step)
        step += 1
        if step == stop_at:  # the process "dies" right after this checkpoint
            save_checkpoint(run, step=step, modules={"net": net, "net_ema": ema.module},
                            optimizers={"net": opt}, meta={"step": step})
            return None
    return snapshot(net, ema.module, opt)


@tmp_settings
@given(seed=seeds, total=st.integers(min_value=2, max_value=8), data=st.data())
def test_resume_is_bitwise_identical_on_cpu(tmp_path_factory, seed, total, data):
    run = tmp_path_factory.mktemp("run")
    stop = data.draw(st.integers(min_value=1, max_value=total - 1))
    uninterrupted = train(run / "a", total, seed)
    assert train(run / "b", total, seed, stop_at=stop) is None
    resumed = train(run / "b", total, seed, resume=True)
    assert same(uninterrupted, resumed)


@pytest.mark.cuda
def test_resume_is_bitwise_identical_on_cuda(tmp_path):
    uninterrupted = train(tmp_path / "a", 6, 0, device="cuda")
    train(tmp_path / "b", 6, 0, stop_at=3, device="cuda")
    resumed = train(tmp_path / "b", 6, 0, resume=True, device="cuda")
    assert same(uninterrupted, resumed)  # Adam's step counts stay on the CPU, as in a fresh run
    assert next(iter(resumed[2].values()))["exp_avg"].is_cuda


def test_resume_without_the_rng_state_diverges(tmp_path):
    # Shows the test above can fail: dropout masks depend on the restored generator.
    uninterrupted = train(tmp_path / "a", 6, 0)
    train(tmp_path / "b", 6, 0, stop_at=3)
    resumed = train(tmp_path / "b", 6, 0, resume=True, rng=False)
    assert not same(uninterrupted, resumed)


# ---------------------------------------------------------------- finding checkpoints


def test_find_checkpoint_resolves_every_kind_of_path(tmp_path):
    for step in (3, 10, 5):
        save_run(tmp_path, step=step, keep=5)
    root = tmp_path / "checkpoints"
    assert find_checkpoint(tmp_path) == root / "step-000000005"  # latest, not the highest
    assert find_checkpoint(root) == root / "step-000000005"
    assert find_checkpoint(root / "step-000000003") == root / "step-000000003"
    assert find_checkpoint(root / "step-000000003" / "checkpoint.json") == root / "step-000000003"
    assert read_checkpoint_meta(root / "step-000000010")["step"] == 10
    (root / "latest").unlink()
    assert find_checkpoint(tmp_path) == root / "step-000000010"
    (root / "latest").write_text("step-000000099\n")
    with pytest.warns(UserWarning, match="missing"):
        assert find_checkpoint(tmp_path) == root / "step-000000010"
    (root / "latest").write_text("../../etc\n")  # not a step name: ignored
    assert find_checkpoint(tmp_path) == root / "step-000000010"


def test_find_checkpoint_explains_what_is_missing(tmp_path):
    with pytest.raises(CheckpointError, match="not an existing folder"):
        find_checkpoint(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        find_checkpoint(tmp_path)


def test_only_the_newest_keep_remain(tmp_path):
    for step in range(1, 6):
        save_run(tmp_path, step=step, keep=2)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["latest", "step-000000004", "step-000000005"]


def test_pruning_never_deletes_the_latest(tmp_path):
    save_run(tmp_path, step=10, keep=1)
    save_run(tmp_path, step=4, keep=1)  # e.g. a run restarted from an earlier checkpoint
    assert find_checkpoint(tmp_path).name == "step-000000004"
    assert read_checkpoint_meta(tmp_path)["step"] == 4


# ---------------------------------------------------------------- crashes and failing disks

SNAPPED = ["write_tensors", "write_bytes", "write_text_atomic", "rename", "remove_tree",
           "fsync_dir"]


@pytest.mark.parametrize("replace", [False, True], ids=["new-step", "same-step"])
def test_a_crash_at_any_moment_leaves_a_complete_latest(tmp_path, monkeypatch, replace):
    run = tmp_path / "run"
    old = Net()
    nn.init.constant_(old.head.weight, 1.0)
    save_checkpoint(run, step=1, modules={"net": old}, optimizers={}, meta={"v": 1}, keep=1)
    snaps: list[Path] = []

    def snap():  # the disk as a process killed right now would leave it
        dst = tmp_path / f"snap{len(snaps)}"
        shutil.copytree(run, dst)
        snaps.append(dst)

    for name in SNAPPED:
        original = getattr(_files, name)

        def wrapped(*args, _original=original):
            out = _original(*args)
            snap()
            return out

        monkeypatch.setattr(_files, name, wrapped)
    new = Net()
    nn.init.constant_(new.head.weight, 2.0)
    save_checkpoint(run, step=1 if replace else 2, modules={"net": new}, optimizers={},
                    meta={"v": 2}, keep=1)
    monkeypatch.undo()
    seen = set()
    for s in snaps:
        net = Net()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a crash leaves nothing to warn about
            meta = load_checkpoint(s, modules={"net": net}, optimizers={}, restore_rng=False)
        assert torch.all(net.head.weight == meta["v"])
        seen.add(meta["v"])
        save_checkpoint(s, step=3, modules={"net": net}, optimizers={}, meta={"v": 3}, keep=1)
        assert sorted(p.name for p in (s / "checkpoints").iterdir()) == ["latest", "step-000000003"]
    assert seen == {1, 2} and len(snaps) > 8


@pytest.mark.parametrize(
    "target, err",
    [
        ("write_tensors", OSError(errno.ENOSPC, "No space left on device")),
        ("write_bytes", OSError(errno.ENOSPC, "No space left on device")),
        ("rename", OSError(errno.EROFS, "Read-only file system")),
        ("write_text_atomic", PermissionError(errno.EACCES, "Permission denied")),
    ],
)
def test_write_failures_raise_and_keep_the_previous_checkpoint(tmp_path, monkeypatch, target,
                                                              err):
    g, _, _ = save_run(tmp_path, step=1)

    def fail(*args):
        raise err

    monkeypatch.setattr(_files, target, fail)
    with pytest.raises(CheckpointError, match=f"{err.strerror}.*step-000000001.*intact"):
        save_run(tmp_path, step=2)
    monkeypatch.undo()
    leftovers = [p.name for p in (tmp_path / "checkpoints").iterdir() if p.name.startswith(".")]
    assert leftovers == []
    net = Net()
    assert load_checkpoint(tmp_path, modules={"G": net}, optimizers={})["step"] == 1
    assert same(snapshot(net), snapshot(g))


@pytest.mark.skipif(getattr(os, "geteuid", lambda: 0)() == 0, reason="root ignores permissions")
def test_read_only_run_folder_raises_a_clear_error(tmp_path):
    save_run(tmp_path, step=1)
    (tmp_path / "checkpoints").chmod(0o555)
    try:
        with pytest.raises(CheckpointError, match="intact"):
            save_run(tmp_path, step=2)
    finally:
        (tmp_path / "checkpoints").chmod(0o755)
    assert read_checkpoint_meta(tmp_path)["step"] == 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(meta={"bad": {1, 2}}), "set"),
        (dict(meta={"bad": torch.zeros(1)}), "Tensor"),
        (dict(meta={"nested": {3: "int key"}}), "non-string key"),
        (dict(modules={"../G": Net()}), "name"),
        (dict(modules={"rng": Net()}), "rng"),
        (dict(modules={"g": Net(), "G": Net()}), "distinct"),
        (dict(modules={"optim-G": Net()}, optimizers={"G": adam(Net())}), "distinct"),
        (dict(step=-1), "step"),
        (dict(keep=0), "keep"),
    ],
)
def test_bad_arguments_write_nothing(tmp_path, kwargs, match):
    args = dict(step=1, modules={"G": Net()}, optimizers={}, meta={})
    with pytest.raises(ValueError, match=match):
        save_checkpoint(tmp_path, **{**args, **kwargs})
    assert not (tmp_path / "checkpoints").exists()


# ---------------------------------------------------------------- untrusted files


class Plant:
    """Unpickling this creates ``marker`` (what a malicious checkpoint would do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def resign(folder: Path) -> None:
    """Record the files' current sizes and hashes, as an attacker controlling them all would."""
    doc = json.loads((folder / "checkpoint.json").read_text())
    for name in doc["files"]:
        size, sha = file_digest(folder / name)
        doc["files"][name] = {"bytes": size, "sha256": sha}
    (folder / "checkpoint.json").write_text(json.dumps(doc))


def edit_json(folder: Path, change) -> None:
    doc = json.loads((folder / "checkpoint.json").read_text())
    change(doc)
    (folder / "checkpoint.json").write_text(json.dumps(doc))


def assert_refused(run: Path, match: str) -> None:
    """Loading must fail naming the problem, and leave networks, optimizer and RNG untouched."""
    g, d = Net(), Net()
    opt = adam(g)
    train_step(g, opt)
    before = snapshot(g, d, opt)
    rng_before = capture_rng_state().to_parts()
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(run, modules={"D": d, "G": g}, optimizers={"G": opt})
    assert same(before, snapshot(g, d, opt))
    assert same(rng_before, capture_rng_state().to_parts())


@pytest.mark.parametrize("fmt", ["pickle", "torch.save"])
@pytest.mark.parametrize("resigned", [False, True])
def test_a_planted_pickle_never_runs(tmp_path, fmt, resigned):
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(Plant(probe)))
    assert probe.exists()  # the payload works when unpickled
    save_run(tmp_path / "run")
    folder = find_checkpoint(tmp_path / "run")
    marker = tmp_path / "marker"
    if fmt == "pickle":
        (folder / "G.safetensors").write_bytes(pickle.dumps(Plant(marker)))
    else:
        torch.save(Plant(marker), folder / "G.safetensors")
    if resigned:
        resign(folder)
    assert_refused(tmp_path / "run", "G.safetensors is a pickle or torch.save file")
    assert not marker.exists()


def test_a_pickle_as_checkpoint_json_is_refused(tmp_path):
    save_run(tmp_path)
    marker = tmp_path / "marker"
    (find_checkpoint(tmp_path) / "checkpoint.json").write_bytes(pickle.dumps(Plant(marker)))
    assert_refused(tmp_path, "checkpoint.json")
    assert not marker.exists()


@pytest.mark.parametrize("resigned", [False, True])
@pytest.mark.parametrize("victim", ["D.safetensors", "optim-G.safetensors", "rng.safetensors"])
def test_truncated_files_are_refused(tmp_path, victim, resigned):
    save_run(tmp_path)
    path = find_checkpoint(tmp_path) / victim
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 7])
    if resigned:
        resign(path.parent)
    why = " is not a valid safetensors" if resigned else " is .* bytes"
    assert_refused(tmp_path, victim + why)


def test_a_flipped_byte_is_refused(tmp_path):
    save_run(tmp_path)
    path = find_checkpoint(tmp_path) / "D.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert_refused(tmp_path, "D.safetensors does not match its SHA-256")


def test_a_missing_file_is_refused(tmp_path):
    save_run(tmp_path)
    (find_checkpoint(tmp_path) / "optim-G.safetensors").unlink()
    assert_refused(tmp_path, "optim-G.safetensors is missing")


@pytest.mark.parametrize(
    "tensors, match",
    [
        (lambda sd: {**sd, "extra.weight": torch.zeros(2)}, r"unexpected keys \[extra.weight\]"),
        (lambda sd: {k: v for k, v in sd.items() if k != "head.bias"},
         r"missing keys \[head.bias\]"),
        (lambda sd: {**sd, "head.weight": torch.zeros(1, 9)}, r"head.weight: file \[1, 9\]"),
        (lambda sd: {"renamed." + k: v for k, v in sd.items()}, "missing keys"),
    ],
)
def test_wrong_tensor_names_or_shapes_are_refused(tmp_path, tensors, match):
    save_run(tmp_path)
    folder = find_checkpoint(tmp_path)
    sd = {k: v.clone() for k, v in Net().state_dict().items()}
    save_file(tensors(sd), folder / "G.safetensors")
    resign(folder)
    assert_refused(tmp_path, "G.safetensors does not fit network 'G': .*" + match)


def test_a_network_of_another_size_is_refused_before_anything_loads(tmp_path):
    save_run(tmp_path)
    g, d = Net(width=16), Net()  # D would load fine, but G must not leave D half-done
    before = snapshot(g, d)
    with pytest.raises(CheckpointError, match="shape mismatches"):
        load_checkpoint(tmp_path, modules={"D": d, "G": g}, optimizers={})
    assert same(before, snapshot(g, d))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: torch.optim.SGD(Net().parameters(), lr=0.1), "saved from a Adam optimizer"),
        (lambda: adam(Net(width=16)), "parameter 0 has shape"),
        (lambda: torch.optim.Adam([{"params": Net().body.parameters()},
                                   {"params": Net().head.parameters()}]), "parameter group"),
    ],
)
def test_an_optimizer_of_another_structure_is_refused(tmp_path, make, match):
    save_run(tmp_path)
    opt = make()
    with pytest.raises(CheckpointError, match="optim-G.safetensors does not fit.*" + match):
        load_checkpoint(tmp_path, modules={}, optimizers={"G": opt})
    assert opt.state_dict()["state"] == {}


def test_optimizer_state_of_the_wrong_shape_is_refused(tmp_path):
    save_run(tmp_path)
    folder = find_checkpoint(tmp_path)
    path = folder / "optim-G.safetensors"
    tensors = _files.read_tensors(path)
    tensors["state.0.exp_avg"] = tensors["state.0.exp_avg"].t().contiguous()
    save_file(tensors, path)
    resign(folder)
    assert_refused(tmp_path, "state.0.exp_avg' has shape")


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda d: d.update(surprise=1), r"unknown field\(s\) \['surprise'\]"),
        (lambda d: d.pop("meta"), r"missing field\(s\) \['meta'\]"),
        (lambda d: d.update(version=2), "newer than this ganblocks"),
        (lambda d: d.update(format="other"), "'format'"),
        (lambda d: d.update(step=-3), "'step'"),
        (lambda d: d["files"].update({"../../x.safetensors": d["files"]["G.safetensors"]}),
         "'files' lists"),
        (lambda d: d.update(modules=["G", "../D"]), "name"),
        (lambda d: d["rng"]["python"].update(version=9), "Python RNG state version"),
        (lambda d: d["rng"].pop("numpy"), "RNG info"),
        (lambda d: d["optimizers"]["G"].pop("param_shapes"), "fields"),
        (lambda d: d["optimizers"]["G"]["state"].update({"99": {}}), "state index '99'"),
        (lambda d: d["files"]["G.safetensors"].update(sha256="x"), "64 hex"),
    ],
)
def test_a_damaged_checkpoint_json_is_refused(tmp_path, change, match):
    save_run(tmp_path)
    edit_json(find_checkpoint(tmp_path), change)
    assert_refused(tmp_path, match)


def test_non_json_in_checkpoint_json_is_refused(tmp_path):
    save_run(tmp_path)
    (find_checkpoint(tmp_path) / "checkpoint.json").write_text("{not json")
    assert_refused(tmp_path, "not valid JSON")


def test_strict_false_skips_what_is_absent_with_a_warning(tmp_path):
    saved_g, _, _ = save_run(tmp_path)
    with pytest.raises(CheckpointError, match="no network 'E'"):
        load_checkpoint(tmp_path, modules={"E": Net()}, optimizers={})
    g, e = Net(), nn.ModuleDict({"G": Net()})
    e_before = snapshot(e)
    with pytest.warns(UserWarning, match="no network 'E'"):
        load_checkpoint(tmp_path, modules={"G": g, "E": e}, optimizers={}, strict=False)
    assert same(snapshot(e), e_before)
    assert same(snapshot(g), snapshot(saved_g))


def test_strict_false_loads_the_matching_keys_of_a_grown_network(tmp_path):
    saved_g, _, _ = save_run(tmp_path)
    grown = Net()
    grown.extra = nn.Linear(2, 2)
    extra_before = snapshot(grown.extra)
    with pytest.raises(CheckpointError, match=r"missing keys \[extra.bias, extra.weight\]"):
        load_checkpoint(tmp_path, modules={"G": grown}, optimizers={})
    with pytest.warns(UserWarning, match="missing keys"):
        load_checkpoint(tmp_path, modules={"G": grown}, optimizers={}, strict=False)
    assert same(snapshot(grown.extra), extra_before)
    assert same(snapshot(grown.head), snapshot(saved_g.head))


# ---------------------------------------------------------------- one network into a grown one


def grown_net() -> Net:
    net = Net()
    net.extra = nn.Linear(2, 2)
    return net


def test_load_module_weights_fills_a_grown_network_and_names_what_it_left(tmp_path):
    saved_g, _, _ = save_run(tmp_path)
    grown = grown_net()
    extra_before = snapshot(grown.extra)
    left = load_module_weights(tmp_path, "G", grown, allow_missing_prefixes=("extra.",))
    assert left == ["extra.bias", "extra.weight"]
    assert same(snapshot(grown.extra), extra_before)
    assert same(snapshot(grown.body, grown.head), snapshot(saved_g.body, saved_g.head))


@pytest.mark.parametrize("change,match", [
    (lambda net: setattr(net, "extra", nn.Linear(2, 2)), r"missing keys \[extra.bias, extra.weight\]"),
    (lambda net: setattr(net, "head", nn.Linear(8, 3)), r"shape mismatches \[head.bias: file \[1\] vs network \[3\]"),
    (lambda net: setattr(net, "head", nn.Identity()), r"unexpected keys \[head.bias, head.weight\]"),
])
def test_load_module_weights_refuses_what_does_not_fit_and_changes_nothing(tmp_path, change, match):
    save_run(tmp_path)
    net = Net()
    change(net)
    before = snapshot(net)
    with pytest.raises(CheckpointError, match=match):
        load_module_weights(tmp_path, "G", net, allow_missing_prefixes=("head.",))
    assert same(snapshot(net), before)


def test_load_module_weights_refuses_damaged_files_and_unknown_names(tmp_path):
    save_run(tmp_path)
    with pytest.raises(CheckpointError, match="no network 'E'"):
        load_module_weights(tmp_path, "E", Net())
    target = find_checkpoint(tmp_path) / "G.safetensors"
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    net = Net()
    before = snapshot(net)
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_module_weights(tmp_path, "G", net)
    assert same(snapshot(net), before)


# ---------------------------------------------------------------- real kills (slow)

KILL_SCRIPT = """
import sys, torch
from torch import nn
from ganblocks.training import save_checkpoint
net = nn.Linear(64, 64)
for step in range(1, 10**6):
    with torch.no_grad():
        net.weight.fill_(step); net.bias.fill_(step)
    save_checkpoint(sys.argv[1], step=step, modules={"net": net}, optimizers={},
                    meta={"step": step}, keep=2)
"""


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(2))
def test_sigkill_during_saves_leaves_a_loadable_checkpoint(tmp_path, trial):
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(tmp_path)])
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "checkpoints" / "latest").exists():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        time.sleep(random.Random(trial).uniform(0.05, 1.0))
    finally:
        proc.kill()
        proc.wait()
    net = nn.Linear(64, 64)
    meta = load_checkpoint(tmp_path, modules={"net": net}, optimizers={})
    assert meta["step"] >= 1 and torch.all(net.weight == meta["step"])
