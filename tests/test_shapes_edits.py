import numpy as np
import pytest
from hypothesis import given

from ganblocks.data import DEFAULT_HOLDOUT, EDIT_KINDS, ShapesT2I, edit_caption, parse_caption
from strategies import seeds


@given(seeds)
def test_edit_changes_exactly_what_its_kind_says(seed: int) -> None:
    rng = np.random.default_rng(seed)
    caption = ShapesT2I(max_objects=2, seed=seed % 1000).caption(int(rng.integers(1000)))
    objects = parse_caption(caption)
    kinds = EDIT_KINDS if len(objects) == 2 else EDIT_KINDS[:3]
    for kind in kinds:
        try:
            edited = parse_caption(edit_caption(caption, rng, kind=kind))
        except ValueError:
            continue  # e.g. no valid swap when it would create a held-out pair
        assert edited != objects
        assert len(edited) == len(objects)
        assert not any((c, s) in DEFAULT_HOLDOUT for c, s, _ in edited)
        assert len({o[0] for o in edited}) == len(edited) and len({o[2] for o in edited}) == len(edited)
        if kind.startswith("swap_"):
            field = EDIT_KINDS.index(kind) - 3
            assert sorted(o[field] for o in edited) == sorted(o[field] for o in objects)
        else:
            field = EDIT_KINDS.index(kind)
            changed = [i for i in range(len(objects)) if edited[i] != objects[i]]
            assert len(changed) == 1
            i = changed[0]
            assert [edited[i][f] == objects[i][f] for f in range(3)].count(False) == 1
            assert edited[i][field] != objects[i][field]


def test_swap_needs_two_objects() -> None:
    with pytest.raises(ValueError, match="two-object"):
        edit_caption("a red circle in the center", np.random.default_rng(0), kind="swap_colour")
