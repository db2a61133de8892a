import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

from ganblocks.generator import ToRGB
from strategies import batch_sizes, channels, runtime_typecheck_disabled, seeds, spatial, w_dims

f64 = torch.float64


@given(seed=seeds, batch=batch_sizes, c=channels, w_dim=w_dims, h=spatial,
       out=st.sampled_from([1, 3, 4]))
def test_is_unnormalised_1x1_conv_of_styled_features_plus_bias(seed, batch, c, w_dim, h, out):
    torch.manual_seed(seed)
    layer = ToRGB(c, w_dim, out_channels=out, conv_clamp=None, dtype=f64)
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(batch, c, h, h, dtype=f64)
    w = torch.randn(batch, w_dim, dtype=f64)
    s = layer.modulation(w) / math.sqrt(c)
    expected = F.conv2d(x * s[:, :, None, None], layer.conv.weight) + layer.bias[:, None, None]
    y = layer(x, w)
    assert y.shape == (batch, out, h, h)
    torch.testing.assert_close(y, expected)


@given(seed=seeds, c=channels, w_dim=w_dims, h=spatial)
def test_linear_in_the_features(seed, c, w_dim, h):
    # No demodulation: doubling the features doubles the image minus the bias.
    torch.manual_seed(seed)
    layer = ToRGB(c, w_dim, conv_clamp=None, dtype=f64)
    with torch.no_grad():
        layer.bias.normal_()
    x1, x2 = torch.randn(2, 2, c, h, h, dtype=f64)
    w = torch.randn(2, w_dim, dtype=f64)
    b = layer.bias[:, None, None]
    torch.testing.assert_close(layer(x1 + x2, w) - b, (layer(x1, w) - b) + (layer(x2, w) - b))


def test_weight_starts_at_a_tenth_of_a_unit_gaussian():
    torch.manual_seed(0)
    weight = ToRGB(512, 8).conv.weight
    assert 0.09 < weight.std().item() < 0.11 and abs(weight.mean().item()) < 0.01


@given(seed=seeds)
def test_output_is_clamped(seed):
    torch.manual_seed(seed)
    layer = ToRGB(8, 4, conv_clamp=0.05)
    y = layer(torch.randn(2, 8, 6, 6) * 10, torch.randn(2, 4))
    assert y.abs().max() <= 0.05 and (y.abs() == 0.05).any()


def test_every_parameter_gets_a_finite_gradient():
    layer = ToRGB(5, 4)
    layer(torch.randn(2, 5, 4, 4), torch.randn(2, 4)).square().mean().backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_errors():
    with runtime_typecheck_disabled(), pytest.raises(ValueError, match=r"^w has shape \[3, 4\], expected \[2, 4\]"):
        ToRGB(5, 4)(torch.randn(2, 5, 4, 4), torch.randn(3, 4))
