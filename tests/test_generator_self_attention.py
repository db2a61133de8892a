import math

import pytest
import torch
from hypothesis import given, strategies as st

from ganblocks import SpatialSelfAttention
from ganblocks.generator.attention import grid_positions
from strategies import batch_sizes, runtime_typecheck_disabled, seeds

f64 = torch.float64
sides = st.sampled_from([1, 3, 4, 8])
modes = st.sampled_from(["qk_norm", "l2", "dot"])


def _block(seed, logits, c=16, dtype=f64, impl="sdpa"):
    torch.manual_seed(seed)
    block = SpatialSelfAttention(c, num_heads=2, logits=logits, layer_scale_init=1.0, impl=impl, dtype=dtype)
    with torch.no_grad():
        for p in block.parameters():
            if p.ndim == 1:
                p.normal_()
    return block


def _x(seed, b, side, c=16, dtype=f64):
    return torch.randn(b, c, side, side, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _reference(block, x):
    b, c, h, w = x.shape
    eps = torch.finfo(x.dtype).eps
    rms = lambda t, g: t * torch.rsqrt(t.square().mean(-1, keepdim=True) + eps) * g  # noqa: E731
    u = rms(x.flatten(2).transpose(1, 2), block.norm.weight) + grid_positions(h, w, 4, dtype=x.dtype) @ block.pos.weight.T
    split = lambda a: a.reshape(b, h * w, block.num_heads, -1).transpose(1, 2)  # noqa: E731
    q, v = split(u @ block.to_q.weight.T), split(u @ block.to_v.weight.T)
    d = q.shape[-1]
    if block.logits == "l2":
        logits = -(q[:, :, :, None, :] - q[:, :, None, :, :]).square().sum(-1) / math.sqrt(d)
    else:
        k = split(u @ block.to_k.weight.T)
        if block.logits == "qk_norm":
            q, k = rms(q, block.q_norm.weight), rms(k, block.k_norm.weight)
        logits = q @ k.transpose(-1, -2) / math.sqrt(d)
    out = (logits.softmax(-1) @ v).transpose(1, 2).reshape(b, h * w, -1) @ block.to_out.weight.T
    return x + block.gamma[:, None, None] * out.transpose(1, 2).reshape(x.shape)


@given(seed=seeds, b=batch_sizes, side=sides, logits=modes)
def test_sdpa_and_math_equal_an_explicit_softmax_reference(seed, b, side, logits):
    x = _x(seed, b, side)
    for impl in ("sdpa", "math"):
        block = _block(seed, logits, impl=impl)
        torch.testing.assert_close(block(x), _reference(block, x))


@given(seed=seeds, b=st.integers(2, 4), side=sides, logits=modes)
def test_batch_permutation_equivariance(seed, b, side, logits):
    block, x = _block(seed, logits), _x(seed, b, side)
    perm = torch.randperm(b, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(block(x[perm]), block(x)[perm])


@given(seed=seeds, b=batch_sizes, side=sides, logits=modes)
def test_zero_layer_scale_is_exactly_the_identity(seed, b, side, logits):
    torch.manual_seed(seed)
    block = SpatialSelfAttention(16, logits=logits, layer_scale_init=0.0)
    x = _x(seed, b, side, dtype=torch.float32)
    assert torch.equal(block(x), x)


@given(seed=seeds, side=sides, scale=st.floats(0.01, 100.0))
def test_qk_norm_logits_ignore_the_scale_of_the_query_and_key_weights(seed, side, scale):
    # the bound that makes it stable: growing W_q, W_k (as a large step would) changes nothing
    block, x = _block(seed, "qk_norm"), _x(seed, 2, side)
    y = block(x)
    with torch.no_grad():
        block.to_q.weight.mul_(scale)
        block.to_k.weight.mul_(scale)
    torch.testing.assert_close(block(x), y)


def test_l2_ties_query_and_key_weights():
    assert SpatialSelfAttention(16, logits="l2").to_k is None
    assert SpatialSelfAttention(16, logits="dot").to_k is not None


@given(seed=seeds, b=batch_sizes, logits=modes)
def test_every_parameter_gets_a_finite_gradient(seed, b, logits):
    block, x = _block(seed, logits), _x(seed, b, 4).requires_grad_(True)
    block(x).square().mean().backward()
    for name, p in [*block.named_parameters(), ("x", x)]:
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("logits", ["qk_norm", "l2", "dot"])
def test_bf16_autocast_tracks_fp32(logits):
    block, x = _block(0, logits, c=32, dtype=torch.float32), _x(0, 4, 8, c=32, dtype=torch.float32)
    y32 = block(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y16 = block(x)
    assert ((y16.float() - y32).norm() / (y32 - x).norm()) < 0.03


def test_bad_input_is_named():
    block = SpatialSelfAttention(8)
    with runtime_typecheck_disabled(), pytest.raises(ValueError, match=r"x has shape \[2, 9, 4, 4\]"):
        block(torch.randn(2, 9, 4, 4))
    with runtime_typecheck_disabled(), pytest.raises(ValueError, match="logits must be"):
        SpatialSelfAttention(8, logits="cosine")


@given(seed=seeds, logits=st.sampled_from(["qk_norm", "l2", "dot"]))
def test_a_shift_moves_each_samples_position_encoding_alone(seed, logits):
    block = _block(seed, logits)
    x = _x(seed, 2, 4)
    shift = torch.tensor([[0.25, 0.0], [0.0, 0.0]], dtype=f64)
    out = block(x, shift=shift)
    torch.testing.assert_close(out[1:], block(x[1:]))  # a zero shift is no shift
    torch.testing.assert_close(out[:1], block(x[:1], shift=shift[:1]))
    assert not torch.allclose(out[:1], block(x[:1]))
