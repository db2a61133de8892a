"""The README's test command is the one CI runs, and it sets up a fresh clone by itself.

- README.md shows exactly one test command, ``scripts/test.sh``, and ``.ci/run`` runs that same
  line (and runs no pytest or set-up of its own, so the two cannot drift);
- from a fresh clone of HEAD, that command as written, with pytest told only to collect, installs
  the package and collects the whole suite: a test file that imports something the set-up does
  not provide, or a file the repository does not track, fails here.

The clone gets its own virtual environment (seeing this interpreter's packages, offline), so the
editable install of the working copy is left as it is.
"""

import os
import re
import shlex
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = "scripts/test.sh"
FENCE = re.compile(r"^\s*(```|~~~)")


def shell_lines_of_readme(text: str) -> list[str]:
    """Every line of the README's fenced code blocks, joined across trailing backslashes."""
    lines, in_fence, pending = [], False, ""
    for line in text.split("\n"):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            pending += line.rstrip()
            if pending.endswith("\\"):
                pending = pending[:-1] + " "
                continue
            lines.append(pending.strip())
            pending = ""
    return lines


def readme_test_commands(readme: str) -> list[str]:
    return [line for line in shell_lines_of_readme(readme) if SCRIPT in line or "pytest" in line]


def ci_commands(ci: str) -> list[str]:
    return [line.strip() for line in ci.split("\n") if line.strip() and not line.lstrip().startswith("#")]


def test_the_readme_and_ci_share_one_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_test_commands(readme) == [SCRIPT], "README.md must show the test command as exactly `scripts/test.sh`"
    ci = ci_commands((ROOT / ".ci" / "run").read_text(encoding="utf-8"))
    assert SCRIPT in ci, ".ci/run must run the README's test command, `scripts/test.sh`, as a line of its own"
    for line in ci:
        if line != SCRIPT:
            assert "pytest" not in line and "apt-get" not in line and ".[test" not in line, (
                f".ci/run sets up or runs the tests itself ({line!r}): that belongs in {SCRIPT}")
    assert os.access(ROOT / SCRIPT, os.X_OK)


def _venv_seeing_these_packages(folder: Path) -> Path:
    """A virtual environment whose `python` and `pip` see this interpreter's packages."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    bin_dir = folder / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    outer = [p for p in site.getsitepackages() + [site.getusersitepackages()] if Path(p).is_dir()]
    # Sorted after the clone's own editable install, so the clone's sources come first.
    (Path(purelib) / "zz_outer_site_packages.pth").write_text(
        "import site; " + "; ".join(f"site.addsitedir({p!r})" for p in outer) + "\n")
    (bin_dir / "pip").write_text(f'#!/bin/sh\nexec "{python}" -m pip "$@"\n')
    (bin_dir / "pip").chmod(0o755)
    return bin_dir


@pytest.mark.slow
def test_the_readme_command_sets_up_a_fresh_clone(tmp_path):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{ROOT}", str(clone)], check=True, timeout=120)

    readme = (clone / "README.md").read_text(encoding="utf-8")
    commands = readme_test_commands(readme)
    assert commands == [SCRIPT], f"README.md at HEAD shows {commands}, not `{SCRIPT}`"
    assert SCRIPT in ci_commands((clone / ".ci" / "run").read_text(encoding="utf-8"))
    assert os.access(clone / SCRIPT, os.X_OK), f"{SCRIPT} is not executable in a fresh clone"

    bin_dir = _venv_seeing_these_packages(tmp_path / "venv")
    outer = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH"))}  # not this run's
    env = {**outer, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           # offline: everything the suite needs is installed already; a build uses the setuptools here
           "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
           # never apt-get from inside the suite: the outer run of the script has done that
           "GANBLOCKS_NO_APT": "1"}
    r = subprocess.run([*shlex.split(commands[0]), "-n", "0", "--collect-only", "-q"], cwd=clone, env=env,
                       capture_output=True, text=True, timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    collected = re.search(r"(\d+) tests? collected", out)
    assert collected and int(collected[1]) > 100, out[-4000:]
    assert "error" not in out.split("tests collected")[-1].lower(), out[-4000:]

    where = subprocess.run([str(bin_dir / "python"), "-c", "import ganblocks; print(ganblocks.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert Path(where.stdout.strip()).resolve().is_relative_to(clone.resolve()), where.stdout + where.stderr
