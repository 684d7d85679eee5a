"""`make bench` (bench/run.py): one command writes every section of docs/benchmarks.md, rewrites each in
place, and stops what a part started, whether it ends, fails or hangs. No figure is asserted here: the
figures are the benches' to measure (docs/benchmarks.md)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from bench import markdown, run
from tests.conftest import ROOT


def test_a_section_is_rewritten_where_it_stands_and_the_others_are_left_alone(tmp_path):
    doc = tmp_path / "b.markdown"  # a temporary file, not a document of the repository
    doc.write_text("# B\n\nintro\n\n## A (`a`)\n\na\n\n## B (`b`)\n\nold b\n\n## C\n\nc\n")
    markdown.replace_section(doc, "## B", "## B (`b`)\n\nnew b\n")
    markdown.replace_section(doc, "## D", "## D\n\nd\n")
    assert doc.read_text() == (
        "# B\n\nintro\n\n## A (`a`)\n\na\n\n## B (`b`)\n\nnew b\n\n## C\n\nc\n\n## D\n\nd\n"
    )


def test_every_section_of_the_benchmarks_document_is_written_by_a_part_of_make_bench():
    """A section no part writes would keep a figure that no `make bench` produces."""
    headings = re.findall(r"^## (.+)$", (ROOT / "docs" / "benchmarks.md").read_text(), re.M)
    writers = {
        "package": "",  # writes none: builds the zips the cold start section sizes
        "api": "bench/api_cost.py",
        "cold-start": "bench/cold_start.py",
        "footprint": "bench/footprint.py",
        "sweep": "bench/sweep.py",
        "schemathesis": "tests/integration/test_schemathesis.py",
        "load": "bench/load.py",
        "test-loop": "bench/test_loop.py",
    }
    assert [p.name for p in run.parts()] == list(writers)
    code = "".join((ROOT / path).read_text() for path in writers.values() if path)
    code += (ROOT / "bench" / "run.py").read_text()
    for heading in headings:
        title = heading.split(" (")[0]
        assert f'"## {title}' in code, f"no part of `make bench` writes the section {heading!r}"


def test_a_part_that_hangs_is_stopped_with_every_process_it_started(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "LOGS", tmp_path)
    pid_file = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "print('started', flush=True)\n"
        "time.sleep(120)\n"
    )
    part = run.Part("hang", [sys.executable, "-c", script], "nothing")
    status, seconds = run.run_part(part, timeout=3)
    assert status == "stopped after 3 s" and seconds < 60
    assert "started" in (tmp_path / "hang.log").read_text()
    child = int(pid_file.read_text())
    for _ in range(50):  # its grandchild went with its process group
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the hung part's child process is still running")


def test_a_failing_part_is_reported_and_the_run_section_says_which(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "LOGS", tmp_path)
    failing = run.Part("api", [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"], "X")
    passing = run.Part("sweep", [sys.executable, "-c", "print('fine')"], "Y")
    results = [(p, *run.run_part(p, timeout=60)) for p in (failing, passing)]
    assert [status for _, status, _ in results] == [3, 0]
    from datetime import UTC, datetime

    text = run.section(results, datetime.now(UTC), 12.0, (1.0, 2.0))
    assert text.startswith(run.HEADING)
    assert "| api | `python -c" in text and "**failed** (exit 3)" in text
    assert "Failed this run: api" in text


def test_the_local_stack_file_moves_with_local_stack_file(tmp_path):
    """bench/load.py's own stack describes itself apart, so a developer's .local/stack.json is untouched."""
    where = tmp_path / "stack.json"
    script = "from infra.local import console, env; print(env.STACK_FILE); print(console.CONFIG_FILE)"
    shown = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "LOCAL_STACK_FILE": str(where)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert shown == [str(where), str(tmp_path / "console-config.json")]
