import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

from ganblocks.ops import FIR_TAPS, fir_filter2d, fir_taps, upsample2d, upsample_taps
from strategies import batch_sizes, channels, runtime_typecheck_disabled, seeds, spatial

tap_sets = st.sampled_from([FIR_TAPS, (1.0, 1.0), (1.0, 2.0, 1.0), (1.0, 4.0, 6.0, 4.0, 1.0)])
# Interpolating (factor, taps): every polyphase component of the taps has the same sum.
interpolators = st.sampled_from([
    (1, FIR_TAPS), (1, (1.0, 2.0, 1.0)),
    (2, FIR_TAPS), (2, (1.0, 1.0)), (2, (1.0, 2.0, 1.0)), (2, (1.0, 4.0, 6.0, 4.0, 1.0)),
    (3, (1.0, 1.0, 1.0)), (3, (1.0, 2.0, 3.0, 2.0, 1.0)), (4, (1.0, 2.0, 3.0, 4.0, 3.0, 2.0, 1.0)),
])


def _direct_filter2d(x, taps, padding, gain):
    """Reference: one dense 2-D correlation with the outer product of the normalised taps."""
    f = torch.tensor(taps, dtype=x.dtype)
    f = torch.outer(f, f) / f.sum() ** 2 * gain
    c = x.shape[1]
    return F.conv2d(F.pad(x, padding), f.expand(c, 1, *f.shape), groups=c)


def test_taps_are_normalised():
    torch.testing.assert_close(fir_taps(), torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8)
    with pytest.raises(ValueError, match="non-zero sum"):
        fir_taps((1.0, -1.0))


@given(seed=seeds, batch=batch_sizes, c=channels, h=spatial, w=spatial, taps=tap_sets,
       pad=st.integers(0, 3), gain=st.sampled_from([1.0, 4.0]))
def test_separable_filter_equals_the_dense_2d_filter(seed, batch, c, h, w, taps, pad, gain):
    torch.manual_seed(seed)
    x = torch.randn(batch, c, h, w, dtype=torch.float64)
    padding = (pad, pad + 1, pad + 1, pad)
    if min(h, w) + 2 * pad + 1 < len(taps):
        return
    y = fir_filter2d(x, taps=taps, padding=padding, gain=gain)
    torch.testing.assert_close(y, _direct_filter2d(x, taps, padding, gain))


@given(seed=seeds, batch=batch_sizes, c=channels, h=spatial, w=spatial, up=interpolators)
def test_upsample_has_exact_size_and_keeps_a_constant_image_constant_inside(
    seed, batch, c, h, w, up
):
    factor, taps = up
    torch.manual_seed(seed)
    value = torch.randn(batch, c, 1, 1, dtype=torch.float64)
    y = upsample2d(value.expand(batch, c, h, w), factor=factor, taps=taps)
    assert y.shape == (batch, c, factor * h, factor * w)
    margin = len(taps)  # the zero padding reaches at most this far in
    interior = y[:, :, margin:-margin, margin:-margin]
    if interior.numel():
        torch.testing.assert_close(interior, value.expand_as(interior))


@given(seed=seeds, batch=batch_sizes, c=channels, h=spatial, w=spatial)
def test_upsample_equals_zero_insertion_then_filtering_with_gain_four(seed, batch, c, h, w):
    torch.manual_seed(seed)
    x = torch.randn(batch, c, h, w, dtype=torch.float64)
    zeros = torch.zeros(batch, c, 2 * h, 2 * w, dtype=torch.float64)
    zeros[:, :, ::2, ::2] = x
    torch.testing.assert_close(upsample2d(x), _direct_filter2d(zeros, FIR_TAPS, (2, 1, 2, 1), 4.0))


@given(seed=seeds, c=channels, h=spatial, w=spatial)
def test_upsample_preserves_the_mean_of_a_periodic_image(seed, c, h, w):
    # A circularly padded image loses nothing at the border: the mean is exactly preserved.
    torch.manual_seed(seed)
    x = torch.randn(1, c, h, w, dtype=torch.float64)
    tiled = x.repeat(1, 1, 3, 3)
    y = upsample2d(tiled)[:, :, 2 * h:4 * h, 2 * w:4 * w]
    torch.testing.assert_close(y.mean(dim=(2, 3)), x.mean(dim=(2, 3)))


@given(seed=seeds, batch=batch_sizes, c=st.integers(1, 3), h=st.integers(1, 7), w=st.integers(1, 7))
def test_box_taps_upsample_to_nearest_neighbour(seed, batch, c, h, w):
    x = torch.randn(batch, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    torch.testing.assert_close(upsample2d(x, taps=upsample_taps("nearest")),
                               F.interpolate(x, scale_factor=2, mode="nearest"))
    assert upsample_taps("fir") == FIR_TAPS
    with pytest.raises(ValueError, match=r"upsample must be one of \['fir', 'nearest'\], got 'bilinear'"):
        upsample_taps("bilinear")


def test_gradient_reaches_the_input():
    x = torch.randn(2, 3, 5, 5, requires_grad=True)
    upsample2d(x).square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().min() > 0


def test_errors():
    with pytest.raises(ValueError, match="too small"):
        fir_filter2d(torch.randn(1, 1, 2, 2))
    with pytest.raises(ValueError, match="factor"):
        upsample2d(torch.randn(1, 1, 4, 4), factor=0)
    with runtime_typecheck_disabled(), pytest.raises(ValueError, match="padding"):
        fir_filter2d(torch.randn(1, 1, 8, 8), padding=(1, 1))


def test_the_filters_keep_their_generator_import_paths() -> None:
    import ganblocks
    import ganblocks.generator.upfirdn as old
    import ganblocks.ops as ops

    for name in old.__all__:
        assert getattr(old, name) is getattr(ops, name)
    for name in ("FIR_TAPS", "NEAREST_TAPS", "fir_taps", "fir_filter2d", "upsample2d"):
        assert getattr(ganblocks, name) is getattr(ops, name)
