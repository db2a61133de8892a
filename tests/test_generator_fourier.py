import pytest
import torch
from hypothesis import given, strategies as st

from ganblocks.generator import FourierFeatures
from strategies import batch_sizes, channels, runtime_typecheck_disabled, seeds, w_dims

f64 = torch.float64
sizes = st.sampled_from([4, 8, 9])


def _with_transform(module, cos, sin, tx, ty):
    """Fix the affine output to (cos, sin, tx, ty) for every w."""
    with torch.no_grad():
        module.affine.bias.copy_(torch.tensor([cos, sin, tx, ty], dtype=module.affine.bias.dtype))
    return module


@given(seed=seeds, batch=batch_sizes, w_dim=w_dims, c=channels, size=sizes)
def test_affine_starts_as_the_identity_transform(seed, batch, w_dim, c, size):
    torch.manual_seed(seed)
    module = FourierFeatures(w_dim, c, size=size, dtype=f64)
    w = torch.randn(batch, w_dim, dtype=f64) * 10
    torch.testing.assert_close(module.affine(w), torch.tensor([[1.0, 0, 0, 0]], dtype=f64).expand(batch, 4))
    # Hence the features do not depend on w, and equal the untransformed sinusoids.
    grid = module.grid(dtype=f64)
    phi = torch.sin(2 * torch.pi * (grid @ module.freqs.T + module.phases))  # [h, w, c]
    expected = torch.einsum("hwc,oc->ohw", phi, module.weight / c**0.5)
    torch.testing.assert_close(module(w), expected.expand(batch, c, size, size))


@given(seed=seeds, c=st.integers(1, 64), bandwidth=st.sampled_from([0.5, 2.0, 5.0]))
def test_frequencies_lie_in_the_disc(seed, c, bandwidth):
    torch.manual_seed(seed)
    module = FourierFeatures(3, c, bandwidth=bandwidth)
    assert (module.freqs.norm(dim=1) <= bandwidth + 1e-6).all()
    assert ((module.phases >= -0.5) & (module.phases < 0.5)).all()


def test_grid_covers_the_sampling_interval_at_pixel_centres():
    grid = FourierFeatures(3, 2, size=8, sampling_rate=8.0).grid()
    torch.testing.assert_close(grid[0, :, 0], torch.arange(8) / 8 - 7 / 16)  # x along columns
    torch.testing.assert_close(grid[:, 0, 1], torch.arange(8) / 8 - 7 / 16)  # y along rows


@given(seed=seeds, w_dim=w_dims, c=channels, size=sizes, steps=st.integers(1, 3),
       rate=st.sampled_from([4.0, 8.0]), scale=st.floats(0.2, 5.0))
def test_translation_by_whole_pixels_shifts_the_image(seed, w_dim, c, size, steps, rate, scale):
    torch.manual_seed(seed)
    module = FourierFeatures(w_dim, c, size=size, sampling_rate=rate, dtype=f64)
    w = torch.randn(1, w_dim, dtype=f64)
    base = module(w)
    # The transform is normalised by |(cos, sin)|, so scaling all four entries changes nothing.
    shifted = _with_transform(module, scale, 0.0, scale * steps / rate, 0.0)(w)
    torch.testing.assert_close(shifted[..., :, :-steps], base[..., :, steps:])
    shifted = _with_transform(module, scale, 0.0, 0.0, scale * steps / rate)(w)
    torch.testing.assert_close(shifted[..., :-steps, :], base[..., steps:, :])


@given(seed=seeds, w_dim=w_dims, c=channels, size=sizes, steps=st.integers(1, 3),
       rate=st.sampled_from([4.0, 8.0]), turn=st.floats(-3.0, 3.0))
def test_shift_adds_to_the_learned_translation(seed, w_dim, c, size, steps, rate, turn):
    torch.manual_seed(seed)
    module = FourierFeatures(w_dim, c, size=size, sampling_rate=rate, dtype=f64)
    # a learned rotation and translation: the shift moves the features in the rotated frame
    _with_transform(module, 1.0, turn, 0.3, -0.2)
    w = torch.randn(2, w_dim, dtype=f64)
    shift = torch.tensor([[steps / rate, 0.0], [0.0, 0.5 / rate]], dtype=f64)
    out = module(w, shift=shift)
    # no shift and a zero shift are the learned transform alone
    torch.testing.assert_close(module(w, shift=torch.zeros(2, 2, dtype=f64)), module(w))
    # the affine's translation is divided by |(cos, sin)|: the same move through the bias
    norm = (1.0 + turn**2) ** 0.5
    moved = _with_transform(module, 1.0, turn, 0.3 + norm * steps / rate, -0.2)(w[:1])
    torch.testing.assert_close(out[:1], moved)
    moved = _with_transform(module, 1.0, turn, 0.3, -0.2 + norm * 0.5 / rate)(w[1:])
    torch.testing.assert_close(out[1:], moved)


@given(seed=seeds, w_dim=w_dims, c=channels, size=sizes, steps=st.integers(1, 3))
def test_a_whole_pixel_shift_moves_the_identity_features_by_that_many_pixels(seed, w_dim, c, size, steps):
    torch.manual_seed(seed)
    module = FourierFeatures(w_dim, c, size=size, sampling_rate=8.0, dtype=f64)
    w = torch.randn(1, w_dim, dtype=f64)
    shifted = module(w, shift=torch.tensor([[steps / 8.0, 0.0]], dtype=f64))
    torch.testing.assert_close(shifted[..., :, :-steps], module(w)[..., :, steps:])


@given(seed=seeds, w_dim=w_dims, c=channels, size=sizes)
def test_quarter_turn_rotates_the_image(seed, w_dim, c, size):
    torch.manual_seed(seed)
    module = FourierFeatures(w_dim, c, size=size, dtype=f64)
    w = torch.randn(1, w_dim, dtype=f64)
    base = module(w)
    rotated = _with_transform(module, 0.0, 1.0, 0.0, 0.0)(w)
    # Features at p are the original features at R p = (-y, x): out[i, j] = base[j, size-1-i].
    torch.testing.assert_close(rotated, base.transpose(2, 3).flip(2))


def test_state_dict_reproduces_the_random_frequencies():
    torch.manual_seed(0)
    module = FourierFeatures(5, 16)
    torch.manual_seed(1)
    other = FourierFeatures(5, 16)
    w = torch.randn(2, 5)
    assert not torch.allclose(other(w), module(w))
    assert {"freqs", "phases"} <= set(module.state_dict())
    other.load_state_dict(module.state_dict())
    torch.testing.assert_close(other(w), module(w))


def test_every_parameter_gets_a_finite_gradient():
    module = FourierFeatures(5, 8)
    module(torch.randn(2, 5)).square().mean().backward()
    for name, p in module.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_errors():
    with runtime_typecheck_disabled(), pytest.raises(ValueError, match=r"^w has shape \[2, 4\], expected \[\?, 5\]"):
        FourierFeatures(5, 8)(torch.randn(2, 4))
    with runtime_typecheck_disabled(), pytest.raises(ValueError, match=r"^shift has shape \[3, 2\], expected \[2, 2\]"):
        FourierFeatures(5, 8)(torch.randn(2, 5), shift=torch.zeros(3, 2))
