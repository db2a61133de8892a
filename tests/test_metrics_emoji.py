"""EmojiT2I scorer and evaluation: conformance on a small fixture, FD of real against real,
``evaluate_emoji`` on a random tiny generator, the scorer files (shipped and saved)."""

import json
import math

import pytest
import torch

from emoji_helpers import make_packages, real_packages
from ganblocks.data.emoji import build_emoji, load_emoji_images, read_emoji_items
from ganblocks.metrics.emoji import (
    EMOJI_SCORER_RESOLUTIONS,
    EmojiScorer,
    classify_emoji,
    emoji_accuracies,
    emoji_conformance,
    emoji_labels,
    emoji_prompt_sets,
    evaluate_emoji,
    load_emoji_scorer,
    main,
    save_emoji_scorer,
    shipped_scorer_path,
    train_emoji_scorer,
)

# the fixture's sets are far smaller than the features are wide
pytestmark = pytest.mark.filterwarnings("ignore:.*rank-deficient covariance")

SETS = ("seen", "heldout_style", "heldout_tone")
ACCURACIES = ("style", "tone", "category", "subject_top1", "subject_top10")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("emoji")
    out = folder / "emoji"
    build_emoji(*make_packages(folder / "npm"), out)
    return out


@pytest.fixture(scope="module")
def items(data):
    return read_emoji_items(data)


@pytest.fixture(scope="module")
def scorer(items):
    return train_emoji_scorer(items, resolution=16, epochs=120, batch_size=32, lr=5e-3, widths=(16, 32),
                              feature_dim=32, max_shift=0, noise=0.0, blur=0.0, seed=1)


def test_the_fixture_has_every_set(items):
    assert {it.split for it in items} == {"train", "heldout_style", "heldout_tone"}
    assert all(len(v) for v in emoji_prompt_sets(items).values())


def test_scorer_conforms_on_the_fixture(scorer, items):
    report = emoji_conformance(scorer, items)
    for s in SETS:
        assert report[f"{s}/style"] >= 0.99
        assert report[f"{s}/tone"] >= 0.95
        assert report[f"{s}/category"] >= 0.95
        assert report[f"{s}/subject_top10"] >= 0.95
        assert report[f"{s}/subject_top1"] >= 0.95
        if f"{s}/fd" in report:
            assert report[f"{s}/fd"] == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_of_real_against_real_is_zero(scorer, items):
    real = load_emoji_images(items, resolution=16)
    features = classify_emoji(scorer, real).features
    from ganblocks.metrics import frechet_distance_from_features

    assert frechet_distance_from_features(features, features) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance_from_features(features, features.flip(0)) == pytest.approx(0.0, abs=1e-6)


def test_scorer_shapes_and_resizing(scorer, items):
    real = load_emoji_images(items, resolution=32)
    scores = classify_emoji(scorer, real)  # 32 px images read by a 16 px scorer
    assert scores.style.shape == (len(items), 2) and scores.tone.shape == (len(items), 6)
    assert scores.subject.shape == (len(items), len(scorer.subjects))
    assert scores.features.shape == (len(items), scorer.feature_dim)
    float_scores = classify_emoji(scorer, real.float() / 127.5 - 1)
    assert torch.allclose(float_scores.features, scores.features, atol=1e-5)
    with pytest.raises(ValueError, match="16 px"):
        scorer.features(torch.zeros(1, 3, 32, 32))


def test_labels_leave_two_tones_unscored(scorer, items):
    labels = emoji_labels(scorer, items)
    for item, row in zip(items, labels.tolist()):
        assert (row[1] == -1) == (item.tone is None)
        assert row[0] in (0, 1) and row[2] >= 0 and row[3] >= 0
    acc = emoji_accuracies(classify_emoji(scorer, load_emoji_images(items[:2], resolution=16)), labels[:1], repeats=2)
    assert set(acc) == set(ACCURACIES)


def test_evaluate_emoji_on_a_random_generator(scorer, items):
    from t2i_helpers import tiny_generator

    G = tiny_generator()
    report = evaluate_emoji(G, scorer, items, seeds_per_item=2, samples=4, batch_size=8)
    assert set(report) == {f"{s}/{m}" for s in SETS for m in (*ACCURACIES, "fd", "images")}
    for s in SETS:
        for m in ACCURACIES:
            assert 0.0 <= report[f"{s}/{m}"] <= 1.0, (s, m)
        assert math.isfinite(report[f"{s}/fd"]) and report[f"{s}/fd"] >= 0
        n = min(4, sum(1 for it in items if it.split == {"seen": "train"}.get(s, s)))
        assert report[f"{s}/images"] == 2 * n
    assert evaluate_emoji(G, scorer, items, seeds_per_item=2, samples=4, batch_size=3) == pytest.approx(report)


