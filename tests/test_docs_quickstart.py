"""The quickstart of README.md and docs/index.md runs as written (a shipped model, or a run folder)."""

import re
from pathlib import Path

import pytest

from t2i_helpers import fake_run, run_config

ROOT = Path(__file__).resolve().parents[1]


def quickstart(path: Path) -> str:
    """The first python block under the page's 'Quickstart' heading."""
    text = path.read_text(encoding="utf-8")
    section = text.split("## Quickstart", 1)
    assert len(section) == 2, f"{path} has no '## Quickstart' section"
    match = re.search(r"```python\n(.*?)```", section[1], re.S)
    assert match, f"{path}: no python block in the Quickstart section"
    return match.group(1)


def test_readme_and_docs_home_show_the_same_short_quickstart() -> None:
    readme, home = quickstart(ROOT / "README.md"), quickstart(ROOT / "docs" / "index.md")
    assert readme == home
    assert len([line for line in readme.splitlines() if line.strip()]) <= 10


@pytest.mark.parametrize("page", ["README.md", "docs/index.md"])
def test_quickstart_runs(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ganblocks.t2i.saving import shipped_models

    code = quickstart(ROOT / page)
    name = re.search(r'from_pretrained\("([^"]+)"\)', code).group(1)
    if name not in shipped_models():  # a run folder: a small one stands in for it
        fake_run(tmp_path / name, run_config(resolution=32, channel_base=1024))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a shipped model loads from the package alone
    monkeypatch.chdir(tmp_path)
    exec(compile(code, page, "exec"), {"__name__": "quickstart"})
    from PIL import Image

    scale = int(re.search(r"scale=(\d+)", code).group(1)) if "scale=" in code else 1
    assert Image.open(tmp_path / "grid.png").size == ((2 * 34 + 2) * scale,) * 2  # 2 x 2 images of 32 px
