"""GeneratorConfig: the architecture-only config, read from saved configs and from run configs."""

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ganblocks import GeneratorConfig
from strategies import runtime_typecheck_disabled
from t2i_helpers import run_config

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


@pytest.mark.parametrize("preset_name", ["shapes", "small", "lite", "full"])
def test_run_config_gives_the_example_architecture(preset_name: str) -> None:
    from config import preset

    cfg = preset(preset_name)
    arch = GeneratorConfig.from_run_config(dataclasses.asdict(cfg))
    for name in ("resolution", "z_dim", "channel_base", "channel_max", "num_res_blocks", "residual", "modulation"):
        assert getattr(arch, name) == getattr(cfg, name)
    assert arch.text_encoder == cfg.clip_model
    assert arch.upsample == cfg.g_upsample
    assert GeneratorConfig.from_run_config({"resolution": 32, "g_upsample": "nearest"}).upsample == "nearest"
    # the tiny CLIP has GELU; openai's ViT-L/14 weights were trained with QuickGELU
    assert arch.text_quick_gelu is (cfg.clip_model != "tiny")


def test_run_config_quick_gelu_follows_the_weights_tag() -> None:
    import open_clip

    tags = [t for t in open_clip.list_pretrained_tags_by_model("ViT-B-32") if t != "openai"]
    other = next(t for t in tags if not open_clip.get_pretrained_cfg("ViT-B-32", t).get("quick_gelu", False))
    base = {"resolution": 16, "clip_model": "ViT-B-32"}
    assert GeneratorConfig.from_run_config({**base, "clip_weights": "openai"}).text_quick_gelu is True
    assert GeneratorConfig.from_run_config({**base, "clip_weights": other}).text_quick_gelu is False
    assert GeneratorConfig.from_run_config({**base, "clip_weights": None}).text_quick_gelu is True  # name's default


def test_old_run_configs_without_later_fields_still_read() -> None:
    from config import ADDED_FIELDS

    # a config written before the fields existed means what the fields' ADDED_FIELDS values mean
    values = dataclasses.asdict(run_config(**ADDED_FIELDS))
    old = {k: v for k, v in values.items() if k not in ADDED_FIELDS}
    assert GeneratorConfig.from_run_config(old) == GeneratorConfig.from_run_config(values)
    # a run config without the generator's optional fields gets the defaults
    assert GeneratorConfig.from_run_config({"resolution": 32}) == GeneratorConfig(resolution=32)


def test_attention_resolutions_read_from_lists_and_run_strings():
    cfg = GeneratorConfig.from_dict({"resolution": 32, "cross_attention": [16, 8], "self_attention": []})
    assert cfg.cross_attention == (8, 16) and cfg.self_attention == ()
    assert GeneratorConfig.from_dict(cfg.to_dict()) == cfg
    run = GeneratorConfig.from_run_config({"resolution": 32, "g_cross_attention": "8,16", "g_self_attention": "8"})
    assert run.cross_attention == (8, 16) and run.self_attention == (8,)
    assert GeneratorConfig.from_run_config({"resolution": 32}).cross_attention == ()  # older runs: off
    with pytest.raises(ValueError, match=r"cross_attention \[64\] must name block resolutions of a 32 px"):
        GeneratorConfig.from_dict({"resolution": 32, "cross_attention": [64]})
