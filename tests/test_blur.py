import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, strategies as st

from ganblocks.discriminator import blur_sigma
from ganblocks.ops import blur_kernel, gaussian_blur
from strategies import runtime_typecheck_disabled, seeds

sigmas = st.floats(min_value=0.34, max_value=6.0)
sizes = st.sampled_from([1, 2, 5, 9, 16])


@given(sigma=sigmas)
def test_kernel_is_the_normalised_base_two_gaussian(sigma):
    k = blur_kernel(sigma, dtype=torch.float64)
    r = math.floor(3 * sigma)
    assert k.shape == (2 * r + 1,)
    torch.testing.assert_close(k.sum(), torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(k, k.flip(0))
    # f(t) = 2^(-(t/sigma)^2): neighbouring taps relate by powers of two
    torch.testing.assert_close(k[r + 1] / k[r], torch.tensor(2 ** (-1 / sigma**2), dtype=torch.float64))


@given(seed=seeds, sigma=st.sampled_from([0.0, -1.0, 0.2]))
def test_no_blur_for_non_positive_sigma_or_zero_radius(seed, sigma):
    x = torch.randn(2, 3, 6, 6, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(gaussian_blur(x, sigma), x)


@given(sigma=st.floats(min_value=0.5, max_value=40.0), h=sizes, w=sizes, value=st.floats(-1, 1))
def test_reflect_padding_keeps_a_constant_image_constant_even_with_a_wide_kernel(sigma, h, w, value):
    x = torch.full((1, 2, h, w), value, dtype=torch.float64)
    torch.testing.assert_close(gaussian_blur(x, sigma), x)


@given(seed=seeds, sigma=st.floats(min_value=0.4, max_value=3.0), padding=st.sampled_from(["reflect", "zeros"]))
def test_separable_blur_equals_the_2d_convolution(seed, sigma, padding):
    x = torch.randn(2, 3, 9, 11, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    k = blur_kernel(sigma, dtype=torch.float64)
    r = k.numel() // 2
    assume(padding == "zeros" or r < 9)  # torch's reflect needs r < size (wider: constant-image test)
    padded = F.pad(x, (r, r, r, r), mode="reflect" if padding == "reflect" else "constant")
    expected = F.conv2d(padded.flatten(0, 1)[:, None], torch.outer(k, k)[None, None]).view_as(x)
    torch.testing.assert_close(gaussian_blur(x, sigma, padding=padding), expected)


def test_impulse_response_is_the_outer_product_kernel():
    x = torch.zeros(1, 1, 21, 21, dtype=torch.float64)
    x[..., 10, 10] = 1
    k = blur_kernel(2.0, dtype=torch.float64)
    y = gaussian_blur(x, 2.0)
    torch.testing.assert_close(y[0, 0, 4:17, 4:17], torch.outer(k, k))
    assert y.sum().item() == pytest.approx(1.0)


def test_blur_is_differentiable():
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    gaussian_blur(x, 1.5).square().sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_sigma_schedule_fades_linearly_from_32_to_0_over_1000_kimg():
    assert blur_sigma(0) == 32.0
    assert blur_sigma(500_000) == pytest.approx(16.0)
    assert blur_sigma(1_000_000) == 0.0
    assert blur_sigma(5_000_000) == 0.0
    assert blur_sigma(100, sigma_start=2.0, fade_kimg=0.0) == 0.0
    assert blur_sigma(0, sigma_start=4.0, fade_kimg=2.0) == 4.0


@given(a=st.integers(0, 2_000_000), b=st.integers(0, 2_000_000))
def test_sigma_schedule_never_increases(a, b):
    lo, hi = sorted((a, b))
    assert 0.0 <= blur_sigma(hi) <= blur_sigma(lo) <= 32.0


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="non-negative"):
        blur_sigma(-1)
    with runtime_typecheck_disabled():
        with pytest.raises(ValueError, match="padding"):
            gaussian_blur(torch.zeros(1, 1, 4, 4), 1.0, padding="circular")
        with pytest.raises(ValueError, match=r"x has shape \[4, 4\]"):
            gaussian_blur(torch.zeros(4, 4), 1.0)


def test_the_blur_keeps_its_discriminator_import_paths() -> None:
    import ganblocks
    import ganblocks.discriminator.blur as old
    import ganblocks.ops as ops

    for name in ("gaussian_blur", "blur_kernel"):
        assert getattr(old, name) is getattr(ops, name) is getattr(ganblocks, name)
