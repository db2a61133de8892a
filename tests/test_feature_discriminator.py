import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

from ganblocks.backbones import create_dino_backbone
from ganblocks.discriminator import DiffAugment, DINOFeatureDiscriminator, MultiHeadDiscriminator
from strategies import runtime_typecheck_disabled, seeds

C_DIM = 6
image_sizes = st.sampled_from([16, 32, 40, 64])


@pytest.fixture(scope="module")
def backbone():
    torch.manual_seed(0)
    return create_dino_backbone("tiny", pretrained=False, depth=2)


def _disc(backbone, seed=0, **kw):
    torch.manual_seed(seed)
    heads = MultiHeadDiscriminator(backbone.channels, C_DIM, cmap_dim=16, virtual_batch=4)
    return DINOFeatureDiscriminator(backbone, heads, **kw)


def _inputs(seed, b=2, size=32):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, size, size, generator=g) * 2 - 1, torch.randn(b, C_DIM, generator=g)


@given(seed=seeds, size=image_sizes, b=st.integers(1, 3))
def test_one_logit_per_token_of_every_map_for_any_image_size(backbone, seed, size, b):
    d = _disc(backbone, augment=DiffAugment())
    images, c = _inputs(seed, b, size)
    out = d(images, c, generator=torch.Generator().manual_seed(seed))
    assert out.shape == (b, d.num_logits) == (b, 3 * 64)
    assert torch.isfinite(out).all()


@given(seed=seeds)
def test_output_changes_when_c_changes(backbone, seed):
    d = _disc(backbone).eval()
    images, c = _inputs(seed)
    assert not torch.allclose(d(images, c), d(images, torch.randn_like(c)))


def test_gradient_reaches_the_image_and_heads_but_not_the_backbone(backbone):
    d = _disc(backbone, augment=DiffAugment()).train()
    images, c = _inputs(1, b=3, size=48)
    images.requires_grad_(True)
    d(images, c).mean().backward()
    assert images.grad is not None and torch.isfinite(images.grad).all() and images.grad.abs().sum() > 0
    assert all(p.grad is None for p in d.backbone.parameters())
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in d.trainable_parameters())


def test_backbone_stays_in_eval_mode_and_frozen(backbone):
    d = _disc(backbone)
    torch.nn.ModuleDict({"d": d}).train()
    assert d.heads.training and not any(m.training for m in d.backbone.modules())
    d.requires_grad_(False)
    d.requires_grad_(True)
    assert not any(p.requires_grad for p in d.backbone.parameters())
    assert all(p.requires_grad for p in d.heads.parameters())
    heads = {id(p) for p in d.heads.parameters()}
    assert {id(p) for p in d.trainable_parameters()} == heads


def test_state_dict_holds_the_heads_only_and_round_trips(backbone):
    d1, d2 = _disc(backbone, seed=1).eval(), _disc(backbone, seed=2).eval()
    state = d1.state_dict()
    assert state and not any(k.startswith("backbone.") for k in state)
    assert set(state) == {f"heads.{k}" for k in d1.heads.state_dict()}
    images, c = _inputs(3)
    assert not torch.allclose(d1(images, c), d2(images, c))
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    assert str(d2.load_state_dict(state)) == "<All keys matched successfully>"
    torch.testing.assert_close(d2(images, c), d1(images, c))
    for k, v in backbone.state_dict().items():
        assert torch.equal(v, before[k])


def test_nested_in_a_larger_module_the_backbone_is_still_left_out(backbone):
    parent = torch.nn.ModuleDict({"disc": _disc(backbone), "other": torch.nn.Linear(2, 2)})
    state = parent.state_dict()
    assert not any(k.startswith("disc.backbone.") for k in state)
    assert any(k.startswith("disc.heads.") for k in state) and "other.weight" in state
    parent.load_state_dict(state)  # strict: nothing reported missing


def test_backbone_entries_in_a_file_are_unexpected_and_never_loaded(backbone):
    d = _disc(backbone)
    state = dict(d.state_dict())
    name, value = next(iter(backbone.state_dict().items()))
    state[f"backbone.{name}"] = torch.zeros_like(value)
    with pytest.raises(RuntimeError, match=f"Unexpected key.*backbone.{name}"):
        d.load_state_dict(state)
    result = d.load_state_dict(state, strict=False)
    assert result.unexpected_keys == [f"backbone.{name}"] and result.missing_keys == []
    assert not torch.equal(backbone.state_dict()[name], torch.zeros_like(value))


def test_to_moves_and_casts_the_backbone_too(backbone):
    d = _disc(create_dino_backbone("tiny", pretrained=False, depth=1)).to(torch.float64)
    assert all(p.dtype == torch.float64 for p in d.parameters())
    assert d.backbone.mean.dtype == torch.float64
    images, c = _inputs(0)
    assert d(images.double(), c.double()).dtype == torch.float64


def test_input_path_crops_larger_images_then_area_resizes_and_normalises(backbone):
    images, _ = _inputs(5, b=2, size=40)
    mean, std = backbone.mean[:, None, None], backbone.std[:, None, None]
    always = _disc(backbone, crop_prob=1.0).prepare(images, generator=torch.Generator().manual_seed(0))
    windows = [((images[:, :, i : i + 32, j : j + 32] + 1) / 2 - mean) / std for i in range(9) for j in range(9)]
    assert any(torch.allclose(always, w) for w in windows)
    never = _disc(backbone, crop_prob=0.0).prepare(images)
    torch.testing.assert_close(never, (F.interpolate((images + 1) / 2, size=32, mode="area") - mean) / std)
    small, _ = _inputs(6, b=2, size=16)
    torch.testing.assert_close(
        _disc(backbone, crop_prob=1.0).prepare(small),
        (F.interpolate((small + 1) / 2, size=32, mode="area") - mean) / std,
    )


def test_bad_inputs_and_mismatched_parts_are_refused(backbone):
    d = _disc(backbone)
    images, c = _inputs(0)
    with runtime_typecheck_disabled():
        with pytest.raises(ValueError, match=r"images has shape \[3, 32, 32\], expected \[b, 3, h, w\]"):
            d(images[0], c)
        with pytest.raises(ValueError, match=r"images has shape \[2, 1, 32, 32\]"):
            d(images[:, :1], c)
        with pytest.raises(ValueError, match=r"c has shape \[2, 5\], expected \[2, 6\]"):
            d(images, c[:, :5])
        with pytest.raises(ValueError, match="c is required"):
            d(images)
    with pytest.raises(ValueError, match=r"widths \[64, 64\].*widths \[64, 64, 64\]"):
        DINOFeatureDiscriminator(backbone, MultiHeadDiscriminator([64, 64], C_DIM))
    with pytest.raises(ValueError, match="crop_prob"):
        _disc(backbone, crop_prob=1.5)


def test_unconditional_discriminator_needs_no_c(backbone):
    heads = MultiHeadDiscriminator(backbone.channels, 0)
    d = DINOFeatureDiscriminator(backbone, heads)
    images, _ = _inputs(0)
    assert d(images).shape == (2, d.num_logits)
