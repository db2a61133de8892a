"""CLIP score: the mean cosine of image and caption embeddings, batch-independent, with a tiny CLIP."""

from collections.abc import Sequence

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ganblocks import create_clip
from ganblocks.metrics import clip_score, clip_similarities
from strategies import seeds

CAPTIONS = ["a red circle in the center", "a blue square at the top", "a green triangle on the left",
            "a white circle at the bottom right", "an orange square on the right"]


class _Lookup:
    """An encoder whose image and text embeddings are chosen rows: cosines are known exactly."""

    def __init__(self, image_rows: torch.Tensor, text_rows: dict[str, torch.Tensor]) -> None:
        self.image_rows, self.text_rows = image_rows, text_rows

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        index = ((images[:, 0, 0, 0] + 1) * 127.5).round().long()  # the image says which row
        return self.image_rows[index]

    def encode_text(self, prompts: Sequence[str]) -> torch.Tensor:
        return torch.stack([self.text_rows[p] for p in prompts])


@pytest.fixture(scope="module")
def clip() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_clip("tiny", pretrained=False)


def _images(seed: int, n: int) -> torch.Tensor:
    return torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@given(seed=seeds)
def test_score_is_the_mean_cosine_of_known_embeddings(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    rows = torch.randn(5, 8, generator=g)
    scales = torch.rand(5, 1, generator=g) + 0.5  # unnormalised: the score must normalise
    texts = {c: torch.randn(8, generator=g) for c in CAPTIONS}
    images = torch.zeros(5, 3, 4, 4)
    images[:, 0, 0, 0] = torch.arange(5) / 127.5 - 1
    encoder = _Lookup(rows * scales, texts)
    expected = torch.stack([torch.cosine_similarity(rows[i], texts[c], dim=0) for i, c in enumerate(CAPTIONS)])
    torch.testing.assert_close(clip_similarities(encoder, images, CAPTIONS, batch_size=2), expected)
    assert clip_score(encoder, images, CAPTIONS) == pytest.approx(float(expected.mean()), abs=1e-6)


def test_matching_and_opposite_embeddings_score_one_and_minus_one() -> None:
    rows = torch.eye(5)
    images = torch.zeros(5, 3, 4, 4)
    images[:, 0, 0, 0] = torch.arange(5) / 127.5 - 1
    same = _Lookup(rows, {c: rows[i] for i, c in enumerate(CAPTIONS)})
    opposite = _Lookup(rows, {c: -2 * rows[i] for i, c in enumerate(CAPTIONS)})
    assert clip_score(same, images, CAPTIONS) == pytest.approx(1.0)
    assert clip_score(opposite, images, CAPTIONS) == pytest.approx(-1.0)


@settings(max_examples=5)
@given(seed=seeds, batch=st.integers(1, 5))
def test_tiny_clip_score_is_batch_independent_and_bounded(clip: torch.nn.Module, seed: int, batch: int) -> None:
    x = _images(seed, 5)
    whole = clip_similarities(clip, x, CAPTIONS, batch_size=5)
    assert whole.shape == (5,) and bool((whole.abs() <= 1 + 1e-6).all())
    torch.testing.assert_close(clip_similarities(clip, x, CAPTIONS, batch_size=batch), whole, rtol=1e-5, atol=1e-5)
    direct = (clip.encode_image(x) * clip.encode_text(CAPTIONS)).sum(-1)
    torch.testing.assert_close(whole, direct, rtol=1e-5, atol=1e-5)


def test_uint8_images_score_like_their_float_values(clip: torch.nn.Module) -> None:
    pixels = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    floats = pixels.float() / 127.5 - 1
    assert clip_score(clip, pixels, CAPTIONS) == pytest.approx(clip_score(clip, floats, CAPTIONS), abs=1e-6)


def test_one_caption_per_image_is_required(clip: torch.nn.Module) -> None:
    with pytest.raises(ValueError, match="one caption per image"):
        clip_score(clip, _images(0, 5), CAPTIONS[:4])
    with pytest.raises(TypeError, match="not one str"):
        clip_score(clip, _images(0, 1), "a red circle in the center")
