import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ganblocks.data import (
    PALETTE,
    SHAPE_FILL,
    ShapeObject,
    object_coverage,
    place_object,
    render_caption,
    render_objects,
    score_image,
)
from strategies import seeds, shapes_cells, shapes_colours, shapes_resolutions, shapes_shapes


def _placed(seed, colour, shape, cell, resolution):
    uniforms = np.random.default_rng(seed).random(3)
    return place_object(colour, shape, cell, resolution=resolution, uniforms=uniforms)


@given(seed=seeds, shape=shapes_shapes, cell=shapes_cells, resolution=shapes_resolutions)
def test_coverage_integrates_to_the_shape_area(seed, shape, cell, resolution):
    obj = _placed(seed, "red", shape, cell, resolution)
    _, _, cov = object_coverage(obj, resolution)
    area = SHAPE_FILL[shape] * obj.size**2
    # 4x4 supersampling misplaces at most a quarter-pixel strip along the outline
    perimeter = {"circle": math.pi, "square": 4.0, "triangle": 1.0 + math.sqrt(5.0)}[shape] * obj.size
    assert abs(cov.sum() - area) <= 0.25 * perimeter
    assert cov.min() >= 0.0 and cov.max() == 1.0


@given(seed=seeds, colour=shapes_colours, shape=shapes_shapes, cell=shapes_cells)
def test_pixels_are_the_colour_times_a_sixteenth_coverage(seed, colour, shape, cell):
    obj = _placed(seed, colour, shape, cell, 32)
    image = render_objects([obj], 32).astype(np.int64)
    rgb = np.asarray(PALETTE[colour])
    levels = np.floor(rgb[None, :] * np.arange(17)[:, None] / 16 + 0.5)  # [17, 3]
    pixels = image.reshape(-1, 3)
    assert np.all((pixels[:, None, :] == levels[None]).all(-1).any(-1))
    assert (pixels.max(0) == rgb).all()  # the interior is the exact palette colour


@given(seed=seeds, shape=shapes_shapes, dx=st.integers(-3, 3), dy=st.integers(-3, 3))
def test_integer_translation_moves_the_image(seed, shape, dx, dy):
    obj = _placed(seed, "cyan", shape, "center", 32)
    moved = ShapeObject(obj.colour, obj.shape, obj.cell, obj.cx + dx, obj.cy + dy, obj.size)
    a, b = render_objects([obj], 32), render_objects([moved], 32)
    assert np.array_equal(np.roll(a, (dy, dx), axis=(0, 1)), b)


@pytest.mark.parametrize("shape", ["circle", "square", "triangle"])
def test_shapes_are_mirror_symmetric_and_triangles_point_up(shape):
    obj = ShapeObject("white", shape, "center", 16.0, 16.0, 7.3)
    image = render_objects([obj], 32)[..., 0].astype(np.float64)
    assert np.array_equal(image, image[:, ::-1])
    top, bottom = image[:16].sum(), image[16:].sum()
    if shape == "triangle":
        assert bottom > 2 * top
    else:
        assert np.array_equal(image, image[::-1])


def test_empty_scene_is_black_and_objects_are_clipped_at_the_border():
    assert not render_objects([], 32).any()
    corner = ShapeObject("red", "circle", "top left", 0.5, 1.0, 8.0)
    image = render_objects([corner], 32)
    assert image.shape == (32, 32, 3) and image[0, 0, 0] == 230 and not image[20:, 20:].any()


def test_two_objects_keep_their_own_colours():
    a = ShapeObject("red", "square", "left", 6.0, 16.0, 6.0)
    b = ShapeObject("blue", "circle", "right", 26.0, 16.0, 6.0)
    image = render_objects([a, b], 32)
    assert tuple(image[16, 6]) == PALETTE["red"] and tuple(image[16, 26]) == PALETTE["blue"]
    assert np.array_equal(image, np.maximum(render_objects([a], 32), render_objects([b], 32)))


@given(seed=seeds, resolution=shapes_resolutions)
def test_render_caption_draws_what_the_caption_says(seed, resolution):
    caption = "an orange triangle at the bottom right and a white square on the left"
    image = render_caption(caption, resolution, np.random.default_rng(seed))
    assert image.shape == (resolution, resolution, 3)
    assert score_image(image, caption).all_correct
    again = render_caption(caption, resolution, np.random.default_rng(seed))
    other = render_caption(caption, resolution, np.random.default_rng(seed + 1))
    assert np.array_equal(image, again) and not np.array_equal(image, other)
