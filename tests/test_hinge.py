import math

import pytest
import torch
from hypothesis import given, strategies as st

from ganblocks.losses import hinge_d_loss, hinge_d_loss_fake, hinge_d_loss_real, hinge_g_loss
from strategies import seeds


def test_known_values():
    real = torch.tensor([[2.0, 0.5, -1.0]])
    fake = torch.tensor([[-2.0, 0.0, 1.0]])
    assert hinge_d_loss_real(real).item() == pytest.approx((0 + 0.5 + 2) / 3)
    assert hinge_d_loss_fake(fake).item() == pytest.approx((0 + 1 + 2) / 3)
    assert hinge_d_loss(real, fake).item() == pytest.approx(2.5 / 3 + 1)
    assert hinge_g_loss(fake).item() == pytest.approx(1 / 3)
    assert hinge_g_loss(torch.tensor([[3.0, 1.0], [0.0, -2.0]])).item() == pytest.approx(-0.5)


@given(seed=seeds, b=st.integers(1, 4), n=st.integers(1, 20), m=st.integers(1, 20))
def test_d_loss_is_the_sum_of_the_separate_calls_and_non_negative(seed, b, n, m):
    g = torch.Generator().manual_seed(seed)
    real, fake = torch.randn(b, n, generator=g) * 3, torch.randn(b, m, generator=g) * 3
    total = hinge_d_loss(real, fake)
    torch.testing.assert_close(total, hinge_d_loss_real(real) + hinge_d_loss_fake(fake))
    assert total.item() >= 0


@given(seed=seeds, repeats=st.integers(2, 4))
def test_means_over_batch_and_tokens_do_not_scale_with_either(seed, repeats):
    g = torch.Generator().manual_seed(seed)
    real, fake = torch.randn(2, 5, generator=g), torch.randn(2, 5, generator=g)
    for tile in ((repeats, 1), (1, repeats)):
        torch.testing.assert_close(hinge_d_loss(real.tile(tile), fake.tile(tile)), hinge_d_loss(real, fake))
        torch.testing.assert_close(hinge_g_loss(fake.tile(tile)), hinge_g_loss(fake))


def test_confident_logits_cost_nothing_and_get_no_gradient():
    real = torch.tensor([[1.0, 3.0]], requires_grad=True)
    fake = torch.tensor([[-1.0, -5.0]], requires_grad=True)
    loss = hinge_d_loss(real, fake)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(real.grad, torch.zeros_like(real)) and torch.equal(fake.grad, torch.zeros_like(fake))


def test_generator_gradient_pushes_every_fake_logit_up_equally():
    fake = torch.zeros(2, 4, requires_grad=True)
    hinge_g_loss(fake).backward()
    torch.testing.assert_close(fake.grad, torch.full((2, 4), -1 / 8))
    assert math.isfinite(hinge_g_loss(fake).item())
