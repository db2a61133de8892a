"""GeneratorConfig: the architecture-only config, read from saved configs and from run configs."""

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ganblocks import GeneratorConfig
from strategies import runtime_typecheck_disabled

def _with_attention(config: GeneratorConfig, data: st.DataObject) -> GeneratorConfig:
    """The config with attention at a drawn subset of its block resolutions."""
    blocks = [2**k for k in range(3, config.resolution.bit_length())]
    subset = lambda: st.lists(st.sampled_from(blocks), unique=True).map(lambda v: tuple(sorted(v)))  # noqa: E731
    return dataclasses.replace(config, cross_attention=data.draw(subset()), self_attention=data.draw(subset()),
                               attention_heads=data.draw(st.integers(1, 8)))


configs = st.builds(
    GeneratorConfig,
    resolution=st.sampled_from([8, 16, 32, 256]),
    z_dim=st.integers(1, 512),
    channel_base=st.integers(1, 1 << 16),
    channel_max=st.integers(1, 2048),
    num_res_blocks=st.integers(0, 3),
    residual=st.booleans(),
    modulation=st.sampled_from(["polynomial", "affine"]),
    mapping_layers=st.integers(1, 8),
    text_encoder=st.sampled_from(["tiny", "ViT-L-14"]),
    text_quick_gelu=st.booleans(),
)


@given(configs, st.data())
def test_saved_dict_reads_back_equal(config: GeneratorConfig, data: st.DataObject) -> None:
    config = _with_attention(config, data)
    assert GeneratorConfig.from_dict(config.to_dict()) == config
    # format, version and training are written beside the fields and skipped when read
    assert GeneratorConfig.from_dict({**config.to_dict(), "format": "x", "version": 1, "training": {}}) == config


@given(configs, st.data())
def test_missing_optional_fields_take_their_defaults(config: GeneratorConfig, data: st.DataObject) -> None:
    optional = [f.name for f in dataclasses.fields(GeneratorConfig) if f.name != "resolution"]
    dropped = data.draw(st.sets(st.sampled_from(optional)))
    values = {k: v for k, v in config.to_dict().items() if k not in dropped}
    read = GeneratorConfig.from_dict(values)
    for f in dataclasses.fields(GeneratorConfig):
        assert getattr(read, f.name) == (f.default if f.name in dropped else getattr(config, f.name))


def test_unknown_missing_and_invalid_fields_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"my.json has unknown generator fields \['token_dropout'\].*upgrade"):
        GeneratorConfig.from_dict({"resolution": 16, "token_dropout": True}, source="my.json")
    with pytest.raises(ValueError, match="no 'resolution'"):
        GeneratorConfig.from_dict({"z_dim": 8})
    with pytest.raises(ValueError, match="resolution must be a power of two"):
        GeneratorConfig.from_dict({"resolution": 48})
    with pytest.raises(ValueError, match="z_dim must be a positive integer"):
        GeneratorConfig(resolution=16, z_dim=0)
    with runtime_typecheck_disabled(), pytest.raises(ValueError, match="modulation"):
        GeneratorConfig(resolution=16, modulation="cubic")  # type: ignore[arg-type]
    with runtime_typecheck_disabled(), pytest.raises(ValueError, match="upsample must be 'fir' or 'nearest'"):
        GeneratorConfig(resolution=16, upsample="bilinear")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="(?s)my.json: .*modulation"):
        GeneratorConfig.from_dict({"resolution": 16, "modulation": "cubic"}, source="my.json")


def test_quick_gelu_follows_the_weights_tag() -> None:
    import open_clip

    from ganblocks.t2i.config import clip_quick_gelu

    tags = [t for t in open_clip.list_pretrained_tags_by_model("ViT-B-32") if t != "openai"]
    other = next(t for t in tags if not open_clip.get_pretrained_cfg("ViT-B-32", t).get("quick_gelu", False))
    assert clip_quick_gelu("ViT-B-32", "openai") is True
    assert clip_quick_gelu("ViT-B-32", other) is False
    assert clip_quick_gelu("ViT-B-32", None) is True  # random or file weights: the name's default tag
    assert clip_quick_gelu("tiny", "openai") is False


def test_configs_of_removed_options_read_when_off_and_are_refused_when_on() -> None:
    assert GeneratorConfig.from_dict({"resolution": 32, "input_shift": 0.0}) == GeneratorConfig(resolution=32)
    with pytest.raises(ValueError, match="my.json sets input_shift=0.05, an option this ganblocks no longer has"):
        GeneratorConfig.from_dict({"resolution": 32, "input_shift": 0.05}, source="my.json")


def test_attention_resolutions_read_from_lists_and_run_strings():
    cfg = GeneratorConfig.from_dict({"resolution": 32, "cross_attention": [16, 8], "self_attention": []})
    assert cfg.cross_attention == (8, 16) and cfg.self_attention == ()
    assert GeneratorConfig.from_dict(cfg.to_dict()) == cfg
    text = GeneratorConfig.from_dict({"resolution": 32, "cross_attention": "8,16", "self_attention": "8"})
    assert text.cross_attention == (8, 16) and text.self_attention == (8,)
    assert GeneratorConfig.from_dict({"resolution": 32}).cross_attention == ()  # older configs: off
    with pytest.raises(ValueError, match=r"cross_attention \[64\] must name block resolutions of a 32 px"):
        GeneratorConfig.from_dict({"resolution": 32, "cross_attention": [64]})
