import os
import time

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from safetensors.torch import save_file

from ganblocks.backbones import CLIPTextEncoder, FrozenCLIP, create_clip
from strategies import batch_sizes, runtime_typecheck_disabled, seeds

PROMPTS = ["a red circle at the top left", "two blue squares", "a small yellow triangle"]


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return create_clip("tiny", pretrained=False)


@pytest.fixture
def empty_hub_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path


def test_text_embeddings_are_unit_norm_one_per_prompt(tiny):
    e = tiny.encode_text(PROMPTS)
    assert e.shape == (3, tiny.embed_dim) == (3, 64)
    torch.testing.assert_close(e.norm(dim=-1), torch.ones(3))
    assert not torch.allclose(e[0], e[1])
    torch.testing.assert_close(tiny.encode_text(PROMPTS[1:2])[0], e[1])


@given(seed=seeds, b=batch_sizes)
def test_image_embeddings_are_unit_norm_and_area_resized(tiny, seed, b):
    x = torch.rand(b, 3, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    e = tiny.encode_image(x)
    assert e.shape == (b, 64)
    torch.testing.assert_close(e.norm(dim=-1), torch.ones(b))
    # area resizing: a 4x larger image is seen as the means of its 4x4 blocks
    big = torch.rand(b, 3, 128, 128, generator=torch.Generator().manual_seed(seed + 1)) * 2 - 1
    torch.testing.assert_close(tiny.encode_image(big), tiny.encode_image(F.avg_pool2d(big, 4)))


def test_frozen_in_eval_mode_but_passing_gradients_to_the_images(tiny):
    torch.nn.Sequential(tiny).train()
    assert not any(m.training for m in tiny.modules())
    assert not any(p.requires_grad for p in tiny.parameters())
    x = torch.rand(2, 3, 40, 40, requires_grad=True)
    tiny.encode_image(x * 2 - 1).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert tiny.image_size == 32 and tiny.tokenizer(["a"]).shape == (1, 32)


def test_text_encoder_copy_is_independent_trainable_and_saves_via_state_dict(tiny):
    copy = tiny.text_encoder_copy()
    assert isinstance(copy, CLIPTextEncoder) and copy.embed_dim == 64
    torch.testing.assert_close(copy(PROMPTS), tiny.encode_text(PROMPTS))
    assert all(p.requires_grad for p in copy.parameters())
    frozen = {id(p) for p in tiny.parameters()} | {p.data_ptr() for p in tiny.parameters()}
    assert not any(id(p) in frozen or p.data_ptr() in frozen for p in copy.parameters())
    before = tiny.encode_text(PROMPTS)
    # a training step on the copy changes the copy only
    loss = -(copy(PROMPTS) * before.roll(1, 0)).sum()
    loss.backward()
    with torch.no_grad():
        for p in copy.parameters():
            if p.grad is not None:
                p -= 0.1 * p.grad
    assert not torch.allclose(copy(PROMPTS), before)
    torch.testing.assert_close(tiny.encode_text(PROMPTS), before)
    # and it saves and loads through its state dict
    other = tiny.text_encoder_copy()
    other.load_state_dict(copy.state_dict())
    torch.testing.assert_close(other(PROMPTS), copy(PROMPTS))


def test_token_features_come_with_the_pooled_embedding_in_one_pass(tiny):
    copy = tiny.text_encoder_copy()
    prompts = ["a red circle at the top left", "a blue square", "a big yellow triangle on the left and more"]
    for enc in (tiny.encode_text_tokens(prompts), copy.encode(prompts)):
        assert enc.tokens.shape == (3, copy.context_length, copy.token_dim)
        assert enc.mask.dtype == torch.bool and enc.mask.shape == (3, copy.context_length)
        # start token, the words, end token; padding excluded (open_clip's tokenizer: a word a token here)
        assert enc.mask.sum(1).tolist() == [len(p.split()) + 2 for p in prompts]
        assert torch.equal(enc.mask, enc.mask.cummin(dim=1).values)  # real tokens first, then padding
        torch.testing.assert_close(enc.embedding, tiny.encode_text(prompts))
    torch.testing.assert_close(copy.encode(prompts).tokens, tiny.encode_text_tokens(prompts).tokens)


def test_token_features_train_the_generators_copy(tiny):
    copy = tiny.text_encoder_copy()
    enc = copy.encode(["a red circle", "a green square on the right"])
    (enc.tokens[enc.mask].square().sum()).backward()
    grads = [p.grad for p in copy.transformer.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert copy.token_embedding.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in tiny.parameters())


def test_weights_saved_to_a_file_load_back_through_the_factory(tiny, tmp_path):
    path = tmp_path / "tiny_clip.safetensors"
    save_file({k: v.contiguous() for k, v in tiny.model.state_dict().items()}, str(path))
    torch.manual_seed(99)
    loaded = create_clip("tiny", pretrained=path)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    torch.testing.assert_close(loaded.encode_text(PROMPTS), tiny.encode_text(PROMPTS), rtol=0, atol=0)
    torch.testing.assert_close(loaded.encode_image(x), tiny.encode_image(x), rtol=0, atol=0)


def test_a_file_for_another_architecture_is_refused_naming_keys(tmp_path):
    other = create_clip("tiny", pretrained=False, layers=1, context_length=16)
    path = tmp_path / "other.safetensors"
    save_file({k: v.contiguous() for k, v in other.model.state_dict().items()}, str(path))
    with pytest.raises(ValueError) as err:
        create_clip("tiny", pretrained=path)
    message = str(err.value)
    assert "nothing was loaded" in message and "missing keys: visual.transformer.resblocks.1." in message
    assert "positional_embedding (file [16, 64], model [32, 64])" in message


def test_names_tags_and_options_are_checked():
    with pytest.raises(ValueError, match=r"unknown CLIP name 'ViT-Z-99'.*ViT-L-14"):
        create_clip("ViT-Z-99")
    with pytest.raises(ValueError, match=r"neither a weights tag of ViT-L-14 \(openai, .*laion2b"):
        create_clip(pretrained="no-such-tag")
    with pytest.raises(ValueError, match="only apply to the 'tiny' preset"):
        create_clip(pretrained=False, width=128)
    with pytest.raises(ValueError, match="no published weights"):
        create_clip("tiny", pretrained="openai")
    with pytest.raises(ValueError, match="multiple of 16"):
        create_clip("tiny", pretrained=False, width=40)


def test_offline_without_cached_weights_fails_fast_saying_what_to_do(empty_hub_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(RuntimeError) as err:
        create_clip()
    assert time.monotonic() - start < 10
    message = str(err.value)
    assert "timm/vit_large_patch14_clip_224.openai/open_clip_model.safetensors" in message
    assert "pretrained=False" in message and "pretrained=<path" in message


def test_prompts_must_be_a_list_of_strings(tiny):
    with pytest.raises(TypeError, match=r"wrap it: \[prompt\]"):
        tiny.encode_text("a red circle")
    with pytest.raises(TypeError, match="non-empty"):
        tiny.text_encoder_copy()([])
    with runtime_typecheck_disabled():
        with pytest.raises(ValueError, match=r"images has shape \[2, 1, 32, 32\], expected \[\?, 3, \?, \?\]"):
            tiny.encode_image(torch.zeros(2, 1, 32, 32))


@pytest.mark.slow
def test_cached_hub_weights_of_a_tag_are_used_offline(empty_hub_cache, monkeypatch):
    # ViT-B-32 'openai': the smallest ViT with a hub-hosted tag; random weights stand in for it
    from test_dino_backbone import _put_in_hub_cache

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.manual_seed(3)
    source = create_clip("ViT-B-32", pretrained=False)
    _put_in_hub_cache(empty_hub_cache, "timm/vit_base_patch32_clip_224.openai",
                      "open_clip_model.safetensors", source.model.state_dict())
    loaded = create_clip("ViT-B-32", pretrained="openai")
    torch.testing.assert_close(loaded.encode_text(PROMPTS), source.encode_text(PROMPTS), rtol=0, atol=0)
    assert isinstance(loaded, FrozenCLIP) and loaded.image_size == 224 and loaded.embed_dim == 512


def _real_clip_weights():
    path = os.environ.get("GANBLOCKS_CLIP_WEIGHTS")
    if path:
        return path if os.path.isfile(path) else None
    from huggingface_hub import try_to_load_from_cache

    for name in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
        if isinstance(try_to_load_from_cache("timm/vit_large_patch14_clip_224.openai", name), str):
            return "openai"
    return None


@pytest.mark.pretrained
def test_real_clip_weights_embed_related_captions_closer():
    weights = _real_clip_weights()
    if weights is None:
        pytest.skip("no CLIP ViT-L/14 'openai' weights: set GANBLOCKS_CLIP_WEIGHTS to a .safetensors "
                    "file or put timm/vit_large_patch14_clip_224.openai in the Hugging Face cache")
    clip = create_clip(pretrained=weights)
    e = clip.encode_text(["a photo of a cat", "a photo of a kitten", "a diagram of a steam engine"])
    assert e.shape == (3, 768)
    assert (e[0] @ e[1]) > (e[0] @ e[2])
