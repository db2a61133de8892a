import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

from ganblocks.generator import NEAREST_TAPS, ModulatedConv, modulated_conv2d, resolve_modconv_impl, upsample2d
from strategies import (
    batch_sizes,
    channels,
    odd_kernel_sizes,
    runtime_typecheck_disabled,
    seeds,
    spatial,
    style_scales,
    upsample_factors,
)

impls = st.sampled_from(["grouped", "scaled"])
f64 = torch.float64


def _inputs(seed, batch, c_in, c_out, k, h, w):
    torch.manual_seed(seed)
    x = torch.randn(batch, c_in, h, w, dtype=f64)
    weight = torch.randn(c_out, c_in, k, k, dtype=f64)
    styles = torch.randn(batch, c_in, dtype=f64)
    return x, weight, styles


@given(seed=seeds, batch=batch_sizes, c_in=channels, c_out=channels, k=odd_kernel_sizes,
       h=spatial, w=spatial, up=upsample_factors, demodulate=st.booleans())
def test_grouped_and_scaled_paths_agree(seed, batch, c_in, c_out, k, h, w, up, demodulate):
    x, weight, styles = _inputs(seed, batch, c_in, c_out, k, h, w)
    kw = {"demodulate": demodulate, "up": up}
    grouped = modulated_conv2d(x, weight, styles, impl="grouped", **kw)
    scaled = modulated_conv2d(x, weight, styles, impl="scaled", **kw)
    assert grouped.shape == (batch, c_out, up * h, up * w)
    torch.testing.assert_close(grouped, scaled)


@given(seed=seeds, batch=batch_sizes, c_in=channels, c_out=channels, k=odd_kernel_sizes,
       h=spatial, up=upsample_factors, impl=impls, scale=style_scales)
def test_demodulation_ignores_the_scale_of_the_styles(seed, batch, c_in, c_out, k, h, up, impl, scale):
    x, weight, styles = _inputs(seed, batch, c_in, c_out, k, h, h)
    per_sample = scale * torch.linspace(0.5, 2.0, batch, dtype=f64)[:, None]  # k_b > 0
    # eps = 0: the invariance is exact (eps only guards against an all-zero weight).
    y = modulated_conv2d(x, weight, styles, up=up, impl=impl, eps=0.0)
    y_scaled = modulated_conv2d(x, weight, styles * per_sample, up=up, impl=impl, eps=0.0)
    torch.testing.assert_close(y_scaled, y)


@given(seed=seeds, batch=batch_sizes, c_in=channels, c_out=channels, k=odd_kernel_sizes, impl=impls)
def test_demodulated_weight_has_unit_norm_per_output_channel(seed, batch, c_in, c_out, k, impl):
    # Probe the per-sample weight with one impulse per input channel: the responses hold every
    # entry of W''[b, o], whose squares must sum to one.
    _, weight, styles = _inputs(seed, batch, c_in, c_out, k, 1, 1)
    size = 2 * k + 1
    energy = torch.zeros(batch, c_out, dtype=f64)
    for i in range(c_in):
        impulse = torch.zeros(batch, c_in, size, size, dtype=f64)
        impulse[:, i, k, k] = 1.0
        energy += modulated_conv2d(impulse, weight, styles, impl=impl, eps=0.0).square().sum(dim=(2, 3))
    torch.testing.assert_close(energy, torch.ones_like(energy))


@given(seed=seeds, batch=st.integers(2, 4), c_in=channels, c_out=channels, k=odd_kernel_sizes,
       h=spatial, up=upsample_factors, impl=impls, demodulate=st.booleans())
def test_batch_permutation_equivariance(seed, batch, c_in, c_out, k, h, up, impl, demodulate):
    x, weight, styles = _inputs(seed, batch, c_in, c_out, k, h, h)
    perm = torch.randperm(batch)
    kw = {"up": up, "impl": impl, "demodulate": demodulate}
    y = modulated_conv2d(x, weight, styles, **kw)
    torch.testing.assert_close(modulated_conv2d(x[perm], weight, styles[perm], **kw), y[perm])


@given(seed=seeds, batch=batch_sizes, c_in=channels, c_out=channels, k=odd_kernel_sizes,
       h=spatial, w=spatial)
