"""TextToImageGenerator: the library's text-to-image generator, as the example trains it."""

import copy
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ganblocks import GeneratorConfig, TextToImageGenerator
from strategies import seeds
from t2i_helpers import PROMPTS, SEEDS, tiny_arch, tiny_generator


@pytest.fixture(scope="module")
def G() -> TextToImageGenerator:
    return tiny_generator()


@settings(max_examples=5)
@given(st.lists(seeds, min_size=1, max_size=3))
def test_generate_is_a_function_of_prompt_and_seed(G: TextToImageGenerator, seed_list: list[int]) -> None:
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(len(seed_list))]
    images = G.generate(prompts, seed_list)
    assert images.shape == (len(seed_list), 3, 16, 16) and images.dtype == torch.float32
    one_by_one = torch.cat([G.generate([p], [s]) for p, s in zip(prompts, seed_list)])
    torch.testing.assert_close(images, one_by_one)
    assert torch.equal(G.generate(prompts, seed_list), images)


def test_forward_from_prompts_equals_forward_from_embeddings(G: TextToImageGenerator) -> None:
    z = torch.randn(3, G.z_dim)
    from_c = G(z, G.encode_text(PROMPTS), noise_mode="const")
    from_prompts = G(z, None, prompts=PROMPTS, noise_mode="const")
    assert torch.equal(from_c, from_prompts)
    with pytest.raises(ValueError, match="exactly one of c"):
        G(z, None)


def test_bad_generate_arguments_say_what_to_pass(G: TextToImageGenerator) -> None:
    with pytest.raises(ValueError, match="2 prompts and 1 seeds"):
        G.generate(PROMPTS[:2], [0])
    with pytest.raises(TypeError, match="wrap it"):
        G.generate("a red circle", [0])  # type: ignore[arg-type]


def test_untrained_images_are_raw_not_clamped(G: TextToImageGenerator) -> None:
    # the documented contract: generate() returns raw values; only conversions clamp
    big = copy.deepcopy(G)
    with torch.no_grad():
        for p in big.synthesis.parameters():
            p.mul_(3.0)
    images = big.generate(PROMPTS, SEEDS)
    assert images.abs().max() > 1.0


def test_deepcopy_keeps_config_and_weights(G: TextToImageGenerator) -> None:
    twin = copy.deepcopy(G)  # the trainer's G_ema is a deep copy of G
    assert twin.config == G.config and twin is not G
    assert torch.equal(twin.generate(PROMPTS, SEEDS), G.generate(PROMPTS, SEEDS))


def test_state_dict_keys_match_the_example_checkpoints() -> None:
    # run folders written before the class moved into the library hold these names
    G = tiny_generator()
    prefixes = {k.split(".")[0] for k in G.state_dict()}
    assert prefixes == {"text_encoder", "mapping", "synthesis"}


def test_a_text_encoder_with_other_activations_is_refused() -> None:
    from ganblocks import create_clip

    quick = create_clip("tiny", pretrained=False, quick_gelu=True).text_encoder_copy()
    with pytest.raises(ValueError, match="QuickGELU"):
        TextToImageGenerator(tiny_arch(), text_encoder=quick)
    G = TextToImageGenerator(tiny_arch(text_quick_gelu=True), text_encoder=quick)
    assert G.text_encoder is quick


def test_import_ganblocks_does_not_import_huggingface_hub() -> None:
    import subprocess

    code = ("import sys, ganblocks; assert 'huggingface_hub' not in sys.modules; "
            "ganblocks.TextToImageGenerator; assert 'huggingface_hub' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@settings(max_examples=5, deadline=None)
@given(seeds, st.floats(0.0, 1.0))
def test_output_shift_moves_the_finished_image_by_the_latent(seed: int, psi: float) -> None:
    from ganblocks import translate

    plain = tiny_generator(seed)
    moved = tiny_generator(seed, output_shift=0.03)  # the same weights
    z = torch.randn(3, plain.z_dim, generator=torch.Generator().manual_seed(seed))
    c = plain.encode(PROMPTS)
    blind = torch.cat([torch.zeros(3, 2), z[:, 2:]], dim=1)  # the shift's coordinates never reach the mapping
    w = plain.mapping(blind, c.embedding, truncation_psi=psi)
    inner = plain.synthesis(w, tokens=c.tokens, mask=c.mask, noise_mode="const")
    expected = translate(inner, 0.03 * psi * z[:, :2])
    torch.testing.assert_close(moved(z, c, truncation_psi=psi, noise_mode="const"), expected)
    assert torch.equal(moved.generate(PROMPTS, SEEDS), moved.generate(PROMPTS, SEEDS))


def test_output_shift_is_saved_and_checked(tmp_path) -> None:
    G = tiny_generator(0, output_shift=0.01)
    G.save_pretrained(tmp_path / "m")
    again = TextToImageGenerator.from_pretrained(tmp_path / "m")
    assert again.config.output_shift == 0.01
    assert torch.equal(again.generate(PROMPTS, SEEDS), G.generate(PROMPTS, SEEDS))
    with pytest.raises(ValueError, match=r"output_shift must be a number in \[0, 1\)"):
        GeneratorConfig(resolution=16, output_shift=1.0)
    with pytest.raises(ValueError, match="output_shift reads two latent coordinates"):
        GeneratorConfig(resolution=16, z_dim=1, output_shift=0.1)
