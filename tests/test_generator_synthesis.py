import copy
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from ganblocks.generator import (
    SYNTHESIS_PRESETS,
    MappingNetwork,
    ResidualGenBlock,
    StyleConv,
    SynthesisBlock,
    SynthesisNetwork,
    synthesis_layout,
    upsample2d,
)
from strategies import batch_sizes, runtime_typecheck_disabled, seeds

W_DIM = 64 + 768
f64 = torch.float64


def _count(module):
    return sum(p.numel() for p in module.parameters())


# StyleGAN-T's generator sizes: parameters (mapping + synthesis) of the release, in millions.
@pytest.mark.parametrize("preset,resolution,millions", [
    ("full", 64, 975.6), ("full", 256, 1016.4), ("full", 512, 1020.5),
    ("lite", 64, 74.56), ("lite", 256, 85.70), ("lite", 512, 87.04),
    ("small", 64, 16.17), ("small", 256, 19.31), ("small", 512, 19.75),
])
def test_parameter_counts_match_the_paper_presets(preset, resolution, millions):
    synthesis = SynthesisNetwork.from_preset(preset, W_DIM, resolution, device="meta")
    total = _count(synthesis) + _count(MappingNetwork(64, 768, device="meta"))
    assert total / 1e6 == pytest.approx(millions, rel=0.01)


def _tiny(resolution, **kwargs):
    return SynthesisNetwork.from_preset("tiny", 12, resolution, **kwargs)


@pytest.mark.parametrize("resolution", [8, 16, 32])
def test_every_parameter_gets_a_finite_gradient(resolution):
    torch.manual_seed(0)
    net = _tiny(resolution)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("noise.strength"):
                p.fill_(0.1)
    img = net(torch.randn(2, 12))
    assert img.shape == (2, 3, resolution, resolution)
    img.square().mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_channels_last_weights_give_the_same_images_and_gradients():
    torch.manual_seed(0)
    net = _tiny(16, dtype=f64)
    fast = copy.deepcopy(net).to(memory_format=torch.channels_last)
    assert any(p.ndim == 4 and p.is_contiguous(memory_format=torch.channels_last)
               and not p.is_contiguous() for p in fast.parameters())
    w = torch.randn(2, 12, dtype=f64)
    img, img_cl = net(w, noise_mode="const"), fast(w, noise_mode="const")
    torch.testing.assert_close(img_cl, img)
    img.square().sum().backward()
    img_cl.square().sum().backward()
    for (name, p), q in zip(net.named_parameters(), fast.parameters()):
        torch.testing.assert_close(q.grad, p.grad, msg=name)


@settings(max_examples=5)
@given(seed=seeds, batch=st.integers(2, 3), resolution=st.sampled_from([8, 16]),
       residual=st.booleans(), modulation=st.sampled_from(["polynomial", "affine"]))
def test_batch_permutation_equivariance(seed, batch, resolution, residual, modulation):
    torch.manual_seed(seed)
    net = _tiny(resolution, residual=residual, modulation=modulation, dtype=f64)
    w = torch.randn(batch, 12, dtype=f64)
    perm = torch.randperm(batch)
    img = net(w, noise_mode="const")
    torch.testing.assert_close(net(w[perm], noise_mode="const"), img[perm])
    torch.testing.assert_close(net(w, noise_mode="const"), img)  # const noise: deterministic


@settings(max_examples=5)
@given(seed=seeds, batch=batch_sizes)
def test_block_adds_its_rgb_to_the_upsampled_image(seed, batch):
    torch.manual_seed(seed)
    block = SynthesisBlock(8, 4, 6, resolution=16, num_res_blocks=1, num_groups=4, dtype=f64)
    x = torch.randn(batch, 8, 8, 8, dtype=f64)
    img = torch.randn(batch, 3, 8, 8, dtype=f64)
    w = torch.randn(batch, 6, dtype=f64)
    x_out, img_out = block(x, img, w, noise_mode="none")
    assert x_out.shape == (batch, 4, 16, 16)
    torch.testing.assert_close(img_out, upsample2d(img) + block.torgb(x_out, w))
    torch.testing.assert_close(block(x, None, w, noise_mode="none")[1], block.torgb(x_out, w))


