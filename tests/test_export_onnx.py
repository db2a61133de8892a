"""ONNX export of the text-to-image generator (ganblocks.export): layout, parity with PyTorch in
fp32 under ONNX Runtime, a run without ganblocks, and the errors for what cannot export or run.

Weights are random (no trained generator is shipped), with the noise strengths, attention layer
scales and the mapping's running mean drawn away from their initial values so that every path of
the graph shows in the images. The paper's `small` and `lite` architectures (a ViT-L/14 text
encoder, minutes to export) run with GANBLOCKS_EXPORT_LARGE=1.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from ganblocks import GeneratorConfig, TextToImageGenerator  # noqa: E402
from ganblocks.export import ExportError, OnnxTextToImage, check_parity, export_onnx  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "stylegan_t"
PROMPTS = ["a red circle in the center", "two blue squares at the top left", "a green triangle"]
ATOL = 1e-4


def perturbed(G: TextToImageGenerator, seed: int = 0) -> TextToImageGenerator:
    """``G`` with non-zero noise strengths, larger attention layer scales and a running mean
    away from zero (a fresh generator has 0, 0.01 and 0: those paths would not show)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith(("strength", "gamma")) and "synthesis" in name:
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))
        G.mapping.x_avg.copy_(torch.randn(G.mapping.x_avg.shape, generator=gen))
    return G.eval().requires_grad_(False)


def build(config: GeneratorConfig, seed: int = 0) -> TextToImageGenerator:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return perturbed(TextToImageGenerator(config), seed)


def shapes_config() -> GeneratorConfig:
    from config import preset

    return preset("shapes").generator


@pytest.fixture(scope="module")
def shapes_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[TextToImageGenerator, Path, dict[str, Any]]:
    """The `shapes` preset's architecture (32 px, cross-attention at 8 and 16 px, output shift)."""
    G = build(shapes_config())
    folder = tmp_path_factory.mktemp("onnx") / "shapes"
    return G, folder, G.export_onnx(folder, truncation_psi=0.7)


@pytest.fixture(scope="module")
def pooled_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[TextToImageGenerator, Path, dict[str, Any]]:
    """A 16 px generator that reads the pooled text embedding only (no cross-attention)."""
    G = build(GeneratorConfig(resolution=16, z_dim=8, channel_base=256, channel_max=16, residual=False))
    folder = tmp_path_factory.mktemp("onnx") / "pooled"
    return G, folder, export_onnx(G, folder)


def test_layout_and_model_json(shapes_export: Any) -> None:
    G, folder, meta = shapes_export
    assert sorted(p.name for p in folder.iterdir()) == ["generator.onnx", "model.json", "text_encoder.onnx"]
    assert json.loads((folder / "model.json").read_text()) == meta
    assert meta["format_version"] == 1 and meta["opset"] == 18 and "dynamo=True" in meta["exporter"]
    assert (meta["resolution"], meta["z_dim"], meta["truncation_psi"]) == (32, G.z_dim, 0.7)
    assert meta["tokenizer"]["context_length"] == G.text_encoder.context_length
    outputs = list(meta["text_encoder"]["outputs"])
    assert outputs == ["text_embedding", "text_tokens", "text_mask"]
    assert set(outputs) < set(meta["generator"]["inputs"])  # the text encoder's outputs feed the generator
    assert GeneratorConfig.from_dict(meta["config"]) == G.config
    import onnx

    for name in ("text_encoder.onnx", "generator.onnx"):  # standard ops only, CastLike rewritten as Cast
        ops = {n.op_type for n in onnx.load(folder / name).graph.node}
        assert "CastLike" not in ops and all(n.domain in ("", "ai.onnx") for n in onnx.load(folder / name).graph.node)


def test_shapes_parity(shapes_export: Any) -> None:
    """fp32 under ONNX Runtime vs PyTorch eager: G.generate's images for the same prompts and seeds."""
    G, folder, meta = shapes_export
    assert meta["parity"]["max_abs_image"] <= ATOL and meta["parity"]["max_abs_text"] <= ATOL
    runner = OnnxTextToImage(folder)
    for prompts, seeds, psi in ((PROMPTS[:1], [3], 1.0), (PROMPTS * 2, [0, 1, 2, 3, 4, 5], 0.5)):
        ours = runner.generate(prompts, seeds, truncation_psi=psi)
        ref = G.generate(prompts, seeds, truncation_psi=psi).numpy()
        assert ours.shape == ref.shape and np.abs(ours - ref).max() <= ATOL


def test_pooled_text_only(pooled_export: Any) -> None:
    G, folder, meta = pooled_export
    assert list(meta["text_encoder"]["outputs"]) == ["text_embedding"]
    assert sorted(meta["generator"]["inputs"]) == ["text_embedding", "truncation_psi", "z"]
    report = check_parity(G, folder, prompts=PROMPTS, seeds=[4, 5, 6], truncation_psi=[0.0, 0.5, 1.0])
    assert report["max_abs_image"] <= ATOL


