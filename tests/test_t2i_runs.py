"""Generators out of the example's training runs: the same network as the example's own loader,
with the run's training information and scores for the model card."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ganblocks import TextToImageGenerator
from t2i_helpers import EXAMPLE, PROMPTS, SEEDS, fake_run, run_config


def _same(a: TextToImageGenerator, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert torch.equal(a.generate(PROMPTS, SEEDS, truncation_psi=0.5), b.generate(PROMPTS, SEEDS, truncation_psi=0.5))


def test_from_run_equals_the_examples_load_generator(tmp_path: Path) -> None:
    from generate import load_generator

    run = fake_run(tmp_path / "run", steps=(2, 4), final_eval={"all_correct": 0.5, "notes": ["x"]})
    G = TextToImageGenerator.from_run(run)
    G_example, cfg = load_generator(run)
    _same(G, G_example)
    assert cfg.resolution == G.resolution == 32
    info = G.training_info
    assert info["step"] == 4 and info["kimg"] == 4 * cfg.batch / 1000 and info["preset"] == "shapes"
    assert info["data"].startswith("ShapesT2I") and info["scores"] == {"all_correct": 0.5}
    assert info["text_encoder_weights"].startswith("random")


def test_an_older_checkpoint_loads_its_own_weights_without_the_final_scores(tmp_path: Path) -> None:
    run = fake_run(tmp_path / "run", steps=(2, 4), final_eval={"all_correct": 0.5})
    older = run / "checkpoints" / "step-000000002"
    G2, G4 = TextToImageGenerator.from_run(older), TextToImageGenerator.from_run(run)
    assert not torch.equal(G2.generate(PROMPTS, SEEDS), G4.generate(PROMPTS, SEEDS))
    assert G2.training_info["step"] == 2 and "scores" not in G2.training_info
    assert not torch.equal(TextToImageGenerator.from_run(run, network="G").generate(PROMPTS, SEEDS),
                           G4.generate(PROMPTS, SEEDS))


def test_run_folders_from_before_later_config_fields_still_load(tmp_path: Path) -> None:
    from config import ADDED_FIELDS
    from generate import load_generator

    cfg = run_config(**ADDED_FIELDS)  # what a run folder from before the fields existed was trained with
    old = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ADDED_FIELDS}
    run = fake_run(tmp_path / "old", cfg, config_dict=old)
    _same(TextToImageGenerator.from_run(run), load_generator(run)[0])


def test_bad_run_folders_name_the_path_and_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'nope'}: no such folder; expected a training run folder"):
        TextToImageGenerator.from_run(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match=f"{tmp_path} holds no readable checkpoint.*expected a training run"):
        TextToImageGenerator.from_run(tmp_path)
    run = fake_run(tmp_path / "run")
    with pytest.raises(ValueError, match="cannot load the generator 'G_missing'"):
        TextToImageGenerator.from_run(run, network="G_missing")


@pytest.mark.slow
def test_a_trained_run_exports_and_loads_from_any_script(tmp_path: Path) -> None:
    import train_helpers

    train_helpers.run("--steps", "2", "--out", str(tmp_path / "run"))
    (tmp_path / "run" / "final_eval.json").write_text(json.dumps({"all_correct": 0.125}))
    from generate import load_generator

    G = TextToImageGenerator.from_run(tmp_path / "run")
    _same(G, load_generator(tmp_path / "run")[0])
    _same(G, TextToImageGenerator.from_pretrained(tmp_path / "run"))  # as the README loads a run
    r = subprocess.run([sys.executable, str(EXAMPLE / "generate.py"), "--checkpoint", str(tmp_path / "run"),
                        "--export-model", str(tmp_path / "model")], env=train_helpers.env(),
                       capture_output=True, text=True, check=True)
    assert "from_pretrained" in r.stdout
    assert "| all_correct | 0.125 |" in (tmp_path / "model" / "README.md").read_text()
    # a user's script: no example folder on sys.path, only the library
    script = ("import sys, torch; from ganblocks import TextToImageGenerator, save_grid; "
              "G = TextToImageGenerator.from_pretrained(sys.argv[1]); "
              f"x = G.generate({PROMPTS!r}, {SEEDS!r}, truncation_psi=0.5); "
              "torch.save(x, sys.argv[2]); save_grid(x, sys.argv[3]); "
              "assert not any('stylegan_t' in p for p in sys.path)")
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "model"), str(tmp_path / "x.pt"),
                    str(tmp_path / "grid.png")], env=train_helpers.env(), check=True, cwd=tmp_path)
    assert torch.equal(torch.load(tmp_path / "x.pt"), G.generate(PROMPTS, SEEDS, truncation_psi=0.5))
    assert (tmp_path / "grid.png").is_file()


def test_export_in_float16_with_the_training_command_and_the_datas_prompts(tmp_path: Path, capsys) -> None:
    from safetensors import safe_open

    import generate
    from ganblocks.metrics import shapes_grid_captions

    run = fake_run(tmp_path / "run", final_eval={"seen/style": 0.5, "heldout/style": 0.25})
    generate.main(["--checkpoint", str(run), "--export-model", str(tmp_path / "model"), "--weights-dtype", "float16",
                   "--training-command", "python examples/stylegan_t/train.py --seed 3"])
    with safe_open(str(tmp_path / "model" / "model.safetensors"), "pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} <= {"F16", "I64", "BOOL"}
    G = TextToImageGenerator.from_pretrained(tmp_path / "model")
    assert G.training_info["command"] == "python examples/stylegan_t/train.py --seed 3"
    assert G.training_info["example_prompts"] == shapes_grid_captions()  # the run's data's grid captions
    card = (tmp_path / "model" / "README.md").read_text()
    assert "| training command | python examples/stylegan_t/train.py --seed 3 |" in card
    assert f'    "{shapes_grid_captions()[0]}",' in card and "| seen | 0.5 |" in card
    with pytest.raises(SystemExit) as info:
        generate.main(["--checkpoint", str(run), "--weights-dtype", "float16", "--prompt", "x"])
    assert info.value.code == 2 and "go with --export-model" in capsys.readouterr().err
