import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

from ganblocks.generator import StyleConv, modulated_conv2d
from strategies import (
    batch_sizes,
    channels,
    runtime_typecheck_disabled,
    seeds,
    spatial,
    upsample_factors,
    w_dims,
)

f64 = torch.float64


def _randomise(module, seed):
    """Random biases and noise strength, as after training."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            if p.ndim <= 1:
                p.normal_()
    return module


@given(seed=seeds, batch=batch_sizes, c_in=channels, c_out=channels, w_dim=w_dims, h=spatial,
       up=upsample_factors, gain=st.sampled_from([1.0, math.sqrt(2)]))
def test_is_modulate_conv_noise_bias_lrelu_clamp(seed, batch, c_in, c_out, w_dim, h, up, gain):
    layer = _randomise(StyleConv(c_in, c_out, w_dim, up=up, resolution=up * h,
                                 activation_gain=gain, conv_clamp=0.5, dtype=f64), seed)
    x = torch.randn(batch, c_in, h, h, dtype=f64)
    w = torch.randn(batch, w_dim, dtype=f64)
    y = layer(x, w, noise_mode="const")
    assert y.shape == (batch, c_out, up * h, up * h)
    conv = modulated_conv2d(x, layer.conv.weight, layer.modulation(w), up=up)
    pre = conv + layer.noise.strength * layer.noise.noise_const + layer.bias[:, None, None]
    torch.testing.assert_close(y, (F.leaky_relu(pre, 0.2) * gain).clamp(-0.5, 0.5))


@given(seed=seeds, batch=st.integers(2, 4), c_in=channels, c_out=channels, w_dim=w_dims,
       h=spatial, up=upsample_factors)
def test_batch_permutation_equivariance(seed, batch, c_in, c_out, w_dim, h, up):
    layer = _randomise(StyleConv(c_in, c_out, w_dim, up=up, resolution=up * h, dtype=f64), seed)
    x = torch.randn(batch, c_in, h, h, dtype=f64)
    w = torch.randn(batch, w_dim, dtype=f64)
    perm = torch.randperm(batch)
    y = layer(x, w, noise_mode="const")
    torch.testing.assert_close(layer(x[perm], w[perm], noise_mode="const"), y[perm])


@given(seed=seeds, c=channels, w_dim=w_dims, scale=st.floats(0.1, 10.0))
def test_positively_homogeneous_in_x_without_bias_noise_or_clamp(seed, c, w_dim, scale):
    torch.manual_seed(seed)
    layer = StyleConv(c, c, w_dim, use_noise=False, conv_clamp=None, dtype=f64)
    x = torch.randn(2, c, 5, 5, dtype=f64)
    w = torch.randn(2, w_dim, dtype=f64)
    torch.testing.assert_close(layer(scale * x, w), scale * layer(x, w))


def test_no_noise_parameters_without_noise():
    names = {n for n, _ in StyleConv(4, 4, 3, use_noise=False).named_parameters()}
    assert not any("noise" in n for n in names)


@pytest.mark.parametrize("modulation", ["polynomial", "affine"])
@pytest.mark.parametrize("up", [1, 2])
def test_every_parameter_gets_a_finite_gradient(modulation, up):
    layer = StyleConv(4, 6, 5, up=up, modulation=modulation)
    with torch.no_grad():
        layer.noise.strength.fill_(0.1)
    layer(torch.randn(2, 4, 6, 6), torch.randn(2, 5)).square().mean().backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_errors_name_the_argument():
    layer = StyleConv(4, 6, 5)
    with runtime_typecheck_disabled():
        with pytest.raises(ValueError, match=r"^w has shape \[2, 4\], expected \[2, 5\]"):
            layer(torch.randn(2, 4, 6, 6), torch.randn(2, 4))
        with pytest.raises(ValueError, match=r"^x has shape"):
            layer(torch.randn(2, 5, 6, 6), torch.randn(2, 5))
