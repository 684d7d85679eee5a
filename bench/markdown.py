"""How the benches write docs/benchmarks.md: each owns its `## ` sections and rewrites them in place."""

from __future__ import annotations

from pathlib import Path


def replace_section(path: Path, heading: str, text: str) -> None:
    """Replace one `## ` section of a markdown file where it stands (the first whose heading starts with
    `heading`), leaving the others and their order alone; a section not there yet is appended."""
    existing = (
        path.read_text()
        if path.exists()
        else "# Benchmarks\n\nEach section is written by its bench command.\n"
    )
    parts = existing.split("\n## ")
    head, sections = parts[0], ["## " + p for p in parts[1:]]
    at = next((n for n, s in enumerate(sections) if s.startswith(heading)), None)
    if at is None:
        sections.append(text)
    else:
        sections = sections[:at] + [text] + [s for s in sections[at + 1 :] if not s.startswith(heading)]
    path.write_text(head.rstrip() + "\n\n" + "\n".join(s.rstrip() + "\n" for s in sections))