def test_nearest_upsampling_keeps_parameters_and_upsamples_the_skips_by_nearest_neighbour():
    torch.manual_seed(0)
    fir = SynthesisNetwork(12, 32, channel_base=256, channel_max=16, num_res_blocks=1, num_groups=4)
    nearest = SynthesisNetwork(12, 32, channel_base=256, channel_max=16, num_res_blocks=1, num_groups=4,
                               upsample="nearest")
    nearest.load_state_dict(fir.state_dict())  # same parameters: the filter has none
    w = torch.randn(3, 12)
    assert not torch.allclose(fir(w, noise_mode="none"), nearest(w, noise_mode="none"))
    block = nearest.blocks["b16"]
    x, img = torch.randn(3, 16, 8, 8), torch.randn(3, 3, 8, 8)
    x_out, img_out = block(x, img, w, noise_mode="none")
    torch.testing.assert_close(img_out, torch.nn.functional.interpolate(img, scale_factor=2, mode="nearest")
                               + block.torgb(x_out, w))
    with runtime_typecheck_disabled(), pytest.raises(ValueError, match="upsample must be one of"):
        SynthesisNetwork(12, 32, channel_base=256, channel_max=16, num_res_blocks=1, upsample="bicubic")


def test_block_layout_follows_the_paper():
    first = SynthesisBlock(32, 32, 6, resolution=8, num_res_blocks=2, first=True)
    assert first.up_conv is None
    assert [type(m) for m in first.layers] == [StyleConv, ResidualGenBlock] * 2
    later = SynthesisBlock(32, 16, 6, resolution=16, num_res_blocks=1, residual=False, num_groups=16)
    assert later.up_conv.conv.up == 2 and later.up_conv.activation_gain == pytest.approx(math.sqrt(2))
    assert [type(m) for m in later.layers] == [StyleConv, StyleConv]
    for layer in later.layers:
        assert layer.activation_gain == 1.0 and layer.conv_clamp == pytest.approx(256 / math.sqrt(2))


def test_layout_lists_resolutions_and_channels():
    net = SynthesisNetwork.from_preset("small", W_DIM, 512, device="meta")
    expected = [(8, 256), (16, 256), (32, 256), (64, 256), (128, 128), (256, 64), (512, 32)]
    assert net.layout() == expected
    assert synthesis_layout(512, channel_base=16384, channel_max=256) == expected
    assert list(net.blocks) == [f"b{r}" for r, _ in expected]
    assert net.input.channels == 256 and net.input.size == 8


def test_lower_resolution_weights_load_into_a_higher_resolution_network():
    torch.manual_seed(0)
    low = _tiny(16)
    high = _tiny(32)
    result = high.load_state_dict(low.state_dict(), strict=False)
    assert result.unexpected_keys == []
    assert result.missing_keys and all(k.startswith("blocks.b32.") for k in result.missing_keys)
    for key, value in low.state_dict().items():
        torch.testing.assert_close(high.state_dict()[key], value)
    # The shared blocks compute the same features and image as the low-resolution network.
    w = torch.randn(2, 12)
    x = high.input(w)
    img = None
    for name in ("b8", "b16"):
        x, img = high.blocks[name](x, img, w, noise_mode="const")
    torch.testing.assert_close(img, low(w, noise_mode="const"))


def test_full_preset_runs_on_the_meta_device():
    net = SynthesisNetwork.from_preset("full", W_DIM, 64, device="meta")
    img = net(torch.empty(2, W_DIM, device="meta"))
    assert img.shape == (2, 3, 64, 64) and img.is_meta


def test_presets_are_read_only():
    with pytest.raises(TypeError):
        SYNTHESIS_PRESETS["huge"] = SYNTHESIS_PRESETS["full"]  # type: ignore[index]


def test_errors():
    for resolution in (4, 24, 100):
        with pytest.raises(ValueError, match="power of two >= 8"):
            _tiny(resolution, device="meta")
    with runtime_typecheck_disabled():
        with pytest.raises(ValueError, match="preset must be one of"):
            SynthesisNetwork.from_preset("huge", W_DIM, 64)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"^w has shape \[2, 11\], expected \[\?, 12\]"):
            _tiny(8)(torch.randn(2, 11))
        block = SynthesisBlock(8, 4, 6, resolution=16, num_res_blocks=1, num_groups=4)
        with pytest.raises(ValueError, match=r"^img has shape \[2, 3, 16, 16\], expected \[2, 3, 8, 8\]"):
            block(torch.randn(2, 8, 8, 8), torch.randn(2, 3, 16, 16), torch.randn(2, 6))


# --- token-level text conditioning (off by default) ---

