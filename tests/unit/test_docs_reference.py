"""The project's own documents are the reference: nothing in the repository points outside it (no
`../shared/...`, no absolute checkout path), every document a file names exists in the repository, and
every relative link of a Markdown document lands on a file that exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEXT = (".py", ".md", ".js", ".json", ".toml", ".txt", ".cfg", ".yml", ".yaml", ".html", ".css", ".mjs")
# a path that leaves the checkout: a parent directory's sibling, or a machine's absolute path
OUTSIDE = re.compile(r"\.\./(?:shared|seed)\b|/work/|ROOT\.parent\b|\bparents\[[3-9]\]")
# a Markdown document named in prose or code (`docs/x.md`, `design.md`)
DOCUMENT = re.compile(r"(?<![\w/.-])((?:[\w-]+/)*[\w-]+\.md)\b")
LINK = re.compile(r"\]\(([^)\s]+)\)")
THIS_FILE = Path(__file__).resolve()


def tracked() -> list[Path]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / name for name in listed.splitlines() if name.endswith(TEXT) and (ROOT / name).is_file()]


def test_no_file_points_outside_the_repository():
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in tracked()
        if path != THIS_FILE
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert found == []


def _exists(name: str) -> bool:
    return (ROOT / name).is_file() or (ROOT / "docs" / name).is_file()


def test_every_document_a_file_names_is_in_the_repository():
    found = [
        f"{path.relative_to(ROOT)}:{n}: {name}"
        for path in tracked()
        if path != THIS_FILE and "node_modules" not in path.parts
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        for name in DOCUMENT.findall(line)
        if not _exists(name) and not (path.parent / name).is_file()
    ]
    assert found == []


def test_every_relative_markdown_link_lands_on_a_file():
    broken = []
    for path in tracked():
        if path.suffix != ".md":
            continue
        for target in LINK.findall(path.read_text()):
            if re.match(r"^[a-z]+:|^#", target):
                continue
            resolved = (path.parent / target.split("#")[0]).resolve()
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                broken.append(f"{path.relative_to(ROOT)}: {target}")
    assert broken == []
