import pytest
import torch
from hypothesis import given, strategies as st

from ganblocks.discriminator import DiffAugment, diff_augment
from strategies import batch_sizes, runtime_typecheck_disabled, seeds

OFF = dict(brightness=0.0, saturation=0.0, contrast=0.0, translation=0.0, cutout=0.0)
image_sizes = st.sampled_from([8, 12, 16])


def _images(seed, b, size, channels=3):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, channels, size, size, generator=g, dtype=torch.float64) * 2 - 1


def _only(**knob):
    return {**OFF, **knob}


@given(seed=seeds, b=batch_sizes, size=image_sizes)
def test_all_strengths_zero_is_the_identity(seed, b, size):
    x = _images(seed, b, size)
    torch.testing.assert_close(diff_augment(x, **OFF), x, rtol=0, atol=0)


@given(seed=seeds, b=batch_sizes)
def test_brightness_adds_one_offset_per_sample_within_the_range(seed, b):
    x = _images(seed, b, 8)
    d = diff_augment(x, **_only(brightness=0.5), generator=torch.Generator().manual_seed(seed)) - x
    offset = d.flatten(1)[:, :1]
    torch.testing.assert_close(d.flatten(1), offset.expand_as(d.flatten(1)))
    assert (offset.abs() <= 0.5).all()


@given(seed=seeds, b=batch_sizes)
def test_saturation_keeps_each_pixels_channel_mean(seed, b):
    x = _images(seed, b, 8)
    y = diff_augment(x, **_only(saturation=1.0), generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(y.mean(1), x.mean(1))
    # the factor lies in [0, 2]: deviations from the pixel mean scale by at most 2
    assert ((y - y.mean(1, keepdim=True)).abs() <= 2 * (x - x.mean(1, keepdim=True)).abs() + 1e-12).all()


@given(seed=seeds, b=batch_sizes)
def test_contrast_keeps_each_images_mean(seed, b):
    x = _images(seed, b, 8)
    y = diff_augment(x, **_only(contrast=0.5), generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(y.mean((1, 2, 3)), x.mean((1, 2, 3)))
    ratio = (y - y.mean((1, 2, 3), keepdim=True)).flatten(1).norm(dim=1) / (x - x.mean((1, 2, 3), keepdim=True)).flatten(1).norm(dim=1)
    assert ((ratio >= 0.5 - 1e-9) & (ratio <= 1.5 + 1e-9)).all()


def _shifted(x, dy, dx):
    out = torch.zeros_like(x)
    h, w = x.shape[-2:]
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
        ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


@given(seed=seeds, b=batch_sizes, size=image_sizes)
def test_translation_is_a_zero_filled_integer_shift_within_the_ratio(seed, b, size):
    x = _images(seed, b, size)
    y = diff_augment(x, **_only(translation=1 / 8), generator=torch.Generator().manual_seed(seed))
    limit = int(size / 8 + 0.5)
    for i in range(b):
        matches = [
            (dy, dx)
            for dy in range(-limit, limit + 1)
            for dx in range(-limit, limit + 1)
            if torch.equal(y[i], _shifted(x[i], dy, dx))
        ]
        assert matches, f"sample {i} is not a shift of at most {limit} pixels"


@given(seed=seeds, b=batch_sizes, size=image_sizes)
def test_cutout_zeroes_one_clipped_square_and_keeps_the_rest(seed, b, size):
    x = _images(seed, b, size) * 0.5 + 1.5  # no zeros of its own
    y = diff_augment(x, **_only(cutout=0.25), generator=torch.Generator().manual_seed(seed))
    side = int(size * 0.25 + 0.5)
    for i in range(b):
        hole = (y[i] == 0).all(0)
        torch.testing.assert_close(y[i][:, ~hole], x[i][:, ~hole], rtol=0, atol=0)
        rows, cols = hole.any(1).nonzero(), hole.any(0).nonzero()
        assert 0 < rows.numel() <= side and 0 < cols.numel() <= side
        # the hole is a rectangle: every (row, col) pair inside it is zeroed
        assert hole[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()
        assert hole.sum() == rows.numel() * cols.numel()


@given(seed=seeds)
def test_same_generator_seed_same_augmentation_and_fresh_seeds_differ(seed):
    x = _images(seed, 3, 16)
    a = diff_augment(x, generator=torch.Generator().manual_seed(seed))
    b = diff_augment(x, generator=torch.Generator().manual_seed(seed))
    c = diff_augment(x, generator=torch.Generator().manual_seed(seed + 1))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)


def test_module_matches_the_function_and_is_differentiable():
    aug = DiffAugment(brightness=0.3, translation=0.25)
    x = _images(0, 2, 16).requires_grad_(True)
    y = aug(x, generator=torch.Generator().manual_seed(5))
    expected = diff_augment(x, brightness=0.3, translation=0.25, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(y, expected)
    y.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert "brightness=0.3" in repr(aug)


def test_bad_strengths_and_shapes_are_refused():
    with pytest.raises(ValueError, match="brightness"):
        DiffAugment(brightness=-0.1)
    with pytest.raises(ValueError, match="translation"):
        diff_augment(torch.zeros(1, 3, 4, 4), translation=1.5)
    with runtime_typecheck_disabled():
        with pytest.raises(ValueError, match=r"x has shape \[3, 4, 4\], expected \[\?, \?, \?, \?\]"):
            diff_augment(torch.zeros(3, 4, 4))
