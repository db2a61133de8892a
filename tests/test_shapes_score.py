import numpy as np
import pytest
import torch
from hypothesis import assume, given

from ganblocks.data import (
    PALETTE,
    ShapeObject,
    ShapesT2I,
    caption_for,
    place_object,
    render_objects,
    score_each,
    score_image,
    score_images,
    uint8_to_float,
)
from strategies import seeds, shapes_cells, shapes_colours, shapes_resolutions, shapes_shapes


def _object(seed, colour, shape, cell, resolution):
    uniforms = np.random.default_rng(seed).random(3)
    return place_object(colour, shape, cell, resolution=resolution, uniforms=uniforms)


@pytest.mark.parametrize("resolution", [32, 64])
@pytest.mark.parametrize("compositions", ["seen", "heldout"])
@pytest.mark.parametrize("max_objects", [1, 2])
def test_real_images_conform(resolution, compositions, max_objects):
    ds = ShapesT2I(resolution=resolution, compositions=compositions, max_objects=max_objects, seed=17)
    images, captions = ds.get_batch(range(250))
    result = score_images(images, captions)
    assert result["all_correct"] >= 0.99
    assert result["extra"] == 0.0
    if max_objects == 2:
        assert result["binding"] >= 0.99 and result["count/double"] > 80


@given(seed=seeds, colour=shapes_colours, shape=shapes_shapes, cell=shapes_cells, resolution=shapes_resolutions)
def test_a_rendered_object_is_correct(seed, colour, shape, cell, resolution):
    obj = _object(seed, colour, shape, cell, resolution)
    score = score_image(render_objects([obj], resolution), caption_for([obj]))
    assert score.all_correct and not score.extra and score.binding is None
    found = score.objects[0]
    assert abs(found.centroid[0] - obj.cx) < 0.1 * obj.size  # centroid of the shape, not of its box
    assert found.found_cell == cell and found.found_shape == shape


def test_a_black_image_misses_every_colour():
    black = np.zeros((32, 32, 3), dtype=np.uint8)
    score = score_image(black, "a red circle at the top left and a blue square in the center")
    assert not any(o.colour_hit or o.position_hit or o.shape_hit for o in score.objects)
    assert not score.all_correct and score.binding is False and not score.extra


@given(seed=seeds, colour=shapes_colours, shape=shapes_shapes, cell=shapes_cells, other=shapes_cells)
def test_an_object_in_another_cell_is_a_position_miss(seed, colour, shape, cell, other):
    assume(cell != other)
    drawn = _object(seed, colour, shape, other, 32)
    score = score_image(render_objects([drawn], 32), caption_for([(colour, shape, cell)]))
    found = score.objects[0]
    assert found.colour_hit and found.shape_hit and not found.position_hit
    assert not score.all_correct


@given(seed=seeds, colour=shapes_colours, shape=shapes_shapes, other=shapes_shapes, cell=shapes_cells)
def test_another_shape_is_a_shape_miss(seed, colour, shape, other, cell):
    assume(shape != other)
    drawn = _object(seed, colour, other, cell, 32)
    score = score_image(render_objects([drawn], 32), caption_for([(colour, shape, cell)]))
    found = score.objects[0]
    assert found.colour_hit and found.position_hit and not found.shape_hit
    assert found.found_shape == other


@given(seed=seeds, c1=shapes_colours, c2=shapes_colours, resolution=shapes_resolutions)
def test_swapped_colours_break_binding(seed, c1, c2, resolution):
    assume(c1 != c2)
    a = _object(seed, c1, "circle", "top left", resolution)
    b = _object(seed + 1, c2, "square", "center", resolution)
    caption = caption_for([a, b])
    good = render_objects([a, b], resolution)
    swapped = render_objects(
        [ShapeObject(c2, a.shape, a.cell, a.cx, a.cy, a.size),
         ShapeObject(c1, b.shape, b.cell, b.cx, b.cy, b.size)],
        resolution,
    )
    result = score_images(np.stack([good, swapped]), [caption, caption])
    assert result["binding"] == 0.5 and result["colour"] == 1.0
    scores = score_each([good, swapped], [caption, caption])
    assert scores[0].binding is True and scores[1].binding is False


@given(seed=seeds, colour=shapes_colours, extra=shapes_colours, shape=shapes_shapes)
def test_an_uncaptioned_colour_is_an_extra(seed, colour, extra, shape):
    assume(colour != extra)
    obj = _object(seed, colour, shape, "left", 32)
    intruder = _object(seed + 1, extra, "triangle", "right", 32)
    score = score_image(render_objects([obj, intruder], 32), caption_for([obj]))
    assert score.extra and score.extra_colours == (extra,)
    assert score.all_correct  # extras are reported apart from correctness


def _verdict(score):
    hits = [(o.colour_hit, o.position_hit, o.shape_hit, o.found_shape, o.found_cell) for o in score.objects]
    return score.all_correct, hits, score.extra_colours


