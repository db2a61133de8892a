import pytest
import torch
from hypothesis import given

from ganblocks.generator import NoiseInjection
from strategies import batch_sizes, channels, runtime_typecheck_disabled, seeds, spatial


def _with_strength(module, value=0.7):
    with torch.no_grad():
        module.strength.fill_(value)
    return module


@given(seed=seeds, batch=batch_sizes, c=channels, h=spatial)
def test_starts_as_the_identity(seed, batch, c, h):
    torch.manual_seed(seed)
    x = torch.randn(batch, c, h, h)
    module = NoiseInjection(resolution=h)
    for mode in ("random", "const", "none"):
        torch.testing.assert_close(module(x, mode=mode), x)


@given(seed=seeds, batch=batch_sizes, c=channels, h=spatial)
def test_random_noise_is_per_pixel_shared_by_channels_and_fresh_each_call(seed, batch, c, h):
    torch.manual_seed(seed)
    x = torch.randn(batch, c, h, h)
    module = _with_strength(NoiseInjection())
    delta = module(x) - x
    torch.testing.assert_close(delta, delta[:, :1].expand_as(delta))
    assert not torch.allclose(module(x) - x, delta)


@given(seed=seeds, batch=batch_sizes, c=channels, h=spatial)
def test_const_noise_is_the_saved_buffer_for_every_sample(seed, batch, c, h):
    torch.manual_seed(seed)
    x = torch.randn(batch, c, h, h)
    module = _with_strength(NoiseInjection(resolution=h), 0.3)
    y = module(x, mode="const")
    torch.testing.assert_close(y, x + 0.3 * module.noise_const)
    restored = NoiseInjection(resolution=h)
    restored.load_state_dict(module.state_dict())
    torch.testing.assert_close(restored(x, mode="const"), y)
    torch.testing.assert_close(_with_strength(module, 5.0)(x, mode="none"), x)


def test_strength_gets_a_finite_gradient():
    module = NoiseInjection()
    module(torch.randn(2, 3, 4, 4)).square().mean().backward()
    assert module.strength.grad is not None and torch.isfinite(module.strength.grad)
    assert module.strength.grad != 0


def test_errors():
    with pytest.raises(ValueError, match="resolution"):
        NoiseInjection()(torch.randn(1, 2, 4, 4), mode="const")
    with pytest.raises(ValueError, match=r"x has spatial size \[4, 4\], expected \[8, 8\]"):
        NoiseInjection(resolution=8)(torch.randn(1, 2, 4, 4), mode="const")
    with runtime_typecheck_disabled(), pytest.raises(ValueError, match=r"^x has shape \[2, 4\]"):
        NoiseInjection()(torch.randn(2, 4))
