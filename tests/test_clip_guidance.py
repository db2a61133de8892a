import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

from ganblocks.backbones import create_clip
from ganblocks.losses import CLIPGuidanceLoss, spherical_distance
from strategies import batch_sizes, runtime_typecheck_disabled, seeds

dims = st.integers(min_value=2, max_value=16)


def _unit(seed, b, d, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(b, d, generator=g, dtype=dtype), dim=-1)


@pytest.fixture(scope="module")
def clip():
    torch.manual_seed(0)
    return create_clip("tiny", pretrained=False)


@given(seed=seeds, b=batch_sizes, d=dims)
def test_distance_is_the_angle_symmetric_and_within_zero_to_pi(seed, b, d):
    a, c = _unit(seed, b, d), _unit(seed + 1, b, d)
    theta = spherical_distance(a, c)
    torch.testing.assert_close(theta, torch.arccos((a * c).sum(-1).clamp(-1, 1)))
    torch.testing.assert_close(theta, spherical_distance(c, a), rtol=0, atol=0)
    assert ((theta >= 0) & (theta <= math.pi)).all()


@given(seed=seeds, d=dims, dtype=st.sampled_from([torch.float32, torch.float64]))
def test_value_and_gradient_are_finite_at_zero_and_at_antipodes(seed, d, dtype):
    a = _unit(seed, 1, d, dtype).requires_grad_(True)
    for other, expected in ((a.detach().clone(), 0.0), (-a.detach().clone(), math.pi)):
        theta = spherical_distance(a, other)
        assert theta.item() == pytest.approx(expected, abs=1e-6)
        (grad,) = torch.autograd.grad(theta.square().sum(), a)
        assert torch.isfinite(grad).all()
    # near a == b the squared distance has a vanishing gradient, as it should at its minimum
    (grad,) = torch.autograd.grad(spherical_distance(a, a.detach()).square().sum(), a)
    assert torch.equal(grad, torch.zeros_like(grad))


def test_arccos_would_fail_where_this_does_not():
    a = F.normalize(torch.tensor([[1.0, 1e-4, 0.0]]), dim=-1).requires_grad_(True)
    b = a.detach().clone()
    (arccos_grad,) = torch.autograd.grad(torch.arccos((a * b).sum(-1)).square().sum(), a)
    assert not torch.isfinite(arccos_grad).all()  # the release's formula at a == b
    (ours,) = torch.autograd.grad(spherical_distance(a, b).square().sum(), a)
    assert torch.isfinite(ours).all()


@given(seed=seeds, b=batch_sizes, size=st.sampled_from([16, 32, 48]))
def test_loss_is_bounded_by_pi_squared_with_finite_image_gradients(clip, seed, b, size):
    g = torch.Generator().manual_seed(seed)
    loss_fn = CLIPGuidanceLoss(clip, crop=32)
    images = (torch.rand(b, 3, size, size, generator=g) * 2 - 1).requires_grad_(True)
    text = _unit(seed, b, clip.embed_dim, torch.float32)
    loss = loss_fn(images, text, generator=g)
    assert loss.dtype == torch.float32 and loss.shape == ()
    assert 0.0 <= loss.item() <= math.pi**2
    loss.backward()
    assert torch.isfinite(images.grad).all() and images.grad.abs().sum() > 0


def test_loss_is_the_mean_squared_angle_and_zero_for_the_images_own_embedding(clip):
    images = torch.rand(3, 3, 32, 32) * 2 - 1
    loss_fn = CLIPGuidanceLoss(clip, crop=64)
    own = clip.encode_image(images)
    assert loss_fn(images, own).item() == pytest.approx(0.0, abs=1e-6)
    text = clip.encode_text(["a", "b", "c"])
    expected = torch.arccos((own * text).sum(-1).clamp(-1, 1)).square().mean()
    assert loss_fn(images, text).item() == pytest.approx(expected.item(), abs=1e-5)
    assert loss_fn(images, -own).item() == pytest.approx(math.pi**2, abs=1e-4)


def test_larger_images_are_scored_on_one_random_crop(clip):
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 40, 40, generator=g) * 2 - 1
    text = clip.encode_text(["a", "b"])
    loss = CLIPGuidanceLoss(clip, crop=32)(images, text, generator=g)
    windows = [
        CLIPGuidanceLoss(clip, crop=32)(images[:, :, i : i + 32, j : j + 32], text).item()
        for i in range(9) for j in range(9)
    ]
    assert min(abs(w - loss.item()) for w in windows) < 1e-6


def test_under_autocast_the_tower_runs_in_bf16_and_the_distance_in_fp32(clip):
    images = (torch.rand(2, 3, 32, 32) * 2 - 1).requires_grad_(True)
    text = clip.encode_text(["a", "b"])
    loss_fn = CLIPGuidanceLoss(clip)
    expected = loss_fn(images, text)
    dtypes = []
    hook = clip.model.visual.register_forward_hook(lambda m, a, out: dtypes.append(out.dtype))
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = loss_fn(images, text)
    finally:
        hook.remove()
    assert dtypes == [torch.bfloat16]  # the image tower ran in bf16
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected, rtol=0.05, atol=1e-3)
    (grad,) = torch.autograd.grad(got, images)
    assert grad.dtype == torch.float32 and torch.isfinite(grad).all()


def test_clip_is_not_part_of_the_state_and_bad_inputs_are_refused(clip):
    loss_fn = CLIPGuidanceLoss(clip)
    assert dict(loss_fn.state_dict()) == {}
    loss_fn.load_state_dict({})
    with runtime_typecheck_disabled():
        with pytest.raises(ValueError, match=r"text_embeds has shape \[2, 10\], expected \[2, 64\]"):
            loss_fn(torch.zeros(2, 3, 8, 8), torch.zeros(2, 10))
        with pytest.raises(ValueError, match=r"images has shape \[3, 8, 8\]"):
            loss_fn(torch.zeros(3, 8, 8), torch.zeros(3, 64))
        with pytest.raises(ValueError, match="same shape"):
            spherical_distance(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="crop"):
        CLIPGuidanceLoss(clip, crop=0)
