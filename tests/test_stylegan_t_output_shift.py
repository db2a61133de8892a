"""The StyleGAN-T example's latent-driven input and output shifts: trained with, saved into the generator's
architecture, and refused when out of range."""

from pathlib import Path

import pytest
import torch

from t2i_helpers import PROMPTS, SEEDS
from train_helpers import train_here


def test_a_run_trains_and_saves_the_generator_with_its_input_shift(tmp_path: Path) -> None:
    from ganblocks import TextToImageGenerator

    out = tmp_path / "run"
    train_here("--g-input-shift", "0.05", "--steps", "1", "--out", str(out))
    G = TextToImageGenerator.from_pretrained(out)
    assert G.config.input_shift == 0.05
    # the loaded generator shifts its input: the same weights without the shift draw otherwise
    with torch.no_grad():
        z = torch.randn(len(PROMPTS), G.z_dim, generator=torch.Generator().manual_seed(0))
        c = G.encode(PROMPTS)
        w = G.mapping(torch.cat([torch.zeros_like(z[:, :2]), z[:, 2:]], dim=1), c.embedding)
        unshifted = G.synthesis(w, tokens=c.tokens, mask=c.mask, noise_mode="const")
        shifted = G(z, c, noise_mode="const")
    assert not torch.allclose(shifted, unshifted)
    assert torch.equal(G.generate(PROMPTS, SEEDS), G.generate(PROMPTS, SEEDS))


def test_a_run_trains_and_saves_the_generator_with_its_output_shift(tmp_path: Path) -> None:
    from ganblocks import TextToImageGenerator, translate

    out = tmp_path / "run"
    train_here("--g-output-shift", "0.02", "--steps", "1", "--out", str(out))
    G = TextToImageGenerator.from_pretrained(out)
    assert (G.config.output_shift, G.config.input_shift) == (0.02, 0.0)
    with torch.no_grad():
        z = torch.randn(len(PROMPTS), G.z_dim, generator=torch.Generator().manual_seed(0))
        c = G.encode(PROMPTS)
        w = G.mapping(torch.cat([torch.zeros_like(z[:, :2]), z[:, 2:]], dim=1), c.embedding)
        inner = G.synthesis(w, tokens=c.tokens, mask=c.mask, noise_mode="const")
        torch.testing.assert_close(G(z, c, noise_mode="const"), translate(inner, 0.02 * z[:, :2]))


@pytest.mark.parametrize("flag", ["--g-input-shift", "--g-output-shift"])
@pytest.mark.parametrize("value", ["-0.1", "1"])
def test_a_shift_out_of_range_is_refused_before_anything_is_written(tmp_path: Path, flag: str, value: str) -> None:
    with pytest.raises(SystemExit) as err:
        train_here(flag, value, "--steps", "1", "--out", str(tmp_path / "bad"))
    assert err.value.code == 2
    assert not (tmp_path / "bad").exists()
