"""`python -m ganblocks.metrics`: a JSON report for a saved generator or a training run; one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from ganblocks import GeneratorConfig, TextToImageGenerator
from ganblocks.metrics import create_inception
from ganblocks.metrics.cli import main
from ganblocks.t2i.runs import checkpoint_meta
from ganblocks.training import save_checkpoint


def _tiny_generator() -> "TextToImageGenerator":
    torch.manual_seed(0)
    return TextToImageGenerator(GeneratorConfig(resolution=32, channel_base=1024, channel_max=32))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A training run folder: one checkpoint of an untrained 32 px generator, written as a trainer does."""
    G = _tiny_generator()
    run = tmp_path_factory.mktemp("run")
    save_checkpoint(run, step=3, modules={"G_ema": G}, optimizers={},
                    meta={**checkpoint_meta(G, data="shapes"), "step": 3})
    return run


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same generator, written by save_pretrained."""
    folder = tmp_path_factory.mktemp("model") / "tiny"
    _tiny_generator().save_pretrained(folder)
    return folder


def _error(capsys: pytest.CaptureFixture, *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_report_has_every_metric_asked_for(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    main(["--model", str(run_dir), "--data", "shapes", "--metrics", "fd_dino,clip,shapes", "--samples", "8",
          "--dino-model", "tiny", "--dino-weights", "none", "--clip-weights", "none", "--batch", "4",
          "--cache-dir", str(tmp_path / "cache"), "--out", str(out)])
    report = json.loads(out.read_text())
    assert report["step"] == 3 and report["samples"] == 8 and report["resolution"] == 32
    assert report["fd_dino"] > 0 and -1 <= report["clip_score"] <= 1
    assert report["clip_model"] == "tiny (random weights, seed 0)"
    assert 0 <= report["shapes/all_correct"] <= 1 and "shapes/diversity" in report
    assert "fid" not in report and "kid" not in report
    assert list((tmp_path / "cache").glob("shapes-seed1000-obj2__dino-tiny-*__32px__n8.safetensors"))


def test_a_saved_model_scores_as_its_run(run_dir: Path, saved_model: Path, tmp_path: Path) -> None:
    def report(model: Path) -> dict:
        return main(["--model", str(model), "--metrics", "shapes,clip", "--clip-weights", "none", "--samples", "8"])

    from_run, from_saved = report(run_dir), report(saved_model)
    assert from_run.pop("model") == str(run_dir) and from_saved.pop("model") == str(saved_model)
    assert from_run.pop("step") == 3 and from_saved.pop("step") is None
    from_run.pop("seconds"), from_saved.pop("seconds")
    assert from_run == from_saved


def test_the_shapes_scores_are_the_library_evaluation(saved_model: Path) -> None:
    from ganblocks.metrics import evaluate_shapes

    report = main(["--model", str(saved_model), "--metrics", "shapes", "--samples", "8"])
    scores = evaluate_shapes(TextToImageGenerator.from_pretrained(saved_model), samples=8, final=True)
    assert {k.removeprefix("shapes/"): v for k, v in report.items() if k.startswith("shapes/")} == scores


def test_the_clip_score_needs_its_weights_named(saved_model: Path, capsys: pytest.CaptureFixture) -> None:
    err = _error(capsys, "--model", str(saved_model), "--metrics", "clip", "--samples", "4")
    assert "--metrics clip needs --clip-weights" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_fid_and_kid_with_a_local_inception_file(run_dir: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    weights = tmp_path / "inception.safetensors"
    save_file({k: v.contiguous() for k, v in create_inception(False).network.state_dict().items()}, str(weights))
    report = main(["--model", str(run_dir), "--metrics", "fid,kid", "--samples", "6", "--kid-subsets", "5",
                   "--inception-weights", str(weights), "--cache-dir", str(tmp_path / "cache")])
    assert report["fid"] >= 0 and report["kid_subset_size"] == 6 and report["kid_std"] >= 0
    assert any(n.startswith("fid: 6 samples") for n in report["notes"])


def test_an_image_folder_is_a_reference(run_dir: Path, tmp_path: Path) -> None:
    from data_samples import write_folder

    write_folder(tmp_path / "mine", n=10)
    out = tmp_path / "report.json"
    main(["--model", str(run_dir), "--data", str(tmp_path / "mine"), "--metrics", "fd_dino,clip",
          "--samples", "8", "--dino-model", "tiny", "--dino-weights", "none", "--clip-weights", "none", "--batch", "4",
          "--cache-dir", str(tmp_path / "cache"), "--out", str(out)])
    report = json.loads(out.read_text())
    assert report["reference"].startswith("folder-mine-") and report["data"] == str(tmp_path / "mine")
    assert report["fd_dino"] > 0 and -1 <= report["clip_score"] <= 1
    assert list((tmp_path / "cache").glob("folder-mine-*__dino-tiny-*__32px__n8.safetensors"))


def test_bad_reference_folders_fail_with_one_line(run_dir: Path, capsys: pytest.CaptureFixture,
                                                  tmp_path: Path) -> None:
    from data_samples import write_folder, write_shards

    write_folder(tmp_path / "few", n=3)
    (tmp_path / "shards").mkdir()
    write_shards(tmp_path / "shards", [2])
    (tmp_path / "plain").mkdir()
    common = ["--model", str(run_dir), "--metrics", "clip", "--clip-weights", "none", "--samples", "4"]
    for data, needle in ((tmp_path / "nowhere", "no such file or folder"),
                         (tmp_path / "shards", "shards cannot be a metrics reference"),
                         (tmp_path / "plain", "neither an image folder"),
                         (tmp_path / "few", "has 3 captioned images, fewer than the 4 samples")):
        err = _error(capsys, *common, "--data", str(data))
        assert "error:" in err
        assert needle in err and str(data) in err, err


def test_too_few_samples_and_unknown_metrics_fail_with_one_line(capsys: pytest.CaptureFixture) -> None:
    def error(*argv: str) -> str:
        return _error(capsys, "--model", ".", *argv)

    assert "fid needs at least 2 samples, got 1" in error("--metrics", "fid", "--samples", "1")
    assert "shapes needs at least 8 samples" in error("--metrics", "shapes", "--samples", "4")
    assert "choose from fid, kid, fd_dino, clip, shapes" in error("--metrics", "fid,is")
    assert "--kid-subset-size 50 is larger than --samples 10" in _error(
        capsys, "--checkpoint", ".", "--metrics", "kid", "--samples", "10", "--kid-subset-size", "50")


def test_missing_inception_weights_name_the_flag(
    run_dir: Path, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    err = _error(capsys, "--model", str(run_dir), "--metrics", "fid", "--samples", "4",
                 "--inception-weights", str(tmp_path / "missing.pth"))
    assert err.startswith("error: ") and "missing.pth" in err and "--inception-weights" in err
    assert len(err.strip().splitlines()) == 1


def test_missing_model_names_the_path(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    err = _error(capsys, "--model", str(tmp_path / "nowhere"), "--metrics", "shapes", "--samples", "8")
    assert str(tmp_path / "nowhere") in err and len(err.strip().splitlines()) == 1


def test_a_checkpoint_without_its_generator_config_says_what_to_do(
    capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    save_checkpoint(tmp_path / "old", step=1, modules={"G_ema": _tiny_generator()}, optimizers={},
                    meta={"config": {"resolution": 32}})
    err = _error(capsys, "--model", str(tmp_path / "old"), "--metrics", "shapes", "--samples", "8")
    assert "does not record its generator's architecture" in err and len(err.strip().splitlines()) == 1


def test_module_entry_point_prints_help() -> None:
    r = subprocess.run([sys.executable, "-m", "ganblocks.metrics", "--help"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "--inception-weights" in r.stdout and "fd_dino" in r.stdout