def _tokens(b, n=6, t=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randn(b, n, t, generator=g)
    mask = torch.arange(n)[None, :] < torch.randint(1, n + 1, (b,), generator=g)[:, None]
    return tokens, mask


def _attention_net(**kwargs):
    return SynthesisNetwork(20, 32, channel_base=512, channel_max=32, num_res_blocks=1, num_groups=4,
                            text_dim=12, **kwargs)


def test_attention_with_zero_layer_scale_is_the_trained_network_unchanged():
    torch.manual_seed(0)
    plain = SynthesisNetwork(20, 32, channel_base=512, channel_max=32, num_res_blocks=1, num_groups=4)
    grown = _attention_net(cross_attention=(8, 16), self_attention=(8,), attention_layer_scale=0.0)
    missing, unexpected = grown.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(".cross_attn." in k or ".self_attn." in k for k in missing)
    w = torch.randn(3, 20)
    tokens, mask = _tokens(3)
    assert torch.equal(grown(w, tokens=tokens, mask=mask, noise_mode="const"), plain(w, noise_mode="const"))


def test_attention_blocks_sit_where_asked_and_read_the_tokens():
    torch.manual_seed(0)
    net = _attention_net(cross_attention=(16, 32), self_attention=(8,), attention_layer_scale=1.0)
    assert [r for r, b in zip(net.block_resolutions, net.blocks.values()) if b.cross_attn is not None] == [16, 32]
    assert [r for r, b in zip(net.block_resolutions, net.blocks.values()) if b.self_attn is not None] == [8]
    w = torch.randn(2, 20)
    tokens, mask = _tokens(2)
    y = net(w, tokens=tokens, mask=mask, noise_mode="const")
    y2 = net(w, tokens=tokens.flip(0), mask=mask.flip(0), noise_mode="const")
    assert not torch.allclose(y, y2)
    y.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_attention_off_keeps_the_state_dict_and_ignores_tokens():
    plain = SynthesisNetwork(20, 16, channel_base=512, channel_max=32, num_res_blocks=1, num_groups=4)
    assert not any("attn" in k for k in plain.state_dict())
    w = torch.randn(2, 20)
    tokens, mask = _tokens(2)
    assert torch.equal(plain(w, tokens=tokens, mask=mask, noise_mode="const"), plain(w, noise_mode="const"))


def test_attention_options_are_checked():
    with pytest.raises(ValueError, match=r"cross_attention resolutions \[64\] are not block resolutions .* \[8, 16, 32\]"):
        _attention_net(cross_attention=(64,))
    with pytest.raises(ValueError, match=r"self_attention resolutions \[12\]"):
        _attention_net(self_attention=(12,))
    with pytest.raises(ValueError, match="needs text_dim"):
        SynthesisNetwork(20, 32, channel_base=512, channel_max=32, num_res_blocks=1, num_groups=4,
                         cross_attention=(8,))
    net = _attention_net(cross_attention=(8,))
    with pytest.raises(ValueError, match="pass tokens= and mask="):
        net(torch.randn(2, 20))
    tokens, mask = _tokens(2)
    with runtime_typecheck_disabled():
        with pytest.raises(ValueError, match=r"tokens has shape \[2, 6, 5\], expected \[b, n, 12\]"):
            net(torch.randn(2, 20), tokens=tokens[..., :5], mask=mask)
        with pytest.raises(ValueError, match="no valid token"):
            net(torch.randn(2, 20), tokens=tokens, mask=torch.zeros_like(mask))
        with pytest.raises(ValueError, match="one caption per image"):
            net(torch.randn(3, 20), tokens=tokens, mask=mask)


def test_a_shift_reaches_every_attention_layer_and_translates_the_picture():
    torch.manual_seed(0)
    net = _attention_net(cross_attention=(8, 16), self_attention=(8,), attention_layer_scale=1.0).double()
    seen = []
    record = lambda module, args, kwargs: seen.append(kwargs.get("shift"))  # noqa: E731
    for block in net.blocks.values():
        for layer in (block.cross_attn, block.self_attn):
            if layer is not None:
                layer.register_forward_pre_hook(record, with_kwargs=True)
    w = torch.randn(2, 20, dtype=torch.float64)
    tokens, mask = _tokens(2)
    shift = torch.tensor([[1 / 8, 0.0], [0.0, 1 / 8]], dtype=torch.float64)  # one input pixel
    base = net(w, tokens=tokens.double(), mask=mask, noise_mode="none")
    assert seen == [None] * 3
    seen.clear()
    moved = net(w, tokens=tokens.double(), mask=mask, noise_mode="none", shift=shift)
    assert len(seen) == 3 and all(s is shift for s in seen)
    # the picture moves by 4 px at 32 px (content at q appears at q - shift); the convolutions'
    # zero padding keeps it from being exact, but it is far closer than no move
    def error(a, b):
        return float((a[0, ..., :-4] - b[0, ..., 4:]).abs().mean() + (a[1, ..., :-4, :] - b[1, ..., 4:, :]).abs().mean())
    assert error(moved, base) < 0.5 * error(base, base)
