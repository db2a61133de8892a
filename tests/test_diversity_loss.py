"""The mode-seeking diversity term: what it measures (distance of blurred pairs), its
invariances, and that descending it pushes a pair apart."""

import math

import pytest
import torch
from hypothesis import given, strategies as st

import ganblocks
from ganblocks.losses import diversity_loss
from strategies import batch_sizes, runtime_typecheck_disabled, seeds

sigmas = st.sampled_from([0.0, 1.0, 2.0])


def _pair(seed: int, n: int, side: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, side, side, generator=g) * 2 - 1, torch.rand(n, 3, side, side, generator=g) * 2 - 1


def _blob(x: int, y: int, side: int = 16) -> torch.Tensor:
    img = -torch.ones(1, 3, side, side)
    img[:, :, y:y + 4, x:x + 4] = 1.0
    return img


def test_known_value_without_blur():
    a = torch.zeros(2, 1, 2, 2)
    b = torch.tensor([0.5, 1.0]).view(2, 1, 1, 1).expand(2, 1, 2, 2)
    expected = -(math.log(0.5 + 1e-3) + math.log(1.0 + 1e-3)) / 2
    assert diversity_loss(a, b, sigma=0.0).item() == pytest.approx(expected, rel=1e-6)


@given(seed=seeds, n=batch_sizes, sigma=sigmas)
def test_identical_pairs_cost_minus_log_eps(seed, n, sigma):
    a, _ = _pair(seed, n)
    assert diversity_loss(a, a.clone(), sigma=sigma, eps=0.01).item() == pytest.approx(-math.log(0.01))


@given(seed=seeds, n=batch_sizes, sigma=sigmas)
def test_symmetric_and_invariant_to_the_order_of_pairs_and_a_common_offset(seed, n, sigma):
    a, b = _pair(seed, n)
    loss = diversity_loss(a, b, sigma=sigma)
    torch.testing.assert_close(diversity_loss(b, a, sigma=sigma), loss)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(diversity_loss(a[order], b[order], sigma=sigma), loss)
    offset = torch.rand(1, 3, 12, 12, generator=torch.Generator().manual_seed(seed + 1))
    torch.testing.assert_close(diversity_loss(a + offset, b + offset, sigma=sigma), loss)


@given(seed=seeds, n=batch_sizes, scale=st.sampled_from([0.5, 2.0, 10.0]))
def test_scale_free_doubling_the_distances_gains_log_2_whatever_the_contrast(seed, n, scale):
    a, b = _pair(seed, n)
    eps = 1e-12  # negligible: the term is then -mean log d
    gain = diversity_loss(a, a + (b - a), sigma=1.0, eps=eps) - diversity_loss(a, a + 2 * (b - a), sigma=1.0, eps=eps)
    gain_scaled = (diversity_loss(scale * a, scale * b, sigma=1.0, eps=eps)
                   - diversity_loss(scale * a, scale * a + 2 * scale * (b - a), sigma=1.0, eps=eps))
    assert gain.item() == pytest.approx(math.log(2), abs=1e-4)
    assert gain_scaled.item() == pytest.approx(math.log(2), abs=1e-4)


def test_the_blur_discounts_pixel_noise_and_keeps_where_an_object_is():
    # two pairs with the same unblurred distance: one differs by a checkerboard (texture), the
    # other in where the object is. Blurred, only the second stays far apart.
    a, moved = _blob(2, 6), _blob(10, 6)
    checker = (torch.arange(16).view(-1, 1) + torch.arange(16)).remainder(2).float() * 2 - 1
    textured = a + checker * (a - moved).abs().mean()
    assert (textured - a).abs().mean().item() == pytest.approx((moved - a).abs().mean().item())
    assert diversity_loss(a, textured, sigma=0.0).item() == pytest.approx(diversity_loss(a, moved, sigma=0.0).item())
    assert diversity_loss(a, textured, sigma=2.0).item() > diversity_loss(a, moved, sigma=2.0).item() + 1.0


@given(seed=seeds, sigma=sigmas)
def test_descending_the_loss_moves_a_pair_apart(seed, sigma):
    a, b = _pair(seed, 2)
    b = (a + 0.01 * b).requires_grad_(True)
    a = a.requires_grad_(True)
    before = diversity_loss(a, b, sigma=sigma)
    before.backward()
    with torch.no_grad():
        after = diversity_loss(a - 0.01 * a.grad, b - 0.01 * b.grad, sigma=sigma)
    assert after.item() < before.item()


def test_bad_input_is_refused_with_what_was_expected():
    a = torch.zeros(2, 3, 8, 8)
    with runtime_typecheck_disabled(), pytest.raises(ValueError, match="pairs of equal shape"):
        diversity_loss(a, torch.zeros(3, 3, 8, 8))
    with pytest.raises(ValueError, match="at least one pair"):
        diversity_loss(a[:0], a[:0])
    with pytest.raises(ValueError, match="sigma >= 0 and eps > 0"):
        diversity_loss(a, a, sigma=-1.0)
    with pytest.raises(ValueError, match="sigma >= 0 and eps > 0"):
        diversity_loss(a, a, eps=0.0)


def test_exported_at_the_top_level():
    assert ganblocks.diversity_loss is diversity_loss
