"""The docs and code stand on their own: every reference they make resolves inside the repository.

- no citation of documents or numbering that the repository does not contain (outside design
  notes, tracker numbers, folders of another checkout);
- every relative Markdown link, in the docs and in the READMEs read on the repository's site,
  names an existing file, and every anchor an existing heading of it (with the same slug on the
  repository's site and in the docs);
- every docs page is in the navigation, and every navigation entry is a page;
- the strict docs build fails on a broken link, a missing anchor or a page outside the
  navigation (the build itself runs in the slow test).
"""

import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TEXT_SUFFIXES = {".py", ".md", ".yml", ".yaml", ".toml", ".txt", ".cfg", ".ini"}
SKIP_PARTS = {"__pycache__", ".git", "site", "runs", ".hypothesis", ".pytest_cache"}

# References to things outside the repository. Written as pieces so this file does not match.
OUTSIDE_REFERENCES = {
    "an outside design document": re.compile(r"\b" + "SP" + r"EC\b"),
    "a tracker number": re.compile(r"\b" + "[Ii]ss" + r"ue\s*#?\d+"),
    "a folder of another checkout": re.compile(r"(?<![\w-])" + "sha" + r"red/"),
    "an outside notes file": re.compile("DEMO-" + "FINDINGS|" + "SHA" + r"PES\.md"),
    "a section number without its document": re.compile(r"(?<!paper's )(?<!paper )" + "\u00a7"),
}

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"`+[^`\n]*`+")
LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"\n]*\")?\)")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
ATTR_ID = re.compile(r"\{[^}]*#([\w.:-]+)[^}]*\}\s*$")
AUTODOC = re.compile(r"^:::\s+([\w.]+)", re.MULTILINE)
INCLUDE = re.compile(r'^--8<-- "([^"]+\.md)"\s*$', re.MULTILINE)   # see docs_hooks.py


def _files(suffixes: set[str]) -> list[Path]:
    """The project's text files with these suffixes: top-level files and the project folders."""
    found = [p for p in sorted(ROOT.iterdir()) if p.is_file() and p.suffix in suffixes]
    for top in ("src", "examples", "docs", "tests", "benchmarks"):
        for path in sorted((ROOT / top).rglob("*")):
            parts = path.relative_to(ROOT).parts
            if path.is_file() and path.suffix in suffixes and not SKIP_PARTS & set(parts) \
                    and not any(part.endswith(".egg-info") for part in parts):
                found.append(path)
    return found


def _markdown_files() -> list[Path]:
    return _files({".md"})


def _prose_lines(text: str):
    """(line number, line without code spans) of every line outside fenced code blocks."""
    in_fence = False
    for number, line in enumerate(text.split("\n"), 1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence:
            yield number, CODE_SPAN.sub("", line)


def _heading_text(raw: str) -> str:
    text = ATTR_ID.sub("", raw)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)   # links: their text
    return text.replace("`", "").replace("*", "")


def github_slug(text: str) -> str:
    """The anchor the repository's site gives a heading."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def mkdocs_slug(text: str) -> str:
    """The anchor the docs give a heading (Python-Markdown's toc slugify)."""
    value = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^\w\s-]", "", value).strip().lower()
    return re.sub(r"[-\s]+", "-", value)


def anchors(path: Path) -> set[str]:
    """Anchors of a Markdown file that both renderers agree on, explicit ids, API entries."""
    text = path.read_text(encoding="utf-8")
    found: set[str] = set()
    for _, line in _prose_lines(text):
        m = HEADING.match(line)
        if not m:
            continue
        explicit = ATTR_ID.search(m[2])
        if explicit:
            found.add(explicit[1])
            continue
        title = _heading_text(m[2])
        if github_slug(title) == mkdocs_slug(title):
            found.add(github_slug(title))
    for name in AUTODOC.findall(text):        # mkdocstrings: one anchor per documented object
        found.add(name)
    for included in INCLUDE.findall(text):    # a page that shows a file has that file's anchors
        found |= anchors(ROOT / included)
    return found


def links(path: Path) -> list[tuple[int, str]]:
    text = path.read_text(encoding="utf-8")
    out = []
    for number, line in _prose_lines(text):
        for m in LINK.finditer(line):
            out.append((number, m[1]))
    return out


