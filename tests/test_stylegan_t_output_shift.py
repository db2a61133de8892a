"""The StyleGAN-T example's latent-driven output shift: trained with, saved into the generator's
architecture, and refused when out of range."""

from pathlib import Path

import pytest
import torch

from t2i_helpers import PROMPTS
from train_helpers import train_here


def test_a_run_trains_and_saves_the_generator_with_its_output_shift(tmp_path: Path) -> None:
    from ganblocks import TextToImageGenerator, translate

    out = tmp_path / "run"
    train_here("--output-shift", "0.02", "--steps", "1", "--out", str(out))
    G = TextToImageGenerator.from_pretrained(out)
    assert G.config.output_shift == 0.02
    with torch.no_grad():
        z = torch.randn(len(PROMPTS), G.z_dim, generator=torch.Generator().manual_seed(0))
        c = G.encode(PROMPTS)
        w = G.mapping(torch.cat([torch.zeros_like(z[:, :2]), z[:, 2:]], dim=1), c.embedding)
        inner = G.synthesis(w, tokens=c.tokens, mask=c.mask, noise_mode="const")
        torch.testing.assert_close(G(z, c, noise_mode="const"), translate(inner, 0.02 * z[:, :2]))


@pytest.mark.parametrize("value", ["-0.1", "1"])
def test_a_shift_out_of_range_is_refused_before_anything_is_written(tmp_path: Path, value: str) -> None:
    with pytest.raises(SystemExit) as err:
        train_here("--output-shift", value, "--steps", "1", "--out", str(tmp_path / "bad"))
    assert err.value.code == 2
    assert not (tmp_path / "bad").exists()
