"""Feature extractors: offline construction from local weights files, errors, batching."""

from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from safetensors.torch import save_file

from ganblocks.metrics import (
    INCEPTION_FILENAME,
    INCEPTION_URL,
    FeatureExtractor,
    create_dino_features,
    create_inception,
    extract_features,
    weights_fingerprint,
)
from strategies import runtime_typecheck_disabled, seeds


def _images(seed: int, n: int, size: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g) * 2 - 1


def _save(module: torch.nn.Module, path: Path) -> Path:
    state = {k: v.contiguous() for k, v in module.state_dict().items()}
    if path.suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def inception() -> torch.nn.Module:
    torch.manual_seed(0)
    net = create_inception(False)
    with torch.no_grad():  # BN statistics that keep random activations away from zero
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_var.uniform_(0.02, 0.05)
    return net


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_inception_weights_saved_to_a_file_load_back_to_the_same_features(
    inception: torch.nn.Module, tmp_path: Path, suffix: str
) -> None:
    path = _save(inception.network, tmp_path / f"inception{suffix}")
    loaded = create_inception(path)
    x = _images(0, 2, size=40)
    with torch.inference_mode():
        expected, got = inception(x), loaded(x)
    assert got.shape == (2, 2048) and torch.equal(got, expected)
    assert expected.abs().max() > 0 and not torch.equal(expected[0], expected[1])
    assert weights_fingerprint(loaded) == weights_fingerprint(inception)
    assert isinstance(loaded, FeatureExtractor) and loaded.feature_dim == 2048


def test_inception_quantises_like_saved_images(inception: torch.nn.Module) -> None:
    pixels = torch.randint(1, 255, (1, 3, 32, 32), generator=torch.Generator().manual_seed(1))
    x = pixels.float() / 127.5 - 1  # exactly on the 8-bit grid
    with torch.inference_mode():
        assert torch.equal(inception(x), inception(x + 0.003))  # under half an 8-bit step
        assert torch.equal(inception(x), inception(x - 0.003))


def test_missing_inception_weights_say_which_file_and_where_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(FileNotFoundError, match="nope.pth") as err:
        create_inception(tmp_path / "nope.pth")
    assert INCEPTION_URL in str(err.value)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(FileNotFoundError) as err:
        create_inception(True)
    message = str(err.value)
    assert INCEPTION_FILENAME in message and INCEPTION_URL in message and "weights=PATH" in message
    assert str(tmp_path / "hub") in message
    assert "--inception-weights PATH" in str(err.value.for_argument("--inception-weights"))


def test_weights_of_another_network_are_refused(tmp_path: Path) -> None:
    dino = create_dino_features("tiny", pretrained=False)
    path = _save(dino.backbone.vit, tmp_path / "dino.safetensors")
    with pytest.raises(ValueError, match="missing keys"):
        create_inception(path)


@settings(max_examples=5)
@given(seed=seeds)
def test_dino_features_are_reproducible_from_seed_or_file(seed: int) -> None:
    a = create_dino_features("tiny", pretrained=False, seed=seed)
    b = create_dino_features("tiny", pretrained=False, seed=seed)
    c = create_dino_features("tiny", pretrained=False, seed=seed + 1)
    x = _images(seed, 3, size=48)
    with torch.inference_mode():
        fa, fb, fc = a(x), b(x), c(x)
    assert fa.shape == (3, a.feature_dim) == (3, 64)
    assert torch.equal(fa, fb) and not torch.allclose(fa, fc)
    assert weights_fingerprint(a) == weights_fingerprint(b) != weights_fingerprint(c)


def test_dino_weights_file_round_trip(tmp_path: Path) -> None:
    a = create_dino_features("tiny", pretrained=False, seed=3)
    path = _save(a.backbone.vit, tmp_path / "vit.safetensors")
    b = create_dino_features("tiny", pretrained=path, seed=99)  # the file wins over the seed
    x = _images(0, 2)
    with torch.inference_mode():
        assert torch.equal(a(x), b(x))


@settings(max_examples=5)
@given(seed=seeds)
def test_features_are_per_image(seed: int) -> None:
    # batch permutation equivariance: an image's features do not depend on its batch mates
    dino = create_dino_features("tiny", pretrained=False, seed=0)
    x = _images(seed, 5)
    perm = torch.randperm(5, generator=torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        torch.testing.assert_close(dino(x)[perm], dino(x[perm]), rtol=1e-5, atol=1e-5)


def test_extract_features_batches_and_uint8_agree() -> None:
    dino = create_dino_features("tiny", pretrained=False, seed=0)
    pixels = ((_images(2, 7) + 1) * 127.5).round().to(torch.uint8)
    floats = pixels.float() / 127.5 - 1
    whole = extract_features(dino, floats, batch_size=7)
    assert whole.shape == (7, 64) and whole.dtype == torch.float32
    torch.testing.assert_close(extract_features(dino, pixels, batch_size=3), whole, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(extract_features(dino, [pixels[:2], pixels[2:]]), whole, rtol=1e-5, atol=1e-5)


def test_bad_images_are_refused_naming_the_argument() -> None:
    dino = create_dino_features("tiny", pretrained=False)
    with runtime_typecheck_disabled(), pytest.raises(ValueError, match="images"):
        dino(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="no images"):
        extract_features(dino, [])
