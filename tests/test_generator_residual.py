import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

from ganblocks.generator import ResidualGenBlock
from strategies import (
    batch_sizes,
    group_norm_channels,
    runtime_typecheck_disabled,
    seeds,
    spatial,
    w_dims,
)

f64 = torch.float64
groups = st.sampled_from([1, 8, 32])


def _randomise(block, seed):
    """Random gamma, biases, norm affine and noise strength, as after training."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in block.parameters():
            if p.ndim <= 1:
                p.normal_()
    return block


@given(seed=seeds, batch=batch_sizes, c=group_norm_channels, g=groups, w_dim=w_dims, h=spatial)
def test_is_layer_scaled_residual_on_the_normalised_input(seed, batch, c, g, w_dim, h):
    block = _randomise(ResidualGenBlock(c, w_dim, num_groups=g, resolution=h, dtype=f64), seed)
    x = torch.randn(batch, c, h, h, dtype=f64) * 3 + 1
    w = torch.randn(batch, w_dim, dtype=f64)
    x_hat = F.group_norm(x, g, block.norm.weight, block.norm.bias)
    y = block.conv(x_hat, w, noise_mode="const")
    expected = (block.gamma[:, None, None] * y + x_hat) * math.sqrt(2)
    torch.testing.assert_close(block(x, w, noise_mode="const"), expected)
    assert block.conv.activation_gain == 1.0
    assert block.conv.conv_clamp == pytest.approx(256 * math.sqrt(0.5))


@given(seed=seeds, batch=batch_sizes, c=group_norm_channels, w_dim=w_dims, h=spatial)
def test_starts_close_to_scaled_group_norm(seed, batch, c, w_dim, h):
    torch.manual_seed(seed)
    block = ResidualGenBlock(c, w_dim, dtype=f64)
    x = torch.randn(batch, c, h, h, dtype=f64) * 5 - 2
    w = torch.randn(batch, w_dim, dtype=f64)
    x_hat = F.group_norm(x, 32)
    y = block(x, w)
    torch.testing.assert_close(y, x_hat * math.sqrt(2), atol=1e-3, rtol=0)
    assert not torch.equal(y, x_hat * math.sqrt(2))  # the conv branch is there, just small


@given(seed=seeds, batch=batch_sizes, c=group_norm_channels, w_dim=w_dims, h=st.sampled_from([5, 8]),
       scale=st.floats(0.1, 10.0), shift=st.floats(-5.0, 5.0))
def test_invariant_to_an_affine_change_of_the_input(seed, batch, c, w_dim, h, scale, shift):
    block = _randomise(ResidualGenBlock(c, w_dim, resolution=h, dtype=f64), seed)
    with torch.no_grad():
        block.norm.eps = 0.0  # exact invariance; eps only guards constant groups
    x = torch.randn(batch, c, h, h, dtype=f64)
    w = torch.randn(batch, w_dim, dtype=f64)
    y = block(x, w, noise_mode="const")
    torch.testing.assert_close(block(scale * x + shift, w, noise_mode="const"), y)


@given(seed=seeds, batch=st.integers(2, 4), c=group_norm_channels, w_dim=w_dims, h=spatial)
def test_batch_permutation_equivariance(seed, batch, c, w_dim, h):
    block = _randomise(ResidualGenBlock(c, w_dim, resolution=h, dtype=f64), seed)
    x = torch.randn(batch, c, h, h, dtype=f64)
    w = torch.randn(batch, w_dim, dtype=f64)
    perm = torch.randperm(batch)
    y = block(x, w, noise_mode="const")
    torch.testing.assert_close(block(x[perm], w[perm], noise_mode="const"), y[perm])


def test_every_parameter_gets_a_finite_gradient():
    block = ResidualGenBlock(32, 6)
    with torch.no_grad():
        block.conv.noise.strength.fill_(0.1)
    block(torch.randn(2, 32, 5, 5), torch.randn(2, 6)).square().mean().backward()
    for name, p in block.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_errors():
    with pytest.raises(ValueError, match=r"channels \(48\) must be a multiple of num_groups \(32\)"):
        ResidualGenBlock(48, 8)
    with runtime_typecheck_disabled(), pytest.raises(ValueError, match=r"^x has shape \[2, 16, 4, 4\]"):
        ResidualGenBlock(32, 8)(torch.randn(2, 16, 4, 4), torch.randn(2, 8))
