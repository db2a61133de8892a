import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

from ganblocks.generator import EqualLinear, bias_act
from strategies import batch_sizes, runtime_typecheck_disabled, seeds, w_dims

lr_multipliers = st.sampled_from([1.0, 0.1, 0.01])


@given(seed=seeds, batch=batch_sizes, n_in=w_dims, n_out=w_dims, lr=lr_multipliers)
def test_forward_is_linear_with_the_equalised_weight(seed, batch, n_in, n_out, lr):
    torch.manual_seed(seed)
    layer = EqualLinear(n_in, n_out, bias_init=0.5, lr_multiplier=lr, dtype=torch.float64)
    x = torch.randn(batch, n_in, dtype=torch.float64)
    expected = F.linear(x, layer.weight * lr / math.sqrt(n_in), layer.bias * lr)
    torch.testing.assert_close(layer(x), expected)


@given(seed=seeds, n_in=w_dims, n_out=w_dims, lr=lr_multipliers, bias_init=st.sampled_from([0.0, 1.0, -2.0]))
def test_initial_function_does_not_depend_on_lr_multiplier(seed, n_in, n_out, lr, bias_init):
    x = torch.randn(3, n_in, dtype=torch.float64)
    torch.manual_seed(seed)
    reference = EqualLinear(n_in, n_out, bias_init=bias_init, dtype=torch.float64)
    torch.manual_seed(seed)
    scaled = EqualLinear(n_in, n_out, bias_init=bias_init, lr_multiplier=lr, dtype=torch.float64)
    torch.testing.assert_close(scaled(x), reference(x))
    torch.testing.assert_close(scaled(torch.zeros(1, n_in, dtype=torch.float64)),
                               torch.full((1, n_out), bias_init, dtype=torch.float64))


@given(seed=seeds, n_in=w_dims, n_out=w_dims, lr=lr_multipliers)
def test_adam_moves_the_effective_weight_at_lr_multiplier_speed(seed, n_in, n_out, lr):
    # Adam's first step moves every stored weight by the learning rate; the effective weight
    # therefore moves by lr * lr_multiplier / sqrt(in_features), whatever the gradient's scale.
    torch.manual_seed(seed)
    layer = EqualLinear(n_in, n_out, lr_multiplier=lr, dtype=torch.float64)
    before = (layer.weight * layer.weight_gain).detach().clone()
    opt = torch.optim.Adam(layer.parameters(), lr=1e-3, eps=1e-30)
    layer(torch.randn(4, n_in, dtype=torch.float64)).square().sum().backward()
    opt.step()
    step = ((layer.weight * layer.weight_gain).detach() - before).abs()
    moved = layer.weight.grad != 0
    torch.testing.assert_close(step[moved], torch.full_like(step[moved], 1e-3 * lr / math.sqrt(n_in)))


@given(seed=seeds, batch=batch_sizes, n_in=w_dims, n_out=w_dims)
def test_lrelu_activation_is_scaled_leaky_relu(seed, batch, n_in, n_out):
    torch.manual_seed(seed)
    linear = EqualLinear(n_in, n_out, bias_init=0.1, dtype=torch.float64)
    torch.manual_seed(seed)
    lrelu = EqualLinear(n_in, n_out, bias_init=0.1, activation="lrelu", dtype=torch.float64)
    x = torch.randn(batch, n_in, dtype=torch.float64)
    torch.testing.assert_close(lrelu(x), F.leaky_relu(linear(x), 0.2) * math.sqrt(2.0))


@given(seed=seeds, batch=batch_sizes, c=st.integers(1, 8), clamp=st.sampled_from([None, 0.5, 3.0]))
def test_bias_act_composes_bias_activation_gain_and_clamp(seed, batch, c, clamp):
    torch.manual_seed(seed)
    x = torch.randn(batch, c, 5, 4, dtype=torch.float64) * 3
    bias = torch.randn(c, dtype=torch.float64)
    y = bias_act(x, bias, activation="lrelu", gain=1.5, clamp=clamp)
    expected = F.leaky_relu(x + bias[:, None, None], 0.2) * 1.5
    if clamp is not None:
        expected = expected.clamp(-clamp, clamp)
        assert y.abs().max() <= clamp
    torch.testing.assert_close(y, expected)
    torch.testing.assert_close(bias_act(x, activation="lrelu"), F.leaky_relu(x, 0.2) * math.sqrt(2))
    torch.testing.assert_close(bias_act(x), x)


def test_every_parameter_gets_a_finite_gradient():
    layer = EqualLinear(7, 5, activation="lrelu", lr_multiplier=0.01)
    layer(torch.randn(3, 7)).square().mean().backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_accepts_leading_batch_axes():
    layer = EqualLinear(4, 6)
    assert layer(torch.randn(2, 3, 4)).shape == (2, 3, 6)


def test_errors_name_the_argument():
    layer = EqualLinear(4, 6)
    with runtime_typecheck_disabled():
        with pytest.raises(ValueError, match=r"^x has shape \[2, 5\], expected \[\.\.\., 4\]"):
            layer(torch.randn(2, 5))
        with pytest.raises(ValueError, match="bias"):
            bias_act(torch.randn(2, 3, 4, 4), torch.randn(4))
    with pytest.raises(ValueError, match="lr_multiplier"):
        EqualLinear(4, 6, lr_multiplier=0.0)
