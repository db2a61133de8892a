"""evaluate_metrics: a generator that returns the data scores ~0, a bad one scores worse; cache; errors."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganblocks import create_clip
from ganblocks.metrics import ShapesReference, StatsCache, check_metrics, create_dino_features, evaluate_metrics
from ganblocks.metrics.report import SEED_BASE

REFERENCE = ShapesReference(32, seed=7)


class PooledPixels(nn.Module):
    """A cheap stand-in for Inception: 4x4 average-pooled pixels."""

    name = "pooled-pixels"
    feature_dim = 48

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(images, 4).flatten(1)


class CountingReference:
    """REFERENCE, counting how many images it renders."""

    def __init__(self, reference: ShapesReference) -> None:
        self.reference, self.rendered = reference, 0
        self.dataset_id, self.resolution = reference.dataset_id, reference.resolution

    def captions(self, count: int) -> list[str]:
        return self.reference.captions(count)

    def images(self, start: int, stop: int) -> torch.Tensor:
        self.rendered += stop - start
        return self.reference.images(start, stop)


def copy_data(captions: list[str], seeds: list[int]) -> torch.Tensor:
    """A perfect generator: the reference image of each caption (seed i belongs to caption i)."""
    i = seeds[0] - SEED_BASE
    images = REFERENCE.images(i, i + len(seeds)).float() / 127.5 - 1
    assert REFERENCE.captions(i + len(seeds))[i:] == captions
    return images


def blank(captions: list[str], seeds: list[int]) -> torch.Tensor:
    return -torch.ones(len(captions), 3, 32, 32)


@pytest.fixture(scope="module")
def dino() -> nn.Module:
    return create_dino_features("tiny", pretrained=False, seed=0)


def test_a_generator_that_returns_the_data_scores_zero_and_a_blank_one_does_not(
    dino: nn.Module, tmp_path: Path
) -> None:
    kw = dict(samples=60, inception=PooledPixels(), dino=dino, cache=StatsCache(tmp_path), batch_size=16,
              kid_subsets=20)
    good = evaluate_metrics(copy_data, REFERENCE, ["fid", "kid", "fd_dino"], **kw)
    bad = evaluate_metrics(blank, REFERENCE, ["fid", "kid", "fd_dino"], **kw)
    assert good["fid"] < 1e-8 and good["fd_dino"] < 1e-6
    assert bad["fid"] > 0.1 and bad["fd_dino"] > 0.05
    assert abs(good["kid"]) < 0.1 * bad["kid"]
    assert good["samples"] == 60 and good["reference"] == REFERENCE.dataset_id
    assert set(good["extractors"]) == {"pooled-pixels", "dino-tiny"}
    assert good["kid_subset_size"] == 60 and good["kid_std"] >= 0
    assert any(n.startswith("fd_dino: 60 samples") for n in good["notes"])  # 60 < 64 dims
    assert not any(n.startswith("fid") for n in good["notes"])  # 60 > 48 dims


def test_reference_features_come_from_the_cache_the_second_time(tmp_path: Path) -> None:
    reference = CountingReference(REFERENCE)
    kw = dict(samples=20, inception=PooledPixels(), cache=StatsCache(tmp_path), batch_size=8)
    first = evaluate_metrics(blank, reference, ["fid", "kid"], **kw)
    assert reference.rendered == 20
    second = evaluate_metrics(blank, reference, ["fid", "kid"], **kw)
    assert reference.rendered == 20 and first == second
    evaluate_metrics(blank, reference, ["fid"], **{**kw, "samples": 24})  # another count: another key
    assert reference.rendered == 44


def test_clip_score_is_reported_with_its_model_name() -> None:
    torch.manual_seed(0)
    clip = create_clip("tiny", pretrained=False)
    report = evaluate_metrics(copy_data, REFERENCE, ["clip"], samples=6, clip=clip, clip_name="tiny (random)")
    assert report["clip_model"] == "tiny (random)" and -1 <= report["clip_score"] <= 1
    assert "fid" not in report and report["extractors"] == {}


def test_generated_images_of_another_size_are_refused() -> None:
    def big(captions: list[str], seeds: list[int]) -> torch.Tensor:
        return torch.zeros(len(captions), 3, 64, 64)

    with pytest.raises(ValueError, match=r"\[4, 3, 64, 64\].*32x32"):
        evaluate_metrics(big, REFERENCE, ["fid"], samples=4, inception=PooledPixels())


def test_bad_requests_say_what_to_pass() -> None:
    with pytest.raises(ValueError, match="pass dino="):
        evaluate_metrics(blank, REFERENCE, ["fd_dino"], samples=4, inception=PooledPixels())
    with pytest.raises(ValueError, match="fid needs at least 2 samples, got 1"):
        evaluate_metrics(blank, REFERENCE, ["fid"], samples=1, inception=PooledPixels())
    with pytest.raises(ValueError, match="choose from fid, kid, fd_dino, clip"):
        check_metrics(["fid", "is"], 10)
    with pytest.raises(ValueError, match="kid_subset_size 8 is larger than samples 4"):
        evaluate_metrics(blank, REFERENCE, ["kid"], samples=4, inception=PooledPixels(), kid_subset_size=8)
