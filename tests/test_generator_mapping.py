import pytest
import torch
from hypothesis import given, strategies as st

from ganblocks.generator import MappingNetwork
from strategies import batch_sizes, runtime_typecheck_disabled, seeds

f64 = torch.float64
z_dims = st.sampled_from([1, 4, 16])
c_dims = st.sampled_from([0, 3, 12])
layer_counts = st.integers(1, 3)


def _net(seed, z_dim, c_dim, num_layers=2):
    torch.manual_seed(seed)
    net = MappingNetwork(z_dim, c_dim, num_layers=num_layers, dtype=f64).eval()
    with torch.no_grad():
        net.x_avg.normal_()
    return net


@given(seed=seeds, batch=batch_sizes, z_dim=z_dims, c_dim=c_dims, layers=layer_counts)
def test_text_embedding_bypasses_the_mlp(seed, batch, z_dim, c_dim, layers):
    net = _net(seed, z_dim, c_dim, layers)
    z = torch.randn(batch, z_dim, dtype=f64)
    c = torch.randn(batch, c_dim, dtype=f64)
    w = net(z, c)
    assert net.w_dim == z_dim + c_dim and w.shape == (batch, net.w_dim)
    torch.testing.assert_close(w[:, z_dim:], c)


@given(seed=seeds, batch=batch_sizes, z_dim=z_dims, c_dim=c_dims, psi=st.floats(-1.0, 2.0))
def test_truncation_interpolates_the_z_part_towards_x_avg(seed, batch, z_dim, c_dim, psi):
    net = _net(seed, z_dim, c_dim)
    z = torch.randn(batch, z_dim, dtype=f64)
    c = torch.randn(batch, c_dim, dtype=f64)
    w1 = net(z, c, truncation_psi=1.0)
    w0 = net(z, c, truncation_psi=0.0)
    torch.testing.assert_close(w0[:, :z_dim], net.x_avg.expand(batch, z_dim))
    torch.testing.assert_close(w0[:, z_dim:], c)
    torch.testing.assert_close(net(z, c, truncation_psi=psi), w0 + psi * (w1 - w0))
    with torch.no_grad():
        net.x_avg.normal_()
    torch.testing.assert_close(net(z, c, truncation_psi=1.0), w1)  # psi = 1 ignores x_avg


@given(seed=seeds, batch=batch_sizes, z_dim=z_dims, rms=st.floats(0.1, 100.0))
def test_z_is_normalised_by_its_second_moment(seed, batch, z_dim, rms):
    net = _net(seed, z_dim, 2)
    z = torch.randn(batch, z_dim, dtype=f64)
    unit = z / z.square().mean(dim=1, keepdim=True).sqrt()
    c = torch.randn(batch, 2, dtype=f64)
    # Up to the 1e-8 guard against z = 0, any second moment gives the same w.
    torch.testing.assert_close(net(rms * unit, c), net(unit, c), rtol=1e-5, atol=1e-6)


@given(seed=seeds, batch=batch_sizes, z_dim=z_dims, steps=st.integers(1, 3))
def test_running_mean_tracks_the_mlp_output_in_training_only(seed, batch, z_dim, steps):
    torch.manual_seed(seed)
    net = MappingNetwork(z_dim, 2, avg_beta=0.9, dtype=f64)
    expected = torch.zeros(z_dim, dtype=f64)
    for _ in range(steps):
        z = torch.randn(batch, z_dim, dtype=f64)
        c = torch.randn(batch, 2, dtype=f64)
        x = net(z, c)[:, :z_dim].mean(0)
        expected = 0.9 * expected + 0.1 * x
        torch.testing.assert_close(net.x_avg, expected)
    net.eval()
    net(torch.randn(batch, z_dim, dtype=f64), torch.randn(batch, 2, dtype=f64))
    torch.testing.assert_close(net.x_avg, expected)
    z = torch.randn(batch, z_dim, dtype=f64)
    x = net(z, torch.randn(batch, 2, dtype=f64), update_avg=True)[:, :z_dim].mean(0)
    torch.testing.assert_close(net.x_avg, 0.9 * expected + 0.1 * x)
    net.train()
    before = net.x_avg.clone()
    net(z, torch.randn(batch, 2, dtype=f64), update_avg=False)
    torch.testing.assert_close(net.x_avg, before)


@given(seed=seeds, batch=st.integers(2, 4), z_dim=z_dims, c_dim=c_dims)
def test_batch_permutation_equivariance(seed, batch, z_dim, c_dim):
    net = _net(seed, z_dim, c_dim)
    z = torch.randn(batch, z_dim, dtype=f64)
    c = torch.randn(batch, c_dim, dtype=f64)
    perm = torch.randperm(batch)
    torch.testing.assert_close(net(z[perm], c[perm], truncation_psi=0.7), net(z, c, truncation_psi=0.7)[perm])


def test_default_is_the_stylegan_t_mapping():
    net = MappingNetwork(device="meta")
    assert net.w_dim == 832 and len(net.layers) == 2
    assert sum(p.numel() for p in net.parameters()) == 2 * (64 * 64 + 64)
    assert net.layers[0].activation == "lrelu" and net.layers[1].activation == "linear"
    assert net.layers[0].lr_multiplier == 0.01


def test_every_parameter_gets_a_finite_gradient():
    net = MappingNetwork(8, 4, num_layers=3, hidden_dim=16)
    net(torch.randn(3, 8), torch.randn(3, 4), truncation_psi=0.5).square().mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_errors_name_the_argument():
    net = MappingNetwork(8, 4)
    with runtime_typecheck_disabled():
        with pytest.raises(ValueError, match=r"^c has shape \[2, 4\], expected \[3, 4\]"):
            net(torch.randn(3, 8), torch.randn(2, 4))
        with pytest.raises(ValueError, match=r"^z has shape \[3, 7\]"):
            net(torch.randn(3, 7), torch.randn(3, 4))
