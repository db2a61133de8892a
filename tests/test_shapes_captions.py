import itertools

import pytest
from hypothesis import given

from ganblocks.data import CELL_PHRASES, CELLS, PALETTE, SHAPES, ShapeObject, caption_for, parse_caption
from strategies import shapes_cells, shapes_colours, shapes_shapes


def test_every_single_object_caption_round_trips():
    captions = set()
    for colour, shape, cell in itertools.product(PALETTE, SHAPES, CELLS):
        caption = caption_for([(colour, shape, cell)])
        assert parse_caption(caption) == [(colour, shape, cell)]
        captions.add(caption)
    assert len(captions) == 8 * 3 * 9


@given(
    c1=shapes_colours, s1=shapes_shapes, p1=shapes_cells,
    c2=shapes_colours, s2=shapes_shapes, p2=shapes_cells,
)
def test_two_object_captions_round_trip(c1, s1, p1, c2, s2, p2):
    objects = [(c1, s1, p1), (c2, s2, p2)]
    caption = caption_for(objects)
    assert caption.count(" and ") == 1
    assert parse_caption(caption) == objects
    assert parse_caption("  " + caption.upper().replace(" ", "   ") + " ") == objects


def test_grammar_matches_the_contract():
    assert (
        caption_for([("red", "circle", "top left"), ("blue", "square", "center")])
        == "a red circle at the top left and a blue square in the center"
    )
    assert caption_for([("orange", "triangle", "left")]) == "an orange triangle on the left"
    assert caption_for([("white", "square", "bottom")]) == "a white square at the bottom"
    assert set(CELL_PHRASES) == set(CELLS)
    obj = ShapeObject("cyan", "circle", "right", 25.0, 16.0, 6.0)
    assert caption_for([obj]) == "a cyan circle on the right"


@pytest.mark.parametrize(
    "caption, part",
    [
        ("a pink circle at the top", "'pink'"),
        ("a red star at the top", "'star'"),
        ("a red circle at the middle", "'at the middle'"),
        ("the red circle at the top", "'the'"),
        ("a red circle at the top and", "missing before or after 'and'"),
        ("and a red circle at the top", "missing before or after 'and'"),
        ("a red circle", "'a red circle'"),
        ("a red circle on the left and a blue squares on the right", "'squares'"),
    ],
)
def test_parser_names_the_unparsable_part(caption, part):
    with pytest.raises(ValueError, match=part):
        parse_caption(caption)


def test_empty_caption_and_bad_objects_are_refused():
    with pytest.raises(ValueError, match="empty"):
        parse_caption("   ")
    with pytest.raises(ValueError, match="at least one object"):
        caption_for([])
    with pytest.raises(ValueError, match="'mauve'"):
        caption_for([("mauve", "circle", "top")])
    with pytest.raises(ValueError, match="'middle'"):
        ShapeObject("red", "circle", "middle", 1.0, 1.0, 1.0)