def test_layouts_and_value_ranges_score_alike():
    images, captions = ShapesT2I(seed=2).get_batch(range(12))
    expected = score_each(images, captions)
    assert score_each(images.permute(0, 2, 3, 1).numpy(), captions) == expected
    as_float = score_each(uint8_to_float(images), captions)  # float32: equal up to rounding
    assert [_verdict(s) for s in as_float] == [_verdict(s) for s in expected]
    for a, b in zip(as_float, expected):
        assert all(abs(x.area - y.area) < 1e-3 for x, y in zip(a.objects, b.objects))
    assert score_each(list(images), captions) == expected
    assert [score_image(im, c) for im, c in zip(images, captions)] == expected
    assert score_image(uint8_to_float(images[0]) * 1.5, captions[0]).all_correct  # clipped


def test_summary_keys_split_by_composition_and_size():
    single_seen = render_objects([ShapeObject("red", "square", "top", 16.0, 6.4, 6.4)], 32)
    black = np.zeros_like(single_seen)
    captions = ["a red square at the top", "a green triangle at the top and a red circle on the left"]
    result = score_images(np.stack([single_seen, black]), captions)
    assert result["count"] == 2.0 and result["all_correct"] == 0.5
    assert result["all_correct/single_seen"] == 1.0 and result["all_correct/seen"] == 1.0
    assert result["all_correct/double_heldout"] == 0.0 and result["binding"] == 0.0
    assert result["binding/heldout"] == 0.0 and "binding/seen" not in result
    assert "all_correct/single_heldout" not in result and "all_correct/double_seen" not in result
    custom = score_images(np.stack([single_seen, black]), captions, holdout={("red", "square")})
    assert custom["all_correct/single_heldout"] == 1.0 and custom["all_correct/double_seen"] == 0.0


def test_bad_inputs_are_refused():
    image = np.zeros((32, 32, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="1 images but 2 captions"):
        score_each(image[None], ["a red circle at the top"] * 2)
    with pytest.raises(ValueError, match="square"):
        score_image(np.zeros((32, 30, 3), dtype=np.uint8), "a red circle at the top")
    with pytest.raises(TypeError, match="int32"):
        score_image(torch.zeros(3, 32, 32, dtype=torch.int32), "a red circle at the top")
    with pytest.raises(ValueError, match="'disc'"):
        score_image(image, "a red disc at the top")


def test_palette_colours_map_to_themselves_at_every_coverage():
    for colour, rgb in PALETTE.items():
        ramp = np.floor(np.asarray(rgb)[None, :] * np.linspace(0.13, 1.0, 32)[:, None] + 0.5)
        image = np.broadcast_to(ramp[None].astype(np.uint8), (32, 32, 3))
        score = score_image(image, f"a {colour} square in the center")
        assert score.objects[0].colour_hit and not score.extra, colour


def _blurred(obj, sigma):
    import ganblocks

    image = torch.from_numpy(render_objects([obj], 32)).permute(2, 0, 1).float()[None]
    blurred = ganblocks.gaussian_blur(image, sigma).clamp(0, 255).round().to(torch.uint8)
    return blurred[0].permute(1, 2, 0).numpy()


@given(seed=seeds, colour=shapes_colours, shape=shapes_shapes, cell=shapes_cells)
def test_slightly_soft_edges_keep_the_shape(seed, colour, shape, cell):
    # fill and skew are read from pixels above a quarter of full coverage, so edges softened by a
    # Gaussian of half a pixel do not change the shape found
    obj = _object(seed, colour, shape, cell, 32)
    assert score_image(_blurred(obj, 0.5), caption_for([obj])).objects[0].shape_hit


def test_blurrier_edges_read_a_circle_as_a_square():
    # a wider blur lowers the coverage of a component's extreme rows and columns, which shrinks
    # the bounding box the fill is measured against: from a sigma of 1.5 px most circles read as
    # squares, while squares stay squares
    def found(shape, seed):
        obj = _object(seed, "red", shape, "center", 32)
        return score_image(_blurred(obj, 1.5), caption_for([obj])).objects[0].found_shape

    assert sum(found("circle", seed) == "square" for seed in range(40)) > 30
    assert all(found("square", seed) == "square" for seed in range(40))


@pytest.mark.parametrize("shape", ["circle", "square", "triangle"])
def test_the_mean_of_many_renders_keeps_the_shape(shape):
    # the pixel-wise mean of one caption's renders (what a regression onto them converges to)
    # scores as the captioned shape: sizes and jitter of the data do not wash the outline out
    rng = np.random.default_rng(0)
    objs = [_object(int(s), "red", shape, "center", 32) for s in rng.integers(0, 2**31, 200)]
    mean = np.mean([render_objects([o], 32).astype(np.float64) for o in objs], axis=0)
    assert score_image(mean.round().astype(np.uint8), caption_for(objs[:1])).objects[0].shape_hit
