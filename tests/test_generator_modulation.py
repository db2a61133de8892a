import pytest
import torch
from hypothesis import given

from ganblocks.generator import AffineModulation, PolynomialModulation, create_modulation
from strategies import batch_sizes, channels, runtime_typecheck_disabled, seeds, w_dims

f64 = torch.float64


def _trained_like(module, seed):
    """Give the biases random values too, as after training."""
    torch.manual_seed(seed)
    with torch.no_grad():
        module.affine.bias.normal_()
    return module


def _along_ray(module, w, steps):
    t = torch.arange(steps, dtype=f64)[:, None, None]
    return module((t * w).flatten(0, 1)).unflatten(0, (steps, w.shape[0]))  # [t, b, c]


@given(seed=seeds, batch=batch_sizes, w_dim=w_dims, c=channels)
def test_polynomial_styles_are_exactly_quadratic_along_any_ray(seed, batch, w_dim, c):
    torch.manual_seed(seed)
    module = PolynomialModulation(w_dim, c, dtype=f64)
    w = torch.randn(batch, w_dim, dtype=f64)
    s = _along_ray(module, w, 4)
    third = s[3] - 3 * s[2] + 3 * s[1] - s[0]
    second = s[2] - 2 * s[1] + s[0]
    torch.testing.assert_close(third, torch.zeros_like(third), atol=1e-9, rtol=0)
    # s1 * s2 has the t^2 coefficient 2 <a1, w> <a2, w>: not zero for a random init.
    assert second.abs().max() > 1e-6


@given(seed=seeds, batch=batch_sizes, w_dim=w_dims, c=channels)
def test_polynomial_styles_are_s1_times_s2_plus_s3(seed, batch, w_dim, c):
    module = _trained_like(PolynomialModulation(w_dim, c, dtype=f64), seed)
    w = torch.randn(batch, w_dim, dtype=f64)
    s1, s2, s3 = module.affine(w).chunk(3, dim=1)
    torch.testing.assert_close(module(w), s1 * s2 + s3)


@given(seed=seeds, batch=batch_sizes, w_dim=w_dims, c=channels)
def test_affine_styles_are_linear_along_any_ray(seed, batch, w_dim, c):
    module = _trained_like(AffineModulation(w_dim, c, dtype=f64), seed)
    w = torch.randn(batch, w_dim, dtype=f64)
    s = _along_ray(module, w, 3)
    second = s[2] - 2 * s[1] + s[0]
    torch.testing.assert_close(second, torch.zeros_like(second), atol=1e-9, rtol=0)


@given(w_dim=w_dims, c=channels)
def test_biases_start_at_one(w_dim, c):
    zero = torch.zeros(2, w_dim)
    torch.testing.assert_close(PolynomialModulation(w_dim, c)(zero), torch.full((2, c), 2.0))
    torch.testing.assert_close(AffineModulation(w_dim, c)(zero), torch.ones(2, c))


@pytest.mark.parametrize("kind,cls", [("polynomial", PolynomialModulation), ("affine", AffineModulation)])
def test_factory_and_gradients(kind, cls):
    module = create_modulation(kind, 6, 5)
    assert isinstance(module, cls) and module.channels == 5 and module.w_dim == 6
    module(torch.randn(3, 6)).square().mean().backward()
    for name, p in module.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_polynomial_has_three_times_the_parameters_of_affine():
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(PolynomialModulation(832, 256, device="meta")) == 3 * (832 + 1) * 256
    assert count(AffineModulation(832, 256, device="meta")) == (832 + 1) * 256


def test_errors():
    with runtime_typecheck_disabled():
        with pytest.raises(ValueError, match=r"^w has shape \[2, 5\], expected \[\?, 6\]"):
            PolynomialModulation(6, 4)(torch.randn(2, 5))
        with pytest.raises(ValueError, match="modulation must be"):
            create_modulation("quadratic", 6, 4)