def test_save_and_load_round_trip(scorer, tmp_path, items):
    path = save_emoji_scorer(scorer, tmp_path / "s.safetensors", info={"note": "fixture"})
    loaded = load_emoji_scorer(path=path)
    assert loaded.subjects == scorer.subjects and loaded.categories == scorer.categories
    assert loaded.info == {"note": "fixture"} and not loaded.training
    real = load_emoji_images(items, resolution=16)
    a, b = classify_emoji(scorer, real), classify_emoji(loaded, real)
    assert torch.equal(a.subject.argmax(1), b.subject.argmax(1))
    assert torch.allclose(a.features, b.features, atol=0.05, rtol=0.02)  # float16 weights


def test_load_refuses_what_is_not_a_scorer(tmp_path):
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other))
    with pytest.raises(ValueError, match="not an EmojiT2I scorer"):
        load_emoji_scorer(path=other)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a readable safetensors"):
        load_emoji_scorer(path=junk)
    with pytest.raises(FileNotFoundError, match="no shipped EmojiT2I scorer for 128 px"):
        load_emoji_scorer(128)


@pytest.mark.parametrize("resolution", EMOJI_SCORER_RESOLUTIONS)
def test_shipped_scorers_load_offline(resolution):
    if not shipped_scorer_path(resolution).is_file():
        pytest.skip(f"no shipped {resolution} px scorer")
    scorer = load_emoji_scorer(resolution)
    assert isinstance(scorer, EmojiScorer) and scorer.resolution == resolution
    assert len(scorer.subjects) == 1906 and len(scorer.categories) == 9
    assert shipped_scorer_path(resolution).stat().st_size < 5_000_000
    conformance = scorer.info["conformance"]
    for s in SETS:
        assert conformance[f"{s}/style"] >= 0.99 and conformance[f"{s}/tone"] >= 0.95
        assert conformance[f"{s}/category"] >= 0.95 and conformance[f"{s}/subject_top10"] >= 0.95


def test_commands_train_and_check(data, tmp_path, capsys):
    out = tmp_path / "scorer.safetensors"
    main(["train-scorer", "--data", str(data), "--resolution", "8", "--out", str(out), "--epochs", "2",
          "--batch", "8", "--threads", "1"])
    printed = capsys.readouterr().out
    assert "heldout_tone" in printed and f"wrote {out}" in printed
    main(["conformance", "--data", str(data), "--scorer", str(out), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert set(report) >= {f"{s}/style" for s in SETS}
    with pytest.raises(SystemExit) as e:
        main(["conformance", "--data", str(tmp_path / "nowhere")])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot check the scorer:") and "no such folder" in err


def test_augmentations_keep_shapes_and_fill_white():
    from ganblocks.metrics.emoji import _blur_some, _shift

    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 3, 16, 16) * 2 - 1
    moved = _shift(x, 2, g)
    assert moved.shape == x.shape
    for a, b in zip(moved, x):  # each image is a translate of its own, white where it came in
        found = False
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                ref = torch.nn.functional.pad(b, (2, 2, 2, 2), value=1.0)[:, 2 + dy:18 + dy, 2 + dx:18 + dx]
                found |= torch.equal(a, ref)
        assert found
    assert torch.equal(_shift(x, 0, g), x)
    soft = _blur_some(x, 1.0, g)
    assert soft.shape == x.shape and soft.std() < x.std()
    assert torch.equal(_blur_some(x, 0.0, g), x)


@pytest.mark.slow
def test_shipped_scorers_conform_on_the_real_data(tmp_path):
    google, twitter = real_packages()
    out = build_emoji(google, twitter, tmp_path / "emoji").out
    items = read_emoji_items(out)
    for resolution in EMOJI_SCORER_RESOLUTIONS:
        report = emoji_conformance(load_emoji_scorer(resolution), items)
        for s in SETS:
            assert report[f"{s}/style"] >= 0.99, (resolution, s)
            assert report[f"{s}/tone"] >= 0.95, (resolution, s)
            assert report[f"{s}/category"] >= 0.95, (resolution, s)
            assert report[f"{s}/subject_top10"] >= 0.95, (resolution, s)
            assert report[f"{s}/fd"] == pytest.approx(0.0, abs=1e-6), (resolution, s)