def test_runs_without_ganblocks(shapes_export: Any, tmp_path: Path) -> None:
    """The docs' plain-Python example, in a fresh process that never imports ganblocks."""
    G, folder, meta = shapes_export
    code = (EXAMPLE / "run_onnx.py").read_text() + "\nassert 'ganblocks' not in sys.modules, 'ganblocks was imported'\n"
    out = tmp_path / "image.png"
    done = subprocess.run([sys.executable, "-c", code, str(folder), PROMPTS[0], str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    from PIL import Image

    z = torch.from_numpy(np.random.default_rng(0).standard_normal((1, G.z_dim)).astype(np.float32))
    ref = G(z, G.encode(PROMPTS[:1]), truncation_psi=meta["truncation_psi"], noise_mode="const", update_avg=False)
    expected = ((ref[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    got = np.asarray(Image.open(out).convert("RGB"))
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


@st.composite
def small_configs(draw: st.DrawFn) -> GeneratorConfig:
    resolution = draw(st.sampled_from([8, 16]))
    blocks = [r for r in (8, 16) if r <= resolution]
    residual = draw(st.booleans())  # its GroupNorm has 32 groups: 32 channels
    width = 32 if residual else draw(st.sampled_from([8, 16]))
    return GeneratorConfig(
        resolution=resolution, z_dim=draw(st.sampled_from([2, 8])), channel_base=16 * width,
        channel_max=width, num_res_blocks=draw(st.integers(0, 1)), residual=residual, modulation=draw(st.sampled_from(["polynomial", "affine"])),
        upsample=draw(st.sampled_from(["fir", "nearest"])), mapping_layers=draw(st.integers(1, 2)),
        cross_attention=tuple(draw(st.lists(st.sampled_from(blocks), unique=True, max_size=2))),
        self_attention=tuple(draw(st.lists(st.sampled_from(blocks), unique=True, max_size=1))),
        attention_heads=draw(st.sampled_from([1, 2])), output_shift=draw(st.sampled_from([0.0, 0.05, 0.3])))


# No shrinking: each example exports two graphs (seconds each); the failing one is printed as drawn.
@settings(max_examples=3, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(config=small_configs(), seed=st.integers(0, 2**16), psi=st.floats(-0.5, 1.5))
def test_parity_property(config: GeneratorConfig, seed: int, psi: float, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Any small architecture exports, and its graphs compute what it computes."""
    G = build(config, seed)
    folder = tmp_path_factory.mktemp("prop")
    meta = export_onnx(G, folder)  # verifies on two prompts before writing model.json
    assert meta["parity"]["max_abs_image"] <= ATOL
    report = check_parity(G, folder, prompts=PROMPTS, seeds=[seed, seed + 1, seed + 2], truncation_psi=[psi, 1.0, 0.0])
    assert report["max_abs_image"] <= ATOL and report["max_abs_text"] <= ATOL


@pytest.mark.slow
@pytest.mark.parametrize("name", ["small", "lite"])
def test_paper_architectures(name: str, tmp_path: Path) -> None:
    """The paper's `small` and `lite` generators at 64 px with a ViT-L/14 text encoder (random weights)."""
    if os.environ.get("GANBLOCKS_EXPORT_LARGE") != "1":
        pytest.skip("set GANBLOCKS_EXPORT_LARGE=1: exporting a ViT-L/14 text encoder takes minutes")
    from config import preset

    G = build(preset(name).generator)
    meta = export_onnx(G, tmp_path / name)
    print(name, meta["parity"])
    assert meta["parity"]["max_abs_image"] <= ATOL and meta["parity"]["max_abs_text"] <= ATOL


# --- what refuses to export, and what refuses to run -------------------------------------------

def test_refuses_random_noise_and_other_dtypes(tmp_path: Path) -> None:
    G = build(GeneratorConfig(resolution=8, z_dim=4, channel_base=64, channel_max=8, residual=False))
    with pytest.raises(ValueError, match="random noise would differ"):
        export_onnx(G, tmp_path / "a", noise_mode="random")
    with pytest.raises(ExportError, match="float32"):
        export_onnx(G.to(torch.bfloat16), tmp_path / "b")
    with pytest.raises(ExportError, match="TextToImageGenerator"):
        export_onnx(torch.nn.Linear(2, 2), tmp_path / "c")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        export_onnx(G.float(), tmp_path / "d", truncation_psi=float("nan"))


def test_a_wrong_graph_is_caught(pooled_export: Any) -> None:
    """Parity is measured, not assumed: a generator other than the exported one fails the check."""
    G, folder, _ = pooled_export
    other = build(G.config, seed=1)
    with pytest.raises(ExportError, match="differ from PyTorch"):
        check_parity(other, folder)


def copy_export(folder: Path, to: Path) -> Path:
    to.mkdir()
    for p in folder.iterdir():
        (to / p.name).write_bytes(p.read_bytes())
    return to


def test_bad_folders(pooled_export: Any, shapes_export: Any, tmp_path: Path) -> None:
    _, folder, _ = pooled_export
    with pytest.raises(FileNotFoundError, match="not a folder"):
        OnnxTextToImage(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="holds no model.json"):
        OnnxTextToImage(tmp_path)
    broken = copy_export(folder, tmp_path / "json")
    (broken / "model.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        OnnxTextToImage(broken)
    newer = copy_export(folder, tmp_path / "newer")
    meta = json.loads((newer / "model.json").read_text())
    (newer / "model.json").write_text(json.dumps({**meta, "format_version": 2, "ganblocks_version": "9.0"}))
    with pytest.raises(ValueError, match="format version 2 .written by ganblocks 9.0"):
        OnnxTextToImage(newer)
    missing = copy_export(folder, tmp_path / "missing")
    (missing / "generator.onnx").unlink()
    with pytest.raises(FileNotFoundError, match="generator.onnx is missing"):
        OnnxTextToImage(missing)
    corrupt = copy_export(folder, tmp_path / "corrupt")
    data = (corrupt / "generator.onnx").read_bytes()
    (corrupt / "generator.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a readable ONNX graph"):
        OnnxTextToImage(corrupt)
    swapped = copy_export(folder, tmp_path / "swapped")  # a graph of another export
    (swapped / "text_encoder.onnx").write_bytes((shapes_export[1] / "text_encoder.onnx").read_bytes())
    with pytest.raises(ValueError, match="another export"):
        OnnxTextToImage(swapped)


def test_bad_inputs(shapes_export: Any) -> None:
    _, folder, _ = shapes_export
    runner = OnnxTextToImage(folder)
    with pytest.raises(ValueError, match="too long: .* at most 32"):
        runner.generate(["a red circle " * 20], [0])
    with pytest.raises(ValueError, match="not valid Unicode"):
        runner.generate(["\ud800"], [0])
    with pytest.raises(TypeError, match="non-empty sequence"):
        runner.encode([])
    text = runner.encode(PROMPTS[:1])
    with pytest.raises(ValueError, match="batch is empty"):
        runner.synthesize(np.zeros((0, runner.z_dim), np.float32), text)
    with pytest.raises(ValueError, match="finite"):
        runner.synthesize(np.zeros((1, runner.z_dim), np.float32), text, float("nan"))
    with pytest.raises(ValueError, match="finite"):
        runner.generate(PROMPTS[:1], [0], truncation_psi=float("nan"))
    with pytest.raises(ValueError, match="one prompt per latent"):
        runner.synthesize(np.zeros((2, runner.z_dim), np.float32), text)


# --- the example's command line --------------------------------------------------------------

def test_generate_py_exports_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """generate.py --checkpoint RUN --export-onnx DIR writes the folder, records --truncation as the
    default psi, and the graphs give the run's EMA generator's images."""
    import generate
    from bench_serve import save_random_run
    from config import preset

    run = save_random_run(tmp_path / "run", preset("shapes", z_dim=8, channel_max=32, clip_weights=None))
    generate.main(["--checkpoint", str(run), "--export-onnx", str(tmp_path / "onnx"), "--truncation", "0.8"])
    assert "wrote" in capsys.readouterr().out
    meta = json.loads((tmp_path / "onnx" / "model.json").read_text())
    assert meta["truncation_psi"] == 0.8 and meta["training"]["data"].startswith("ShapesT2I")
    G, _ = generate.load_generator(run)
    ours = OnnxTextToImage(tmp_path / "onnx").generate(PROMPTS, [0, 1, 2])
    assert np.abs(ours - G.generate(PROMPTS, [0, 1, 2], truncation_psi=0.8).numpy()).max() <= ATOL


@pytest.mark.parametrize("case", ["missing", "nan", "file"])
def test_generate_py_export_errors_exit_2(case: str, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    args = {"missing": ["--checkpoint", str(tmp_path / "nowhere"), "--export-onnx", str(tmp_path / "o")],
            "nan": ["--checkpoint", str(tmp_path), "--export-onnx", str(tmp_path / "o"), "--truncation", "nan"],
            "file": ["--checkpoint", str(tmp_path), "--export-onnx", str(tmp_path / "afile")]}[case]
    done = subprocess.run([sys.executable, str(EXAMPLE / "generate.py"), *args], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) <= 2 and "error" in lines[-1] and "Traceback" not in done.stderr
