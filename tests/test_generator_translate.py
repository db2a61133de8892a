import pytest
import torch
from hypothesis import given, strategies as st

from ganblocks import translate
from strategies import runtime_typecheck_disabled, seeds

f64 = torch.float64
kernels = st.sampled_from(["cubic", "linear"])
subpixel = st.floats(-3.0, 3.0)


def _blob(seed, side=24, b=2, c=3):
    """Images whose content sits well clear of the border (a random 8x8 patch in the middle)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(b, c, side, side, dtype=f64)
    x[..., 8:16, 8:16] = torch.rand(b, c, 8, 8, generator=g, dtype=f64)
    return x


def _centroid(x):
    r = torch.arange(x.shape[-1], dtype=f64) + 0.5
    mass = x.sum(dim=(-2, -1))
    return torch.stack([(x.sum(-2) * r).sum(-1) / mass, (x.sum(-1) * r).sum(-1) / mass], dim=-1)


@given(seed=seeds, kernel=kernels)
def test_a_zero_shift_is_exactly_the_identity(seed, kernel):
    x = torch.randn(3, 2, 7, 5, generator=torch.Generator().manual_seed(seed), dtype=f64)
    assert torch.equal(translate(x, torch.zeros(3, 2, dtype=f64), kernel=kernel), x)


@given(seed=seeds, kernel=kernels, dx=st.integers(-3, 3), dy=st.integers(-3, 3))
def test_whole_pixels_move_the_pixels_and_repeat_the_border(seed, kernel, dx, dy):
    h, w = 9, 8
    x = torch.randn(1, 2, h, w, generator=torch.Generator().manual_seed(seed), dtype=f64)
    y = translate(x, torch.tensor([[dx / w, dy / h]], dtype=f64), kernel=kernel)
    rows = (torch.arange(h) - dy).clamp(0, h - 1)
    cols = (torch.arange(w) - dx).clamp(0, w - 1)
    torch.testing.assert_close(y, x[..., rows[:, None], cols[None, :]], rtol=0, atol=1e-12)


@given(seed=seeds, kernel=kernels, sx=subpixel, sy=subpixel)
def test_the_centroid_moves_by_the_shift_and_the_mass_is_kept(seed, kernel, sx, sy):
    x = _blob(seed)
    shift = torch.tensor([[sx, sy], [-sy, sx]], dtype=f64) / 24
    y = translate(x, shift, kernel=kernel)
    torch.testing.assert_close(_centroid(y), _centroid(x) + 24 * shift[:, None, :])
    torch.testing.assert_close(y.sum(dim=(-2, -1)), x.sum(dim=(-2, -1)))


@given(seed=seeds, sx=subpixel, sy=subpixel, a=st.floats(-1, 1), c=st.floats(-1, 1))
def test_linear_ramps_are_reproduced_away_from_the_border(seed, sx, sy, a, c):
    side = 16
    r = torch.arange(side, dtype=f64)
    ramp = (a * r[None, :] + c * r[:, None]).expand(1, 1, side, side)
    for kernel in ("cubic", "linear"):
        y = translate(ramp, torch.tensor([[sx, sy]], dtype=f64) / side, kernel=kernel)
        expected = a * (r[None, :] - sx) + c * (r[:, None] - sy)
        torch.testing.assert_close(y[0, 0, 5:-5, 5:-5], expected[5:-5, 5:-5])


@given(seed=seeds, kernel=kernels)
def test_each_image_moves_by_its_own_shift(seed, kernel):
    x = _blob(seed, b=3)
    shift = torch.rand(3, 2, generator=torch.Generator().manual_seed(seed), dtype=f64) / 10 - 0.05
    y = translate(x, shift, kernel=kernel)
    for i in range(3):
        torch.testing.assert_close(y[i:i + 1], translate(x[i:i + 1], shift[i:i + 1], kernel=kernel))


def test_cubic_smooths_less_than_linear_at_half_a_pixel():
    x = torch.zeros(1, 1, 16, 16, dtype=f64)
    x[..., 6:10, 6:10] = 1.0  # a hard-edged square
    half = torch.tensor([[0.5 / 16, 0.0]], dtype=f64)
    cubic, linear = translate(x, half), translate(x, half, kernel="linear")
    # energy kept: the sharper kernel keeps more of the square's edges
    assert cubic.square().sum() > linear.square().sum()


def test_gradients_reach_the_images_and_the_dtype_is_kept():
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    y = translate(x, torch.full((2, 2), 0.03))
    assert y.dtype == torch.float32
    y.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_bad_arguments_are_named():
    x = torch.randn(2, 3, 8, 8)
    with runtime_typecheck_disabled():
        with pytest.raises(ValueError, match=r"shift has shape \[3, 2\], expected \[2, 2\]"):
            translate(x, torch.zeros(3, 2))
        with pytest.raises(ValueError, match=r"images has shape \[3, 8, 8\]"):
            translate(x[0], torch.zeros(1, 2))
        with pytest.raises(ValueError, match="kernel must be 'cubic' or 'linear'"):
            translate(x, torch.zeros(2, 2), kernel="nearest")
