import pytest
import torch
from hypothesis import given, strategies as st

from ganblocks import PixelDiscriminator
from strategies import runtime_typecheck_disabled, seeds

sides = st.sampled_from([(8, 2), (8, 4), (16, 4), (32, 4), (16, 1), (8, 8)])  # (resolution, out_resolution)
c_dims = st.sampled_from([0, 3, 8])


def _critic(seed, resolution, out_resolution, c_dim, channels=8):
    torch.manual_seed(seed)
    critic = PixelDiscriminator(resolution, c_dim, channels=channels, out_resolution=out_resolution, cmap_dim=6)
    return critic.double().eval()  # eval: spectral norm keeps its power-iteration vectors fixed


def _inputs(seed, b, resolution, c_dim):
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.rand(b, 3, resolution, resolution, generator=g, dtype=torch.float64) * 2 - 1
    c = torch.randn(b, c_dim, generator=g, dtype=torch.float64)
    return x, c


@given(seed=seeds, b=st.integers(1, 4), sides=sides, c_dim=c_dims)
def test_one_logit_per_location_of_the_final_map(seed, b, sides, c_dim):
    resolution, out_resolution = sides
    critic = _critic(seed, resolution, out_resolution, c_dim)
    x, c = _inputs(seed, b, resolution, c_dim)
    logits = critic(x, c if c_dim else None)
    assert logits.shape == (b, out_resolution**2) == (b, critic.num_logits)
    assert logits.dtype == torch.float64 and torch.isfinite(logits).all()


@given(seed=seeds, b=st.integers(2, 5), c_dim=c_dims, data=st.data())
def test_permuting_the_batch_permutes_the_logits(seed, b, c_dim, data):
    critic = _critic(seed, 16, 4, c_dim)
    x, c = _inputs(seed, b, 16, c_dim)
    perm = torch.tensor(data.draw(st.permutations(range(b)), label="perm"))
    c_in = c if c_dim else None
    torch.testing.assert_close(critic(x[perm], c[perm] if c_dim else None), critic(x, c_in)[perm])


@given(seed=seeds, b=st.integers(1, 3))
def test_each_image_is_judged_alone(seed, b):
    # no batch statistics: changing one image changes only its own logits
    critic = _critic(seed, 16, 4, 3)
    x, c = _inputs(seed, b + 1, 16, 3)
    x2 = x.clone()
    x2[-1] = -x2[-1]
    y, y2 = critic(x, c), critic(x2, c)
    torch.testing.assert_close(y[:-1], y2[:-1])
    assert not torch.allclose(y[-1], y2[-1])


@given(seed=seeds)
def test_the_logits_are_affine_in_the_caption_vector(seed):
    # projection conditioning: logit = w.h + <P h, A c + a> / sqrt(m), affine in c
    critic = _critic(seed, 16, 4, 5)
    x, c = _inputs(seed, 3, 16, 5)
    d = torch.randn_like(c)
    assert not torch.allclose(critic(x, c), critic(x, c + d))
    torch.testing.assert_close(critic(x, c + d) + critic(x, c - d), 2 * critic(x, c))


@given(seed=seeds)
def test_the_position_embedding_tells_locations_apart(seed):
    # a uniform image gives the same features at every interior location; the learned
    # position embedding is what lets the critic want an object in one place and not another
    critic = _critic(seed, 16, 4, 0)
    x = torch.full((1, 3, 16, 16), 0.3, dtype=torch.float64)
    with torch.no_grad():
        critic.position.copy_(torch.randn_like(critic.position))
    logits = critic(x).view(4, 4)
    assert not torch.allclose(logits[1, 1], logits[2, 2])


@given(seed=seeds)
def test_every_parameter_gets_a_finite_nonzero_gradient(seed):
    critic = _critic(seed, 16, 4, 3).train()
    x, c = _inputs(seed, 4, 16, 3)
    critic(x.requires_grad_(), c).square().mean().backward()
    for name, p in critic.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_a_state_dict_round_trip_gives_the_same_logits():
    a, b = _critic(0, 16, 4, 3), _critic(1, 16, 4, 3)
    x, c = _inputs(0, 2, 16, 3)
    assert not torch.allclose(a(x, c), b(x, c))
    b.load_state_dict(a.state_dict())
    torch.testing.assert_close(a(x, c), b(x, c))


def test_bad_inputs_name_the_argument():
    critic = _critic(0, 16, 4, 3)
    x, c = _inputs(0, 2, 16, 3)
    with runtime_typecheck_disabled():
        with pytest.raises(ValueError, match="images"):
            critic(x[:, :, :8, :8], c)
        with pytest.raises(ValueError, match="images"):
            critic(x[:, :2], c)
        with pytest.raises(ValueError, match="c is required"):
            critic(x)
        with pytest.raises(ValueError, match="c"):
            critic(x, c[:1])


@pytest.mark.parametrize("kwargs, match", [
    (dict(resolution=24, c_dim=0), "resolution must be a power of two"),
    (dict(resolution=16, c_dim=0, out_resolution=3), "out_resolution must be a power of two"),
    (dict(resolution=8, c_dim=0, out_resolution=16), "must not exceed"),
    (dict(resolution=16, c_dim=-1), "c_dim"),
    (dict(resolution=16, c_dim=0, channels=0), "channels"),
])
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PixelDiscriminator(**kwargs)
