import os
import subprocess
import sys
import time

import pytest
import torch
from hypothesis import given, strategies as st
from safetensors.torch import save_file

from ganblocks.backbones import ViTFeatureExtractor, create_dino_backbone, default_taps
from ganblocks.backbones import _weights
from strategies import batch_sizes, runtime_typecheck_disabled, seeds


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return create_dino_backbone("tiny", pretrained=False)


@pytest.fixture
def empty_hub_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path


def test_import_ganblocks_imports_neither_timm_nor_open_clip():
    code = "import sys, ganblocks; print(sorted({m.split('.')[0] for m in sys.modules} & {'timm', 'open_clip'}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_default_taps_are_the_papers_blocks_for_depth_12():
    assert default_taps(12) == (2, 5, 8, 11)


@given(depth=st.integers(1, 48))
def test_default_taps_are_evenly_spaced_and_end_at_the_last_block(depth):
    taps = default_taps(depth)
    assert len(taps) == min(4, depth)
    assert list(taps) == sorted(set(taps)) and taps[0] >= 0 and taps[-1] == depth - 1


@given(seed=seeds, b=batch_sizes)
def test_maps_are_the_token_input_and_tapped_blocks_with_cls_added(tiny, seed, b):
    x = torch.randn(b, 3, 32, 32, generator=torch.Generator().manual_seed(seed))
    maps = tiny(x)
    assert tiny.channels == [64] * 5 and tiny.num_tokens == 64 and tiny.image_size == 32
    assert [tuple(m.shape) for m in maps] == [(b, 64, 64)] * 5
    vit = tiny.vit
    tokens = vit.norm_pre(vit._pos_embed(vit.patch_embed(x)))
    torch.testing.assert_close(maps[0], tokens[:, 1:] + tokens[:, :1])
    blocks = vit.forward_intermediates(x, indices=list(tiny.taps), return_prefix_tokens=True,
                                       output_fmt="NLC", intermediates_only=True)
    for ours, (patches, prefix) in zip(maps[1:], blocks):
        torch.testing.assert_close(ours, patches + prefix[:, :1])


def test_frozen_in_eval_mode_but_passing_gradients_to_the_image(tiny):
    parent = torch.nn.Sequential(tiny)
    parent.train()
    assert not tiny.training and not any(m.training for m in tiny.modules())
    assert not any(p.requires_grad for p in tiny.parameters())
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    sum(m.square().mean() for m in tiny(x)).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in tiny.parameters())


def test_custom_taps_and_normalisation_buffers_move_with_the_module():
    bb = create_dino_backbone("tiny", pretrained=False, taps=[-1], depth=2, img_size=16)
    assert bb.taps == (1,) and bb.channels == [64, 64] and bb.num_tokens == 16
    torch.testing.assert_close(bb.mean, torch.tensor([0.485, 0.456, 0.406]))
    assert "mean" not in bb.state_dict()
    assert bb.double().mean.dtype == torch.float64


