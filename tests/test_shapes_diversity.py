import numpy as np
import pytest
import torch
from hypothesis import given, settings

from ganblocks.data import diversity, diversity_per_caption, make_eval_prompts, render_caption
from strategies import seeds

CAPTIONS = [p.caption for p in make_eval_prompts(n_single_seen=2, n_single_heldout=1, n_double_seen=1, n_double_heldout=1)]


def _data(caption, n, seed, resolution=32):
    rng = np.random.default_rng(seed)
    return np.stack([render_caption(caption, resolution, rng) for _ in range(n)])


@settings(max_examples=3)
@given(seed=seeds)
def test_data_is_as_diverse_as_the_data(seed):
    images = {c: _data(c, 64, seed) for c in CAPTIONS}
    score = diversity(images, resolution=32, n_reference=128)
    assert 0.85 <= score <= 1.0


def test_identical_images_are_collapsed():
    images = {c: np.stack([_data(c, 1, 0)[0]] * 16) for c in CAPTIONS}
    assert diversity(images, n_reference=64) == 0.0


def test_partial_collapse_scores_in_between():
    caption = "a red circle at the top left and a blue square in the center"
    diverse = _data(caption, 64, 1)
    collapsed = diverse.copy()
    # keep the red circle's variation but freeze the blue square (right half of the image)
    collapsed[:, :, 11:] = collapsed[0, :, 11:]
    half = diversity_per_caption({caption: collapsed})[caption]
    full = diversity_per_caption({caption: diverse})[caption]
    assert 0.35 < half < 0.6 < 0.85 < full


def test_missing_objects_count_as_collapsed_and_layout_does_not_matter():
    caption = "a green square on the right"
    black = torch.zeros(8, 3, 32, 32, dtype=torch.uint8)
    assert diversity({caption: black}) == 0.0
    data = _data(caption, 32, 3)
    as_tensor = torch.from_numpy(data).permute(0, 3, 1, 2)
    assert diversity({caption: data}) == diversity({caption: list(as_tensor)})


def test_bad_inputs_are_refused():
    caption = CAPTIONS[0]
    with pytest.raises(ValueError, match="needs 2 or more"):
        diversity({caption: _data(caption, 1, 0)})
    with pytest.raises(ValueError, match="expected 64"):
        diversity({caption: _data(caption, 4, 0)}, resolution=64)
    with pytest.raises(ValueError, match="empty"):
        diversity({})
