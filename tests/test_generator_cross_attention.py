import math

import pytest
import torch
from hypothesis import given, strategies as st

from ganblocks import TextCrossAttention
from ganblocks.generator.attention import grid_positions
from strategies import batch_sizes, runtime_typecheck_disabled, seeds

f64 = torch.float64
sides = st.sampled_from([1, 3, 4, 8])
token_counts = st.integers(min_value=1, max_value=8)


def _inputs(seed, b, c, side, n, text_dim, dtype=f64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, c, side, side, generator=g, dtype=dtype)
    tokens = torch.randn(b, n + 3, text_dim, generator=g, dtype=dtype)
    lengths = torch.randint(1, n + 1, (b,), generator=g)
    mask = torch.arange(n + 3)[None, :] < lengths[:, None]
    return x, tokens, mask


def _block(seed, c=16, text_dim=12, heads=2, dtype=f64, impl="sdpa"):
    torch.manual_seed(seed)
    block = TextCrossAttention(c, text_dim, num_heads=heads, layer_scale_init=1.0, impl=impl, dtype=dtype)
    with torch.no_grad():
        for p in block.parameters():
            if p.ndim == 1:
                p.normal_()  # norm gains and layer scale as after training
    return block


@given(seed=seeds, b=batch_sizes, side=sides, n=token_counts)
def test_padded_tokens_change_nothing(seed, b, side, n):
    block = _block(seed)
    x, tokens, mask = _inputs(seed, b, 16, side, n, 12)
    changed = torch.where(mask[..., None], tokens, 1e3 * torch.randn_like(tokens))
    y = block(x, tokens, mask)
    torch.testing.assert_close(block(x, changed, mask), y)
    # and dropping the padding entirely gives the same result per caption
    for i in range(b):
        keep = mask[i]
        torch.testing.assert_close(block(x[i:i + 1], tokens[i:i + 1, keep], keep[None, keep]), y[i:i + 1])


@given(seed=seeds, b=batch_sizes, side=sides, n=token_counts, perm_seed=seeds)
def test_permuting_tokens_with_their_mask_changes_nothing(seed, b, side, n, perm_seed):
    block = _block(seed)
    x, tokens, mask = _inputs(seed, b, 16, side, n, 12)
    perm = torch.randperm(tokens.shape[1], generator=torch.Generator().manual_seed(perm_seed))
    torch.testing.assert_close(block(x, tokens[:, perm], mask[:, perm]), block(x, tokens, mask))


