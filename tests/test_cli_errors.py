"""Every command-line tool, walked through bad input: missing, unreadable and wrong-architecture
weights (files and checkpoints), and nonsense arguments.

Each case runs the tool in a fresh process and asserts what a person at a terminal sees: exit code
2, exactly one line on stderr, starting with ``error:``, naming the culprit (a path, a flag), no
traceback, and nothing written or changed (the run folder being resumed, the output folder).

One test per class of problem, parametrised over the tools. By default each tool meets one weights
class (rotating) and every class meets several tools; ``GANBLOCKS_CLI_CASES=all`` runs the whole
matrix (33 weights cases).
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from train_helpers import EXAMPLE, TINY, env

REPO = EXAMPLE.parents[1]
ALL_CASES = os.environ.get("GANBLOCKS_CLI_CASES", "").strip().lower() == "all"
CLASSES = ("missing", "unreadable", "wrong_architecture")

# Every command-line tool: how it is started.
TOOLS: dict[str, list[str]] = {
    "train": [str(EXAMPLE / "train.py")],
    "generate": [str(EXAMPLE / "generate.py")],
    "evaluate": [str(EXAMPLE / "evaluate.py")],
    "pretrain": [str(EXAMPLE / "pretrain.py")],
    "diagnose": [str(EXAMPLE / "diagnose.py")],
    "ablation": [str(EXAMPLE / "ablation.py")],
    "metrics": ["-m", "ganblocks.metrics"],
    "pack": ["-m", "ganblocks.data.pack"],
}


# --- what the tests read and write -----------------------------------------------------------------
def tree_digest(folder: Path) -> str:
    """A hash of every file name and content under ``folder`` ("absent" when it does not exist)."""
    if not folder.exists():
        return "absent"
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        h.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


def run_tool(tool: str, args: list[str], timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *TOOLS[tool], *args], capture_output=True, text=True,
                          env={**env(), "PYTHONPATH": str(REPO / "src")}, timeout=timeout, cwd=REPO)


def assert_refused(r: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit 2, one ``error:`` line on stderr naming every needle, no traceback."""
    lines = r.stderr.strip().splitlines()
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def replace_weights(run: Path, network: str, state: dict[str, torch.Tensor] | None, raw: bytes | None = None) -> None:
    """Put other weights (or raw bytes) in place of one network of the run's latest checkpoint.

    With ``state``, the checkpoint description is updated to the new file's size and hash, so the
    checkpoint passes validation and the architecture check is what has to refuse it.
    """
    ckpt = run / "checkpoints" / (run / "checkpoints" / "latest").read_text().strip()
    path = ckpt / f"{network}.safetensors"
    if raw is not None:
        path.write_bytes(raw)
        return
    save_file(state, str(path))
    doc = json.loads((ckpt / "checkpoint.json").read_text())
    data = path.read_bytes()
    doc["files"][path.name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (ckpt / "checkpoint.json").write_text(json.dumps(doc))


@dataclass
class Files:
    """The material of the cases, made once per module."""

    run: Path  # a trained 1-step run (never modified)
    root: Path
    weights: dict[str, Path]  # class -> a weights file of that class
    runs: dict[str, Path]  # class -> a run folder of that class (its checkpoint)
    sources: dict[str, Path]  # class -> an input of the pack tool

    def copy_run(self, name: str) -> Path:
        """A fresh copy of the good run (for commands that would resume it)."""
        dest = self.root / "copies" / name
        shutil.copytree(self.run, dest)
        return dest


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    import train

    root = tmp_path_factory.mktemp("cli")
    run = root / "run"
    train.main([*TINY, "--steps", "1", "--out", str(run)])
    other = {"weight": torch.randn(4, 3), "bias": torch.zeros(4)}  # a valid file of another network
    (root / "garbage.safetensors").write_bytes(b"\x00\x13 this is not a weights file " * 20)
    save_file(other, str(root / "other.safetensors"))
    weights = {"missing": root / "missing.safetensors", "unreadable": root / "garbage.safetensors",
               "wrong_architecture": root / "other.safetensors"}
    runs = {"missing": root / "no-such-run", "unreadable": root / "run-unreadable",
            "wrong_architecture": root / "run-other-network"}
    shutil.copytree(run, runs["unreadable"])
    replace_weights(runs["unreadable"], "G_ema", None, raw=b"\x00" * 64)
    shutil.copytree(run, runs["wrong_architecture"])
    for network in ("G", "G_ema", "D"):
        replace_weights(runs["wrong_architecture"], network, other)
    (root / "junk.zip").write_bytes(b"PK this is not a zip")
    sources = {"missing": root / "no-such-folder", "unreadable": root / "junk.zip",
               "wrong_architecture": root / "other.safetensors"}
    return Files(run, root, weights, runs, sources)


# --- the cases -------------------------------------------------------------------------------------
# A case: tool, arguments for a problem class, what the error line must name, and which folders the
# command must leave as they were.
Case = Callable[[Files, str, Path], tuple[list[str], list[str], list[Path]]]


def _train_weights(flag: str) -> Case:
    def case(f: Files, kind: str, out: Path) -> tuple[list[str], list[str], list[Path]]:
        resumed = f.copy_run(f"train-{flag}-{kind}")
        extra = ["--dino-model", "tiny"] if flag == "--dino-weights" else []
        return ([*TINY, *extra, flag, str(f.weights[kind]), "--resume", str(resumed), "--steps", "3"],
                [flag, f.weights[kind].name], [resumed])
    return case


def _train_resume(f: Files, kind: str, out: Path) -> tuple[list[str], list[str], list[Path]]:
    source = f.runs[kind]
    return [*TINY, "--resume", str(source), "--steps", "3", "--out", str(out)], [source.name], [source, out]


def _checkpoint(*before: str, after: tuple[str, ...] = ()) -> Case:
    def case(f: Files, kind: str, out: Path) -> tuple[list[str], list[str], list[Path]]:
        return [*before, str(f.runs[kind]), *after], [f.runs[kind].name], [f.runs[kind], out]
    return case


def _generate(f: Files, kind: str, out: Path) -> tuple[list[str], list[str], list[Path]]:
    return (["--checkpoint", str(f.runs[kind]), "--prompt", "a red circle in the center", "--out", str(out)],
            [f.runs[kind].name], [f.runs[kind], out])


def _weights_flag(tool_args: Callable[[Files, Path], list[str]], flag: str) -> Case:
    def case(f: Files, kind: str, out: Path) -> tuple[list[str], list[str], list[Path]]:
        return [*tool_args(f, out), flag, str(f.weights[kind])], [flag, f.weights[kind].name], [f.run, out]
    return case


def _ablation(f: Files, kind: str, out: Path) -> tuple[list[str], list[str], list[Path]]:
    return (["--arms", "full", "--seeds", "0", "--steps", "1", "--out", str(out), "--", *TINY,
             "--clip-weights", str(f.weights[kind])], ["--clip-weights", f.weights[kind].name], [out])


def _pack(f: Files, kind: str, out: Path) -> tuple[list[str], list[str], list[Path]]:
    return [str(f.sources[kind]), str(out)], [f.sources[kind].name], [out]


WEIGHTS_CASES: dict[str, tuple[str, Case]] = {
    "train --clip-weights": ("train", _train_weights("--clip-weights")),
    "train --dino-weights": ("train", _train_weights("--dino-weights")),
    "train --resume": ("train", _train_resume),
    "generate --checkpoint": ("generate", _generate),
    "evaluate --checkpoint": ("evaluate", _checkpoint("--samples", "8", "--checkpoint")),
    "evaluate --inception-weights": ("evaluate", _weights_flag(
        lambda f, out: ["--checkpoint", str(f.run), "--samples", "8", "--metrics", "fid", "--out", str(out)],
        "--inception-weights")),
    "metrics --checkpoint": ("metrics", _checkpoint("--metrics", "clip", "--clip-weights", "none", "--samples", "4",
                                                     "--checkpoint")),
    "metrics --dino-weights": ("metrics", _weights_flag(
        lambda f, out: ["--checkpoint", str(f.run), "--metrics", "fd_dino", "--samples", "4", "--dino-model",
                        "tiny", "--cache-dir", str(out), "--out", str(out / "report.json")],
        "--dino-weights")),
    "diagnose where": ("diagnose", _checkpoint("where", after=("--prompts", "2"))),
    "diagnose critics": ("diagnose", _checkpoint("critics", after=("--images", "2"))),
    "ablation -- --clip-weights": ("ablation", _ablation),
    "pack SRC": ("pack", _pack),
}


def _weights_params() -> list:
    params = []
    for i, (name, (tool, case)) in enumerate(WEIGHTS_CASES.items()):
        for j, kind in enumerate(CLASSES):
            by_default = (i + j) % len(CLASSES) == 0  # each tool one class, each class several tools
            marks = [pytest.mark.slow]
            if not (by_default or ALL_CASES):
                marks.append(pytest.mark.skip(reason="GANBLOCKS_CLI_CASES=all runs every weights case"))
            params.append(pytest.param(tool, case, kind, id=f"{name}-{kind}", marks=marks))
    return params


@pytest.mark.parametrize("tool,case,kind", _weights_params())
def test_unusable_weights_or_checkpoints_are_one_error_line(tool: str, case: Case, kind: str, files: Files,
                                                            tmp_path: Path) -> None:
    """Missing, unreadable (garbage bytes) and wrong-architecture (a valid file of another network)."""
    args, needles, untouched = case(files, kind, tmp_path / "out")
    before = [tree_digest(folder) for folder in untouched]
    assert_refused(run_tool(tool, args), *needles)
    assert [tree_digest(folder) for folder in untouched] == before, "a refused command changed a folder"


NONSENSE: dict[str, Callable[[Files, Path], tuple[list[str], str]]] = {
    "train": lambda f, out: ([*TINY, "--resume", str(f.copy_run("train-nonsense")), "--lr-g", "-1"], "lr_g"),
    "train-flag": lambda f, out: (["--steps", "ten"], "--steps"),
    "generate": lambda f, out: (["--checkpoint", str(f.run), "--prompt", "x", "--seeds", "a-b", "--out", str(out)],
                                "seeds"),
    "evaluate": lambda f, out: (["--checkpoint", str(f.run), "--samples", "3"], "--samples"),
    "pretrain": lambda f, out: (["--resolution", "16"], "[32, 256]"),
    "diagnose": lambda f, out: (["where", str(f.run), "--prompts", "-1"], "--prompts"),
    "ablation": lambda f, out: (["--seeds", "x", "--out", str(out)], "--seeds"),
    "metrics": lambda f, out: (["--checkpoint", str(f.run), "--metrics", "fid,is", "--out", str(out)], "fid"),
    "pack": lambda f, out: ([str(f.root), str(out), "--shard-size", "0"], "--shard-size"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(NONSENSE))
def test_nonsense_arguments_are_one_error_line(name: str, files: Files, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args, needle = NONSENSE[name](files, out)
    resumed = [Path(a) for a in args if "copies" in a]
    before = [tree_digest(folder) for folder in [files.run, *resumed]]
    assert_refused(run_tool(name.split("-")[0], args), needle)
    assert not out.exists(), "a refused command wrote its output"
    assert [tree_digest(folder) for folder in [files.run, *resumed]] == before


def test_every_tool_has_a_case_of_each_kind() -> None:
    """A new tool must join the matrix: weights cases (pretrain has no weights argument; its
    cache is tested below) and nonsense arguments."""
    assert {tool for tool, _ in WEIGHTS_CASES.values()} == set(TOOLS) - {"pretrain"}
    assert {name.split("-")[0] for name in NONSENSE} == set(TOOLS)


@pytest.mark.slow
def test_pretrain_replaces_an_unusable_cached_clip(tmp_path: Path) -> None:
    """The tiny CLIP cache is the pretrain tool's only weights input: a damaged or foreign file in
    its place is trained again (a message says so), never a traceback."""
    import pretrain

    params = {**pretrain.DEFAULTS, "steps": 1, "batch": 4, "warmup": 1}
    cache = tmp_path / "cache"
    path = cache / f"shapes-clip-{pretrain._key(params)}.safetensors"
    path.parent.mkdir(parents=True)
    save_file({"weight": torch.zeros(2)}, str(path))  # a valid file, not written by the tool
    r = subprocess.run([sys.executable, *TOOLS["pretrain"], "--steps", "1", "--batch", "4", "--warmup", "1"],
                       capture_output=True, text=True, env={**env(), "GANBLOCKS_CACHE": str(cache),
                                                            "PYTHONPATH": str(REPO / "src")}, timeout=240, cwd=REPO)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "unusable" in r.stderr and str(path) in r.stderr
    assert pretrain._cache_problem(path) is None


# --- help ------------------------------------------------------------------------------------------
def _source(tool: str) -> Path:
    argv = TOOLS[tool]
    if argv[0] == "-m":
        module = {"ganblocks.metrics": "ganblocks/metrics/cli.py", "ganblocks.data.pack": "ganblocks/data/packing.py"}
        return REPO / "src" / module[argv[1]]
    return Path(argv[0])


def _main(tool: str) -> Callable[[list[str]], object]:
    import importlib

    argv = TOOLS[tool]
    name = {"-m": None}.get(argv[0], Path(argv[0]).stem)
    module = name or {"ganblocks.metrics": "ganblocks.metrics.cli", "ganblocks.data.pack": "ganblocks.data.packing"}[argv[1]]
    return importlib.import_module(module).main


@pytest.mark.parametrize("tool", list(TOOLS))
def test_help_prints_the_description_as_written(tool: str, capsys: pytest.CaptureFixture) -> None:
    """``--help`` exits 0 and shows every line of the description; a backslash at the end of a
    line of a non-raw docstring would join two lines (and lose the backslash)."""
    with open(_source(tool), "rb") as fh:
        doc = next(t for t in tokenize.tokenize(fh.readline) if t.type == tokenize.STRING)
    prefix = doc.string[:doc.string.index(doc.string.lstrip("rRbBuUfF")[0])]
    body = doc.string[len(prefix):]
    if "r" not in prefix.lower():
        for line in body.splitlines()[:-1]:
            trailing = len(line) - len(line.rstrip("\\"))
            assert trailing % 2 == 0, f"{_source(tool).name}: a line ends in an unescaped backslash: {line!r}"
    with pytest.raises(SystemExit) as e:
        _main(tool)(["--help"])
    assert e.value.code == 0
    shown = capsys.readouterr().out
    first = next(line for line in body.strip('"').splitlines() if line.strip())
    assert first.strip() in shown


def test_flag_help_shows_the_default_of_every_preset() -> None:
    """``--flag`` help says which value each preset uses (not only the shapes preset's)."""
    from config import PRESETS, SETTINGS, preset, preset_defaults, setting

    for field in SETTINGS:
        text = preset_defaults(field)
        assert text.startswith("default: ")
        shown: dict[str, str] = {}
        for part in text[len("default: "):].split("; "):
            value, _, names = part.partition(" with --preset ")
            for name in names.split(", ") if names else PRESETS:
                shown[name] = value
        assert set(shown) == set(PRESETS), (field, text)
        for name, value in shown.items():
            actual = setting(preset(name), field)
            if isinstance(actual, tuple):  # block resolutions, as the flag takes them
                actual = ",".join(map(str, actual)) or "''"
            assert value == ("none" if actual is None else str(actual)), (field, name, text)


def test_resolution_help_agrees_with_validation() -> None:
    import re

    from config import _setting_help, preset

    text = _setting_help()["resolution"][0]
    shapes_lo, shapes_hi, lo, hi = map(int, re.search(r"(\d+)\.\.(\d+) with --data shapes, (\d+)\.\.(\d+)", text).groups())
    for data, (a, b) in (("shapes", (shapes_lo, shapes_hi)), ("my_images", (lo, hi))):
        for ok in (a, b):
            assert preset("shapes", data=data, resolution=ok).resolution == ok
        for bad in (a // 2, b * 2):
            with pytest.raises(ValueError, match=rf"power of two in \[{a}, {b}\]"):
                preset("shapes", data=data, resolution=bad, cross_attention="")
        with pytest.raises(ValueError, match="resolution must be a power of two"):  # GeneratorConfig's check
            preset("shapes", data=data, resolution=a + b)


def test_pretrain_defaults_cache_the_clip_the_trainer_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    """The step count is part of the cache key: ``pretrain.py`` with no flags must ask for the
    same CLIP as ``train.py`` with no flags."""
    import model
    import pretrain
    from config import preset

    asked: list[dict] = []

    def record(params=None, **_):  # noqa: ANN001, ANN202
        asked.append({**pretrain.DEFAULTS, **(params or {})})
        raise SystemExit(0)

    monkeypatch.setattr(pretrain, "ensure_shapes_clip", record)
    for call in (lambda: pretrain.main([]), lambda: model.create_frozen_clip(preset("shapes"))):
        with pytest.raises(SystemExit):
            call()
    assert len(asked) == 2 and pretrain._key(asked[0]) == pretrain._key(asked[1])
    assert asked[0]["steps"] == preset("shapes").clip_pretrain_steps
