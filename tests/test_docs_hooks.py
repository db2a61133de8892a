"""The docs hook that shows a repository Markdown file on a docs page, its links rebased."""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("mkdocs")


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hooks = _hooks()
REPO = "https://example.org/owner/repo"


@pytest.fixture
def tree(tmp_path):
    """A repository with docs/, docs/api/page.md, tools/x.py and an example README."""
    (tmp_path / "docs" / "api").mkdir(parents=True)
    (tmp_path / "docs" / "api" / "page.md").write_text("# Page\n")
    (tmp_path / "docs" / "index.md").write_text("# Home\n")
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "x.py").write_text("")
    (tmp_path / "ex" / "demo").mkdir(parents=True)
    (tmp_path / "mkdocs.yml").write_text("")
    return tmp_path


def _rebase(tree, target, page="shown.md"):
    page_dir = (tree / "docs" / page).parent
    return hooks.rebase_link(target, tree / "ex" / "demo", page_dir, tree / "docs", tree, REPO)


def test_a_link_into_the_docs_points_at_the_docs_page_from_where_it_is_shown(tree):
    assert _rebase(tree, "../../docs/api/page.md#a-heading") == "api/page.md#a-heading"
    assert _rebase(tree, "../../docs/index.md", page="sub/shown.md") == "../index.md"


def test_a_link_to_another_repository_file_points_at_the_repository_site(tree):
    assert _rebase(tree, "../../tools/x.py") == f"{REPO}/blob/main/tools/x.py"


def test_missing_files_urls_and_anchors_are_left_as_written(tree):
    for target in ("../../docs/nope.md", "#local-heading", "https://a.b/c", "mailto:a@b.c", "/abs.md"):
        assert _rebase(tree, target) == target


def test_code_is_not_rewritten():
    text = "a [x](t) `[y](t)`\n```\n[z](t)\n```\n[w](t \"title\") ![i](t)"
    out = hooks.rebase_links(text, lambda t: "NEW")
    assert out == "a [x](NEW) `[y](t)`\n```\n[z](t)\n```\n[w](NEW \"title\") ![i](NEW)"


@given(st.text(alphabet=st.sampled_from(list("ab[]()#`\n ~!\"")), max_size=60))
def test_an_identity_rebase_changes_nothing(text):
    assert hooks.rebase_links(text, lambda t: t) == text


def _page(tree, text, src_uri="shown.md"):
    config = {"config_file_path": str(tree / "mkdocs.yml"), "docs_dir": str(tree / "docs"), "repo_url": REPO}
    return hooks.on_page_markdown(text, SimpleNamespace(file=SimpleNamespace(src_uri=src_uri)), config, None)


def test_a_page_shows_the_included_file_with_its_links_rebased(tree):
    (tree / "ex" / "demo" / "README.md").write_text("# Demo\n\nSee [p](../../docs/api/page.md#x).\n")
    out = _page(tree, 'Before\n--8<-- "ex/demo/README.md"\nAfter\n--8<-- "src/a.py:part"\n')
    assert out == 'Before\n# Demo\n\nSee [p](api/page.md#x).\n\nAfter\n--8<-- "src/a.py:part"\n'


def test_a_missing_included_file_fails_the_build_with_its_name(tree):
    from mkdocs.exceptions import PluginError

    with pytest.raises(PluginError, match="ex/missing.md"):
        _page(tree, '--8<-- "ex/missing.md"\n')