@given(seed=seeds, b=st.integers(2, 4), side=sides, n=token_counts)
def test_batch_permutation_equivariance(seed, b, side, n):
    block = _block(seed)
    x, tokens, mask = _inputs(seed, b, 16, side, n, 12)
    perm = torch.randperm(b, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(block(x[perm], tokens[perm], mask[perm]), block(x, tokens, mask)[perm])


@given(seed=seeds, b=batch_sizes, side=sides, n=token_counts)
def test_zero_layer_scale_is_exactly_the_identity(seed, b, side, n):
    torch.manual_seed(seed)
    block = TextCrossAttention(16, 12, num_heads=2, layer_scale_init=0.0)
    x, tokens, mask = _inputs(seed, b, 16, side, n, 12, dtype=torch.float32)
    assert torch.equal(block(x, tokens, mask), x)


@given(seed=seeds, b=batch_sizes, side=sides, n=token_counts)
def test_sdpa_equals_an_explicit_softmax_reference(seed, b, side, n):
    block = _block(seed)
    x, tokens, mask = _inputs(seed, b, 16, side, n, 12)
    # reference written out from the block's equations
    seq = x.flatten(2).transpose(1, 2)
    eps = torch.finfo(f64).eps  # nn.RMSNorm's default
    rms = lambda t, g: t * torch.rsqrt(t.square().mean(-1, keepdim=True) + eps) * g  # noqa: E731
    q = (rms(seq, block.norm.weight) + grid_positions(side, side, 4, dtype=f64) @ block.pos.weight.T) @ block.to_q.weight.T
    t = rms(tokens, block.text_norm.weight)
    k, v = t @ block.to_k.weight.T, t @ block.to_v.weight.T
    split = lambda a: a.reshape(a.shape[0], a.shape[1], 2, -1).transpose(1, 2)  # noqa: E731
    q, k, v = split(q), split(k), split(v)
    logits = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    logits = logits.masked_fill(~mask[:, None, None, :], float("-inf"))
    out = (logits.softmax(-1) @ v).transpose(1, 2).reshape(b, side * side, -1) @ block.to_out.weight.T
    expected = x + block.gamma[:, None, None] * out.transpose(1, 2).reshape(x.shape)
    torch.testing.assert_close(block(x, tokens, mask), expected)
    math_block = _block(seed, impl="math")
    torch.testing.assert_close(math_block(x, tokens, mask), expected)


@given(seed=seeds, side=sides)
def test_each_query_knows_where_it_is(seed, side):
    # a feature map constant over space still gets a different update at every pixel
    block = _block(seed)
    x, tokens, mask = _inputs(seed, 1, 16, 1, 4, 12)
    mask = torch.ones_like(mask)  # with one valid token every query would read the same value
    flat = x.expand(1, 16, side, side).contiguous()
    y = block(flat, tokens, mask).flatten(2)[0].T
    assert torch.unique(y.round(decimals=10), dim=0).shape[0] == side * side


@given(seed=seeds, b=batch_sizes, n=token_counts)
def test_every_parameter_and_input_gets_a_finite_gradient(seed, b, n):
    block = _block(seed)
    x, tokens, mask = _inputs(seed, b, 16, 4, n, 12)
    x.requires_grad_(True)
    tokens.requires_grad_(True)
    block(x, tokens, mask).square().mean().backward()
    for name, p in [*block.named_parameters(), ("x", x), ("tokens", tokens)]:
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    assert torch.equal(tokens.grad[~mask], torch.zeros_like(tokens.grad[~mask]))  # padding gets none


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bf16_autocast_tracks_fp32(seed):
    block = _block(seed, c=32, text_dim=16, dtype=torch.float32)
    x, tokens, mask = _inputs(seed, 4, 32, 8, 6, 16, dtype=torch.float32)
    y32 = block(x, tokens, mask)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y16 = block(x, tokens, mask)
    delta = (y16.float() - x) - (y32 - x)
    assert (delta.norm() / (y32 - x).norm()) < 0.03


def test_bad_input_is_named():
    block = TextCrossAttention(8, 6, num_heads=2)
    x, tokens, mask = torch.randn(2, 8, 4, 4), torch.randn(2, 5, 6), torch.ones(2, 5, dtype=torch.bool)
    with runtime_typecheck_disabled():
        with pytest.raises(ValueError, match=r"tokens has shape \[2, 5, 7\], expected \[b, n, 6\]"):
            block(x, torch.randn(2, 5, 7), mask)
        with pytest.raises(ValueError, match=r"mask is .*expected a bool tensor of shape \[2, 5\]"):
            block(x, tokens, mask[:, :4])
        with pytest.raises(ValueError, match=r"no valid token for caption\(s\) \[0\]"):
            block(x, tokens, torch.stack([torch.zeros(5, dtype=torch.bool), mask[1]]))
        with pytest.raises(ValueError, match="x has shape"):
            block(torch.randn(2, 9, 4, 4), tokens, mask)
        with pytest.raises(ValueError, match="one caption per image"):
            block(x, tokens[:1], mask[:1])
    with pytest.raises(ValueError, match="positive"):
        TextCrossAttention(0, 6)


@given(seed=seeds, b=st.integers(1, 3), n=token_counts, dx=st.integers(0, 2), dy=st.integers(0, 2))
def test_a_shift_translates_what_the_attention_adds(seed, b, n, dx, dy):
    # on a feature map constant over space only the position encoding tells pixels apart, so a
    # shift of whole pixels moves the output by as many pixels (the codes are float32)
    side = 8
    block = _block(seed)
    x, tokens, mask = _inputs(seed, b, 16, 1, n, 12)
    x = x.expand(b, 16, side, side).contiguous()
    shift = torch.tensor([[dx / side, dy / side]], dtype=f64).expand(b, 2)
    moved, base = block(x, tokens, mask, shift=shift), block(x, tokens, mask)
    torch.testing.assert_close(moved[..., : side - dy, : side - dx], base[..., dy:, dx:], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(block(x, tokens, mask, shift=torch.zeros(b, 2, dtype=f64)), base)
