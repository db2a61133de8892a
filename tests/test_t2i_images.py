"""Image conversion: raw generator outputs are clamped to [-1, 1] wherever pixels are made."""

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from ganblocks import image_grid, save_grid, to_pil, to_uint8
from strategies import batch_sizes, runtime_typecheck_disabled, seeds

scales = st.floats(min_value=0.1, max_value=100.0)


@given(seeds, batch_sizes, scales)
def test_to_uint8_clamps_then_maps_linearly(seed: int, b: int, scale: float) -> None:
    x = torch.randn(b, 3, 4, 4, generator=torch.Generator().manual_seed(seed)) * scale
    pixels = to_uint8(x)
    assert pixels.dtype == torch.uint8
    assert torch.equal(pixels, to_uint8(x.clamp(-1, 1)))
    assert torch.equal(pixels[x <= -1], torch.zeros_like(pixels[x <= -1]))
    assert torch.equal(pixels[x >= 1], torch.full_like(pixels[x >= 1], 255))
    inside = x.abs() < 1
    expected = ((x[inside] + 1) * 127.5).round()
    assert torch.equal(pixels[inside].float(), expected)


def test_to_uint8_keeps_uint8_and_matches_the_data_helper() -> None:
    from ganblocks import float_to_uint8

    u = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    assert to_uint8(u) is u
    x = torch.linspace(-3, 3, 601)
    assert torch.equal(to_uint8(x), float_to_uint8(x))


def test_to_pil_one_or_many_and_bad_shapes() -> None:
    x = torch.linspace(-2, 2, 2 * 3 * 5 * 7).reshape(2, 3, 5, 7)
    images = to_pil(x)
    assert [im.size for im in images] == [(7, 5), (7, 5)]
    assert np.array_equal(np.asarray(images[1]), to_uint8(x[1]).permute(1, 2, 0).numpy())
    assert to_pil(x[0]).size == (7, 5)
    with runtime_typecheck_disabled(), pytest.raises(ValueError, match=r"\[3, h, w\] or \[b, 3, h, w\]"):
        to_pil(x[0, 0])


@given(st.integers(1, 7), st.integers(1, 4), st.integers(0, 3))
def test_grid_size_follows_rows_and_padding(n: int, nrow: int, padding: int) -> None:
    grid = image_grid(torch.zeros(n, 3, 4, 4), nrow=nrow, padding=padding)
    cols, rows = min(n, nrow), -(-n // nrow)
    assert grid.dtype == torch.uint8
    assert tuple(grid.shape) == (3, rows * (4 + padding) + padding, cols * (4 + padding) + padding)


def test_save_grid_writes_a_clamped_scaled_png(tmp_path: Path) -> None:
    x = torch.full((4, 3, 2, 2), 5.0)  # far outside [-1, 1], as an untrained generator gives
    x[1] = -5.0
    path = save_grid(x, tmp_path / "sub" / "grid.png", scale=3, padding=0)
    img = np.asarray(Image.open(path))
    assert img.shape == (12, 12, 3)  # a 2 x 2 grid of 2 px images, 3 times larger
    assert img[:6, :6].min() == 255 and img[:6, 6:].max() == 0
    with pytest.raises(ValueError, match="scale"):
        save_grid(x, tmp_path / "g.png", scale=0)
    with pytest.raises(ValueError, match="no images"):
        save_grid(x[:0], tmp_path / "g.png")