def test_no_reference_points_outside_the_repository():
    me = Path(__file__).resolve()
    problems = []
    for path in _files(TEXT_SUFFIXES):
        if path.resolve() == me:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").split("\n"), 1):
            for what, pattern in OUTSIDE_REFERENCES.items():
                if pattern.search(line):
                    problems.append(f"{path.relative_to(ROOT)}:{number}: {what}: {line.strip()}")
    assert not problems, ("state the fact itself (or cite the paper) instead of a reference the "
                          "repository does not contain:\n" + "\n".join(problems))


def test_every_relative_link_names_an_existing_file_and_anchor():
    problems = []
    for path in _markdown_files():
        for number, target in links(path):
            where = f"{path.relative_to(ROOT)}:{number}: {target}"
            if SCHEME.match(target):
                continue
            if target.startswith("/"):
                problems.append(f"{where}: absolute link (write it relative to the file)")
                continue
            file_part, _, anchor = target.partition("#")
            dest = (path.parent / file_part).resolve() if file_part else path
            if not dest.exists():
                problems.append(f"{where}: no such file")
            elif not dest.is_relative_to(ROOT):
                problems.append(f"{where}: outside the repository")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                problems.append(f"{where}: {dest.relative_to(ROOT)} has no heading with this anchor "
                                "(or the site and the docs would give the heading different anchors)")
    assert not problems, "broken links:\n" + "\n".join(problems)


def _nav_pages(node) -> list[str]:
    if isinstance(node, str):
        return [node] if node.endswith(".md") else []
    if isinstance(node, list):
        return [p for item in node for p in _nav_pages(item)]
    if isinstance(node, dict):
        return [p for value in node.values() for p in _nav_pages(value)]
    return []


def _mkdocs_config() -> dict:
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))


def test_every_docs_page_is_in_the_navigation_and_every_entry_is_a_page():
    nav = _nav_pages(_mkdocs_config()["nav"])
    pages = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
    assert sorted(set(pages) - set(nav)) == [], "docs pages missing from nav in mkdocs.yml"
    assert sorted(set(nav) - set(pages)) == [], "nav entries in mkdocs.yml without a page"
    assert len(nav) == len(set(nav)), "a page appears twice in nav"


def test_the_strict_docs_build_treats_broken_links_and_stray_pages_as_errors():
    config = _mkdocs_config()
    assert config.get("strict") is True
    validation = config.get("validation") or {}
    for key in ("omitted_files", "not_found", "absolute_links", "unrecognized_links", "anchors"):
        assert validation.get(key) == "warn", f"mkdocs.yml validation.{key} must be 'warn'"


def test_slugs_agree_on_plain_headings_and_differ_where_a_link_would_break():
    assert github_slug("Where the demo stands") == mkdocs_slug("Where the demo stands") == "where-the-demo-stands"
    assert github_slug("History: earlier runs") == mkdocs_slug("History: earlier runs") == "history-earlier-runs"
    assert github_slug("a — b") != mkdocs_slug("a — b")  # such a heading is not a valid target


def _docs_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    copy.mkdir()
    for name in ("docs", "examples"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__", "runs"))
    for path in [ROOT / "mkdocs.yml", *ROOT.glob("*.py")]:
        shutil.copy(path, copy / path.name)
    (copy / "src").symlink_to(ROOT / "src", target_is_directory=True)
    return copy


def _build(copy: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    # Not -q: it hides the warnings, and strict mode then has none to count.
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(copy / "site")],
                          cwd=copy, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_the_strict_docs_build_passes_and_fails_on_a_broken_link(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    copy = _docs_copy(tmp_path)
    ok = _build(copy)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    readme = copy / "examples" / "stylegan_t" / "README.md"
    text = readme.read_text(encoding="utf-8")
    assert "(../../docs/api/data.md#shapest2i-scores)" in text
    readme.write_text(text.replace("(../../docs/api/data.md#shapest2i-scores)",
                                   "(../../docs/api/data.md#no-such-heading)", 1), encoding="utf-8")
    broken = _build(copy)
    assert broken.returncode != 0
    assert "no-such-heading" in broken.stdout + broken.stderr
