"""Stage 2 fine-tunes the text encoder of the EMA generator: the frozen mapping and synthesis keep
the average stage 1 ended with instead of drifting towards the last raw weights."""

from pathlib import Path

from train_helpers import differing, latest, tensors, train_here


def _frozen(folder: Path, name: str) -> dict:
    """The mapping's and synthesis network's tensors, but the running mean of MLP(z): with the
    mapping frozen it goes on estimating the same mean from each batch."""
    return {k.split("/", 1)[1]: v for k, v in tensors(folder, (name,)).items()
            if k.split("/", 1)[1].startswith(("mapping.", "synthesis.")) and not k.endswith("mapping.x_avg")}


def test_stage_2_keeps_the_ema_generator_and_trains_its_text_encoder(tmp_path: Path) -> None:
    stage1 = tmp_path / "stage1"
    train_here("--stage", "generator", "--steps", "3", "--out", str(stage1))
    before = latest(stage1)
    assert differing(_frozen(before, "G"), _frozen(before, "G_ema"))  # raw and average differ after stage 1
    out = tmp_path / "stage2"
    train_here("--stage", "text-encoder", "--resume", str(stage1), "--steps", "5", "--out", str(out))
    after = latest(out)
    # G and G_ema both hold stage 1's average, unchanged by two steps of stage 2
    assert differing(_frozen(after, "G"), _frozen(before, "G_ema")) == []
    assert differing(_frozen(after, "G_ema"), _frozen(before, "G_ema")) == []
    text = ("G_ema",)
    moved = [k for k in differing(tensors(after, text), tensors(before, text)) if "text_encoder" in k]
    assert moved  # the EMA text encoder follows the trained one


def test_the_stage_switch_of_a_whole_run_keeps_the_ema_generator(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train_here("--steps", "5", "--keep-checkpoints", "5", "--out", str(out))  # stage 2 from step 4
    steps = sorted((out / "checkpoints").glob("step-*"))
    at_switch, end = steps[-2], steps[-1]  # after steps 4 and 5: both in stage 2
    assert differing(_frozen(end, "G"), _frozen(end, "G_ema")) == []
    assert differing(_frozen(end, "G_ema"), _frozen(at_switch, "G_ema")) == []
