import math

import pytest
import torch
from hypothesis import given, strategies as st

from ganblocks.generator.attention import attention, check_token_mask, grid_positions
from strategies import batch_sizes, runtime_typecheck_disabled, seeds

heads = st.integers(min_value=1, max_value=3)
lengths = st.integers(min_value=1, max_value=9)


def _reference(q, k, v, keep, bias):
    logits = torch.einsum("bhqd,bhkd->bhqk", q, k) / math.sqrt(q.shape[-1]) + bias
    logits = logits.masked_fill(~keep[:, None, None, :], float("-inf"))
    return torch.einsum("bhqk,bhkd->bhqd", logits.softmax(-1), v)


@given(seed=seeds, b=batch_sizes, h=heads, nq=lengths, nk=lengths, use_bias=st.booleans())
def test_sdpa_and_math_paths_equal_an_explicit_softmax(seed, b, h, nq, nk, use_bias):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(b, h, n, 8, generator=g, dtype=torch.float64) for n in (nq, nk, nk))
    keep = torch.rand(b, nk, generator=g) < 0.6
    keep[:, 0] = True
    bias = torch.randn(b, h, 1, nk, generator=g, dtype=torch.float64) if use_bias else None
    expected = _reference(q, k, v, keep, 0.0 if bias is None else bias)
    for impl in ("sdpa", "math"):
        torch.testing.assert_close(attention(q, k, v, mask=keep, bias=bias, impl=impl), expected)


@given(seed=seeds, nk=lengths)
def test_masked_keys_take_no_part(seed, nk):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(2, 2, n, 4, generator=g) for n in (5, nk + 3, nk + 3))
    keep = torch.zeros(2, nk + 3, dtype=torch.bool)
    keep[:, :nk] = True
    k2, v2 = k.clone(), v.clone()
    k2[..., nk:, :] = 1e3 * torch.randn_like(k2[..., nk:, :])
    v2[..., nk:, :] = -7.0
    torch.testing.assert_close(attention(q, k, v, mask=keep), attention(q, k2, v2, mask=keep))
    torch.testing.assert_close(attention(q, k, v, mask=keep), attention(q, k[..., :nk, :], v[..., :nk, :]))


@given(h=st.integers(1, 12), w=st.integers(1, 12), f=st.integers(1, 5))
def test_grid_positions_are_bounded_distinct_and_separable(h, w, f):
    p = grid_positions(h, w, f).reshape(h, w, 4 * f)
    assert p.abs().max() <= 1.0
    assert torch.unique(p.reshape(h * w, -1), dim=0).shape[0] == h * w  # every pixel its own code
    # the first 2F features depend on the row only, the last 2F on the column only
    assert torch.equal(p[:, :, : 2 * f], p[:, :1, : 2 * f].expand(h, w, 2 * f))
    assert torch.equal(p[:, :, 2 * f:], p[:1, :, 2 * f:].expand(h, w, 2 * f))


def test_grid_positions_mean_the_same_place_at_every_resolution():
    # the lowest frequency at a coarse pixel equals (nearly) the mean over its 2x2 fine pixels
    coarse, fine = grid_positions(8, 8, 2), grid_positions(16, 16, 2)
    fine_mean = fine.reshape(8, 2, 8, 2, 8).mean(dim=(1, 3)).reshape(64, 8)
    lowest = [0, 1, 4, 5]  # sin, cos of the first frequency, rows then columns
    assert (coarse - fine_mean)[:, lowest].abs().max() < 0.02


def test_bad_tokens_and_masks_are_named():
    tokens = torch.randn(2, 5, 8)
    with pytest.raises(ValueError, match=r"tokens has shape \[2, 5, 8\], expected \[b, n, 16\]"):
        check_token_mask(tokens, torch.ones(2, 5, dtype=torch.bool), text_dim=16)
    with pytest.raises(ValueError, match="mask is"):
        check_token_mask(tokens, torch.ones(2, 4, dtype=torch.bool), text_dim=8)
    with pytest.raises(ValueError, match="bool"):
        check_token_mask(tokens, torch.ones(2, 5), text_dim=8)
    empty = torch.ones(2, 5, dtype=torch.bool)
    empty[1] = False
    with pytest.raises(ValueError, match=r"no valid token for caption\(s\) \[1\]"):
        check_token_mask(tokens, empty, text_dim=8)
    with runtime_typecheck_disabled(), pytest.raises(ValueError, match="impl"):
        attention(tokens[:, None], tokens[:, None], tokens[:, None], impl="flash")


@given(h=st.integers(2, 10), w=st.integers(2, 10), f=st.integers(1, 4), dx=st.integers(0, 1),
       dy=st.integers(0, 1))
def test_a_whole_pixel_shift_gives_each_pixel_its_neighbours_position(h, w, f, dx, dy):
    # shift (dx/w, dy/h) image sides: pixel (i, j) gets the code of pixel (i + dy, j + dx)
    # (to float32 rounding: the codes are computed in float32)
    base = grid_positions(h, w, f, dtype=torch.float64).reshape(h, w, 4 * f)
    shift = torch.tensor([[dx / w, dy / h], [0.0, 0.0]], dtype=torch.float64)
    moved = grid_positions(h, w, f, shift=shift, dtype=torch.float64).reshape(2, h, w, 4 * f)
    torch.testing.assert_close(moved[0, : h - dy, : w - dx], base[dy:, dx:], atol=1e-5, rtol=0)
    torch.testing.assert_close(moved[1], base)  # a zero shift is no shift


def test_a_sub_pixel_shift_moves_the_codes_continuously():
    base = grid_positions(8, 8, 3, dtype=torch.float64)
    small = grid_positions(8, 8, 3, shift=torch.tensor([[1e-4, -1e-4]], dtype=torch.float64), dtype=torch.float64)
    assert small.shape == (1, 64, 12)
    assert 0 < (small[0] - base).abs().max() < 1e-2
    with runtime_typecheck_disabled(), pytest.raises(ValueError, match=r"shift has shape \[2, 3\], expected \[\?, 2\]"):
        grid_positions(8, 8, 3, shift=torch.zeros(2, 3))
