"""MkDocs hook: a docs page can show a Markdown file from elsewhere in the repository.

A page line of the form ``--8<-- "examples/stylegan_t/README.md"`` (a ``.md`` path from the
repository root) is replaced by that file's text before the Markdown extensions run, with the
file's relative links rebased so that they work from the page:

- a link into the docs folder points at that docs page (anchors kept);
- a link to any other file of the repository points at the file on the repository's site;
- a link that resolves to no file is left as written, so that the strict build reports it.

The file therefore reads the same on the repository's site and in the docs. Other snippet lines
(source files, sections of them) are left to ``pymdownx.snippets``.
"""

import os
import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

INCLUDE = re.compile(r'^--8<-- "([^"]+\.md)"[ \t]*$', re.MULTILINE)
LINK = re.compile(r'(!?\[[^\]\n]*\]\()([^)\s]+)((?:\s+"[^"\n]*")?\))')
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+[^`\n]*`+)")


def rebase_link(target: str, source_dir: Path, page_dir: Path, docs_dir: Path, root: Path,
                repo_url: str | None) -> str:
    """The link ``target``, written in a file of ``source_dir``, as seen from a page in ``page_dir``."""
    if target.startswith(("#", "/")) or SCHEME.match(target):
        return target
    path, hash_, anchor = target.partition("#")
    resolved = (source_dir / path).resolve()
    if not resolved.exists():
        return target
    if resolved.is_relative_to(docs_dir):
        new = Path(os.path.relpath(resolved, page_dir)).as_posix()
    elif resolved.is_relative_to(root) and repo_url:
        new = f"{repo_url.rstrip('/')}/blob/main/{resolved.relative_to(root).as_posix()}"
    else:
        return target
    return new + hash_ + anchor


def rebase_links(markdown: str, rebase: Any) -> str:
    """Apply ``rebase`` to every inline link and image target outside code blocks and spans."""
    out, in_fence = [], False
    for line in markdown.split("\n"):
        if FENCE.match(line):
            in_fence = not in_fence
        if not in_fence and "](" in line:
            parts = CODE_SPAN.split(line)
            line = "".join(part if i % 2 else LINK.sub(lambda m: m[1] + rebase(m[2]) + m[3], part)
                           for i, part in enumerate(parts))
        out.append(line)
    return "\n".join(out)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace every whole-line ``--8<-- "file.md"`` by that file, its links rebased."""
    root = Path(config["config_file_path"]).resolve().parent
    docs_dir = Path(config["docs_dir"]).resolve()
    page_dir = (docs_dir / page.file.src_uri).parent

    def include(match: re.Match) -> str:
        source = (root / match[1]).resolve()
        if not source.is_file():
            raise PluginError(f"{page.file.src_uri} includes {match[1]}, which does not exist")
        text = source.read_text(encoding="utf-8")
        return rebase_links(text, lambda t: rebase_link(t, source.parent, page_dir, docs_dir, root,
                                                        config.get("repo_url")))

    return INCLUDE.sub(include, markdown)