def test_open_clip_image_tower_serves_as_the_feature_network():
    from ganblocks.backbones import create_clip

    visual = create_clip("tiny", pretrained=False).model.visual
    bb = ViTFeatureExtractor.from_open_clip(visual)
    x = torch.randn(2, 3, 32, 32)
    maps = bb(x)
    assert bb.channels == [64, 64, 64] and [m.shape for m in maps] == [torch.Size([2, 64, 64])] * 3
    ref = visual.forward_intermediates(x, indices=list(bb.taps), output_fmt="NLC",
                                       output_extra_tokens=True, intermediates_only=True)
    for ours, patches, prefix in zip(maps[1:], ref["image_intermediates"], ref["image_intermediates_prefix"]):
        torch.testing.assert_close(ours, patches + prefix)
    with pytest.raises(TypeError, match="timm VisionTransformer"):
        ViTFeatureExtractor.from_timm(visual)


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_weights_saved_to_a_file_load_back_through_the_factory(tiny, tmp_path, suffix):
    path = tmp_path / f"tiny{suffix}"
    state = {k: v.contiguous() for k, v in tiny.vit.state_dict().items()}
    save_file(state, str(path)) if suffix == ".safetensors" else torch.save(state, path)
    torch.manual_seed(123)  # a different random init, overwritten by the file
    loaded = create_dino_backbone("tiny", pretrained=path)
    x = torch.randn(2, 3, 32, 32)
    for a, b in zip(tiny(x), loaded(x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_a_file_for_another_architecture_is_refused_naming_keys_and_shapes(tmp_path):
    shallow = create_dino_backbone("tiny", pretrained=False, depth=2, embed_dim=32)
    path = tmp_path / "shallow.safetensors"
    save_file({k: v.contiguous() for k, v in shallow.vit.state_dict().items()}, str(path))
    with pytest.raises(ValueError) as err:
        create_dino_backbone("tiny", pretrained=path)
    message = str(err.value)
    assert "nothing was loaded" in message and "'tiny'" in message
    assert "missing keys: blocks.2." in message
    assert "wrong shapes: cls_token (file [1, 1, 32], model [1, 1, 64])" in message


def test_names_and_options_are_checked():
    with pytest.raises(ValueError, match=r"unknown backbone name 'vit_nonsense'.*tiny.*vit_small_patch16_224\.dino"):
        create_dino_backbone("vit_nonsense", pretrained=False)
    with pytest.raises(ValueError, match="only apply to the 'tiny' preset"):
        create_dino_backbone(pretrained=False, depth=3)
    with pytest.raises(ValueError, match="no published weights.*pretrained=False"):
        create_dino_backbone("tiny")
    with pytest.raises(FileNotFoundError, match="nowhere.safetensors"):
        create_dino_backbone("tiny", pretrained="nowhere.safetensors")
    with pytest.raises(ValueError, match="taps must be increasing"):
        create_dino_backbone("tiny", pretrained=False, taps=[2, 1])
    with pytest.raises(ValueError, match="'resnet18' is not a vision transformer"):
        create_dino_backbone("resnet18", pretrained=False)
    with pytest.raises(TypeError, match="expected a timm VisionTransformer or an open_clip"):
        ViTFeatureExtractor(torch.nn.Linear(2, 2))


def test_the_paper_network_has_five_maps_of_196_tokens_of_384_channels():
    bb = create_dino_backbone(pretrained=False)
    assert bb.channels == [384] * 5 and bb.num_tokens == 196 and bb.image_size == 224
    assert bb.taps == (2, 5, 8, 11)


def _put_in_hub_cache(cache, repo, filename, state):
    # the Hugging Face cache layout: models--org--name/{refs/main, snapshots/<revision>/<file>}
    root = cache / "hub" / f"models--{repo.replace('/', '--')}"
    revision = "0" * 40
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(revision)
    (root / "snapshots" / revision).mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(root / "snapshots" / revision / filename))


def test_cached_hub_weights_are_used_offline(empty_hub_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.manual_seed(1)
    source = create_dino_backbone(pretrained=False)
    _put_in_hub_cache(empty_hub_cache, "timm/vit_small_patch16_224.dino", "model.safetensors",
                      source.vit.state_dict())
    torch.manual_seed(2)
    loaded = create_dino_backbone()
    x = torch.randn(1, 3, 224, 224)
    torch.testing.assert_close(loaded(x)[-1], source(x)[-1], rtol=0, atol=0)


def test_offline_without_cached_weights_fails_fast_saying_what_to_do(empty_hub_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(RuntimeError) as err:
        create_dino_backbone()
    assert time.monotonic() - start < 10
    message = str(err.value)
    assert "timm/vit_small_patch16_224.dino/model.safetensors" in message
    assert "pretrained=False" in message and "pretrained=<path" in message


def test_unreachable_hub_fails_fast_too(empty_hub_cache, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(_weights, "hub_reachable", lambda timeout=3.0: False)
    with pytest.raises(RuntimeError, match="cannot be reached"):
        create_dino_backbone()


def test_bad_images_are_refused(tiny):
    with runtime_typecheck_disabled():
        with pytest.raises(ValueError, match=r"images has shape \[1, 3, 16, 16\], expected \[\?, 3, 32, 32\]"):
            tiny(torch.zeros(1, 3, 16, 16))


def _real_dino_weights():
    path = os.environ.get("GANBLOCKS_DINO_WEIGHTS")
    if path:
        return path if os.path.isfile(path) else None
    from huggingface_hub import try_to_load_from_cache

    for name in ("model.safetensors", "pytorch_model.bin"):
        cached = try_to_load_from_cache("timm/vit_small_patch16_224.dino", name)
        if isinstance(cached, str):
            return True
    return None


@pytest.mark.pretrained
def test_real_dino_weights_give_five_finite_maps():
    weights = _real_dino_weights()
    if weights is None:
        pytest.skip("no DINO ViT-S/16 weights: set GANBLOCKS_DINO_WEIGHTS to a .safetensors file "
                    "or put timm/vit_small_patch16_224.dino in the Hugging Face cache")
    bb = create_dino_backbone(pretrained=weights)
    x = (torch.rand(2, 3, 224, 224) - bb.mean[:, None, None]) / bb.std[:, None, None]
    maps = bb(x)
    assert [tuple(m.shape) for m in maps] == [(2, 196, 384)] * 5
    assert all(torch.isfinite(m).all() for m in maps)
    # timm initialises the class token with std 1e-6; trained weights are far from that
    assert bb.vit.cls_token.abs().max() > 1e-3
