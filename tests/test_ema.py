"""Generator EMA: the decay schedule (half-life in images, ramp-up), the lerp update, and the EMA helper."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from ganblocks.training.ema import EMA, ema_beta, update_ema
from strategies import seeds

batches = st.integers(min_value=1, max_value=4096)
images = st.integers(min_value=0, max_value=10**9)


def tiny(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


@given(batch=batches)
def test_default_beta_is_the_same_for_every_batch(batch):
    # ema_kimg = batch * 10/32  =>  beta = 0.5 ** (32 / 10000) whatever the batch.
    beta = ema_beta(batch, images_seen=10**12)
    assert beta == pytest.approx(0.5 ** (32 / 10000), rel=1e-12)
    assert beta == pytest.approx(0.99778, abs=1e-5)


@given(batch=batches, kimg=st.floats(min_value=0.01, max_value=1000.0))
def test_half_life_is_ema_kimg(batch, kimg):
    beta = ema_beta(batch, ema_kimg=kimg, images_seen=0, rampup=None)
    steps = kimg * 1000 / batch  # steps for kimg thousand images
    assert math.exp(steps * math.log(beta)) == pytest.approx(0.5, rel=1e-9)


@given(batch=batches, a=images, b=images)
def test_rampup_starts_at_zero_and_never_decreases(batch, a, b):
    assert ema_beta(batch, images_seen=0) == 0.0
    lo, hi = sorted((a, b))
    assert ema_beta(batch, images_seen=lo) <= ema_beta(batch, images_seen=hi)
    assert ema_beta(batch, images_seen=hi) <= ema_beta(batch, images_seen=hi, rampup=None)


def test_rampup_formula_matches_spec():
    # batch 32, ema_kimg 10 => ema_nimg = min(10000, 0.05 * 40000) = 2000.
    assert ema_beta(32, images_seen=40_000) == pytest.approx(0.5 ** (32 / 2000), rel=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(batch_size=0, images_seen=0),
        dict(batch_size=4, images_seen=-1),
        dict(batch_size=4, images_seen=0, ema_kimg=-1.0),
        dict(batch_size=4, images_seen=0, rampup=0.0),
    ],
)
def test_ema_beta_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        ema_beta(kwargs.pop("batch_size"), **kwargs)


@settings(max_examples=10)
@given(seed=seeds, beta=st.floats(min_value=0.0, max_value=1.0))
def test_update_is_a_lerp_and_copies_buffers(seed, beta):
    ema, net = tiny(seed), tiny(seed + 1)
    net.train()(torch.randn(5, 3))  # moves the BatchNorm running statistics
    before = {k: v.clone() for k, v in ema.state_dict().items()}
    update_ema(ema, net, beta)
    for name, p in net.named_parameters():
        expected = beta * before[name] + (1 - beta) * p.detach()
        torch.testing.assert_close(ema.get_parameter(name), expected, rtol=1e-6, atol=1e-6)
    for name, b in net.named_buffers():
        assert torch.equal(ema.get_buffer(name), b)


@settings(max_examples=10)
@given(seed=seeds)
def test_beta_zero_copies_exactly_and_beta_one_keeps_the_average(seed):
    ema, net = tiny(seed), tiny(seed + 1)
    kept = {k: v.clone() for k, v in ema.named_parameters()}
    update_ema(ema, net, 1.0)
    assert all(torch.equal(kept[k], v) for k, v in ema.named_parameters())
    update_ema(ema, net, 0.0)
    assert all(torch.equal(net.get_parameter(k), v) for k, v in ema.named_parameters())


def test_update_refuses_a_different_architecture():
    with pytest.raises(ValueError, match="parameter"):
        update_ema(nn.Linear(3, 4), nn.Linear(3, 5), 0.5)
    with pytest.raises(ValueError, match="parameter"):
        update_ema(nn.Linear(3, 4), nn.Sequential(nn.Linear(3, 4)), 0.5)
    with pytest.raises(ValueError, match="beta"):
        update_ema(nn.Linear(3, 4), nn.Linear(3, 4), 1.5)


def test_ema_helper_is_a_frozen_independent_copy():
    net = tiny(0)
    ema = EMA(net)
    assert not ema.module.training and not any(p.requires_grad for p in ema.module.parameters())
    assert all(p.requires_grad for p in net.parameters()) and net.training
    with torch.no_grad():
        net[0].weight.add_(1.0)
    assert not torch.equal(ema.module[0].weight, net[0].weight)
    assert ema.update(net, batch_size=8, images_seen=0) == 0.0  # ramp-up: starts as a copy
    assert torch.equal(ema.module[0].weight, net[0].weight)


@settings(max_examples=5)
@given(seed=seeds, steps=st.integers(min_value=1, max_value=20))
def test_ema_helper_decays_geometrically_towards_a_fixed_network(seed, steps):
    start, target = tiny(seed), tiny(seed + 1)
    ema = EMA(start, ema_kimg=0.01, rampup=None)
    beta = ema_beta(2, ema_kimg=0.01, images_seen=0, rampup=None)
    for i in range(steps):
        assert ema.update(target, batch_size=2, images_seen=2 * i) == beta
    for name, p in target.named_parameters():
        gap = start.get_parameter(name) - p
        torch.testing.assert_close(
            ema.module.get_parameter(name) - p, beta**steps * gap, rtol=1e-4, atol=1e-5
        )


def test_ema_state_dict_loads_into_a_plain_network():
    net = tiny(0)
    ema = EMA(tiny(1))
    ema.update(net, batch_size=4, images_seen=0)
    plain = tiny(2)
    plain.load_state_dict(ema.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(),
                                                  net.state_dict().values()))
    other = EMA(tiny(3))
    other.load_state_dict(ema.state_dict())
    assert torch.equal(other.module[0].weight, net[0].weight)