def test_module_without_demodulation_and_unit_styles_is_a_plain_conv(seed, batch, c_in, c_out, k, h, w):
    torch.manual_seed(seed)
    conv = ModulatedConv(c_in, c_out, k, demodulate=False, dtype=f64)
    x = torch.randn(batch, c_in, h, w, dtype=f64)
    expected = F.conv2d(x, conv.weight / math.sqrt(c_in * k * k), padding=k // 2)
    torch.testing.assert_close(conv(x, torch.ones(batch, c_in, dtype=f64)), expected)
    styles = torch.randn(batch, c_in, dtype=f64)
    torch.testing.assert_close(conv(x, styles), F.conv2d(
        x * styles[:, :, None, None], conv.weight / math.sqrt(c_in * k * k), padding=k // 2))


@given(seed=seeds, batch=batch_sizes, c_in=channels, c_out=channels, k=odd_kernel_sizes,
       h=st.sampled_from([8, 12]), impl=impls)
def test_upsampling_conv_matches_fir_upsampling_then_conv_inside(seed, batch, c_in, c_out, k, h, impl):
    x, weight, styles = _inputs(seed, batch, c_in, c_out, k, h, h)
    y = modulated_conv2d(x, weight, styles, demodulate=False, up=2, impl=impl)
    reference = F.conv2d(upsample2d(x * styles[:, :, None, None]), weight, padding=k // 2)
    margin = 3 + k // 2  # border where the two differ by zero-padding order
    torch.testing.assert_close(y[..., margin:-margin, margin:-margin],
                               reference[..., margin:-margin, margin:-margin])


@given(seed=seeds, batch=batch_sizes, c_in=channels, c_out=channels, k=odd_kernel_sizes,
       h=st.sampled_from([4, 7]), impl=impls, demodulate=st.booleans())
def test_nearest_upsampling_conv_is_interpolation_then_conv_everywhere(seed, batch, c_in, c_out, k, h, impl, demodulate):
    x, weight, styles = _inputs(seed, batch, c_in, c_out, k, h, h)
    y = modulated_conv2d(x, weight, styles, demodulate=demodulate, up=2, impl=impl, up_taps=NEAREST_TAPS)
    # the box taps make zero-insertion + filtering nearest-neighbour upsampling, borders included
    reference = modulated_conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), weight, styles,
                                 demodulate=demodulate, impl=impl)
    torch.testing.assert_close(y, reference)
    conv = ModulatedConv(c_in, c_out, k, up=2, up_taps=NEAREST_TAPS, dtype=f64)
    assert "up_taps=(1.0, 1.0)" in repr(conv)
    torch.testing.assert_close(conv(x, styles), modulated_conv2d(
        x, conv.weight, styles, up=2, up_taps=NEAREST_TAPS))


def test_explicit_padding_for_up_1():
    x, weight, styles = _inputs(0, 2, 3, 4, 3, 6, 6)
    assert modulated_conv2d(x, weight, styles, padding=0).shape == (2, 4, 4, 4)
    assert modulated_conv2d(x, weight, styles, padding=2).shape == (2, 4, 8, 8)


@pytest.mark.parametrize("up", [1, 2])
@pytest.mark.parametrize("demodulate", [True, False])
def test_every_parameter_gets_a_finite_gradient(up, demodulate):
    conv = ModulatedConv(4, 5, 3, demodulate=demodulate, up=up)
    x = torch.randn(2, 4, 6, 6, requires_grad=True)
    styles = torch.randn(2, 4, requires_grad=True)
    conv(x, styles).square().mean().backward()
    for name, t in [*conv.named_parameters(), ("x", x), ("styles", styles)]:
        assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0, name


def test_auto_resolves_to_the_scaled_path_that_the_module_runs():
    assert resolve_modconv_impl("auto", torch.device("cpu")) == "scaled"
    assert resolve_modconv_impl("grouped", torch.device("cpu")) == "grouped"
    x, weight, styles = _inputs(0, 3, 4, 5, 3, 6, 6)
    conv = ModulatedConv(4, 5, 3, dtype=f64)
    with torch.no_grad():
        conv.weight.copy_(weight)
    assert torch.equal(conv(x, styles), modulated_conv2d(x, weight, styles, impl="scaled"))


@pytest.mark.parametrize("up", [1, 2])
def test_grouped_path_gives_the_same_gradients_for_channels_last_inputs(up):
    x, weight, styles = _inputs(0, 3, 4, 5, 3, 6, 6)
    grads = []
    for layout in (torch.contiguous_format, torch.channels_last):
        leaves = [t.clone().requires_grad_(True) for t in (x, weight)]
        xs, ws = (t.to(memory_format=layout) for t in leaves)
        modulated_conv2d(xs, ws, styles, up=up, impl="grouped").square().sum().backward()
        grads.append([t.grad for t in leaves])
    for contiguous, channels_last in zip(*grads):
        torch.testing.assert_close(channels_last, contiguous)


def test_errors_name_the_argument():
    conv = ModulatedConv(4, 5)
    with runtime_typecheck_disabled():
        with pytest.raises(ValueError, match=r"^x has shape \[2, 3, 6, 6\], expected \[\?, 4, \?, \?\]"):
            conv(torch.randn(2, 3, 6, 6), torch.randn(2, 4))
        with pytest.raises(ValueError, match=r"^styles has shape \[3, 4\], expected \[2, 4\]"):
            conv(torch.randn(2, 4, 6, 6), torch.randn(3, 4))
        with pytest.raises(ValueError, match="^weight"):
            modulated_conv2d(torch.randn(2, 4, 6, 6), torch.randn(5, 3, 3, 3), torch.randn(2, 4))
        with pytest.raises(ValueError, match="impl"):
            modulated_conv2d(torch.randn(2, 4, 6, 6), torch.randn(5, 4, 3, 3), torch.randn(2, 4),
                             impl="fused")
        with pytest.raises(ValueError, match="padding must be None"):
            modulated_conv2d(torch.randn(2, 4, 6, 6), torch.randn(5, 4, 3, 3), torch.randn(2, 4),
                             up=2, padding=1)
    with pytest.raises(ValueError, match="kernel_size"):
        ModulatedConv(4, 5, 2)


def test_builds_on_the_meta_device():
    conv = ModulatedConv(2048, 2048, device="meta")
    y = conv(torch.empty(2, 2048, 8, 8, device="meta"), torch.empty(2, 2048, device="meta"))
    assert y.shape == (2, 2048, 8, 8) and y.is_meta
