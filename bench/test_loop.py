"""`make bench` (its test-loop part): what the everyday loop costs, measured, not remembered.

- `make check` itself (ruff, the unit tier, the service tier), run once through make: wall time, CPU time
  (user + sys of every process it starts, from getrusage of the waited-for children: on a loaded, shared
  machine the wall time overstates what a quiet one takes, the CPU time does not), tests passed;
- in the same run (PYTEST_ADDOPTS adds `--durations=0 --durations-min=0`), each integration test's setup
  time: the `stack` fixture restoring the provisioned moto from its snapshot (tests/moto_snapshot.py),
  median and 90th percentile, and the largest, the process's one provisioning;
- the suite's tests per tier (pytest's markers unit, integration, e2e, browser, schemathesis), from one
  `pytest --collect-only` with this module as a plugin.

The whole suite (`make test`) is not run here: its e2e and browser tiers start a stack on the default ports
(5000, 8000), which a benchmark must not take from a developer; pytest prints its own time at the end of
every `make test`. Writes the "## The test loop" section of docs/benchmarks.md.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HEADING = "## The test loop (`make check`, `make test`)"
TIERS = ("unit", "integration", "e2e", "browser", "schemathesis")
COUNTS = "BENCH-TIER-COUNTS "
PLUGIN = "bench.test_loop"  # this module, as pytest's plugin (run as a script, its __name__ is __main__)
DURATION = re.compile(r"^([\d.]+)s (setup|call|teardown)\s+(\S+)", re.M)


# --- the plugin: `pytest --collect-only -p bench.test_loop` prints the tests per tier --------------------


def pytest_collection_finish(session) -> None:
    counts = Counter()
    for item in session.items:
        for tier in TIERS:
            if item.get_closest_marker(tier):
                counts[tier] += 1
    counts["all"] = len(session.items)
    print(COUNTS + json.dumps(counts), flush=True)


# --- the measurement --------------------------------------------------------------------------------------


def timed(command: list[str], env: dict | None = None) -> tuple[str, int, float, float]:
    """(output, exit status, wall seconds, CPU seconds of every process it started)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run(
        command, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True, check=False
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc.stdout + proc.stderr, proc.returncode, wall, cpu


def make_check() -> dict:
    make = os.environ.get("MAKE", "make")
    load_before = os.getloadavg()[0]
    output, status, wall, cpu = timed(
        [make, "--no-print-directory", "check"], {"PYTEST_ADDOPTS": "--durations=0 --durations-min=0"}
    )
    if status != 0:
        print(output[-5000:])
        raise SystemExit(f"make check failed (exit {status}): no figures written")
    summary = re.findall(r"(\d+) passed[^\n]* in ([\d.]+)s", output)
    passed, pytest_seconds = (int(summary[-1][0]), float(summary[-1][1])) if summary else (0, 0.0)
    setups = [
        float(seconds)
        for seconds, phase, node in DURATION.findall(output)
        if phase == "setup" and node.startswith("tests/integration/")
    ]
    return {
        "wall": wall,
        "cpu": cpu,
        "passed": passed,
        "pytest_seconds": pytest_seconds,
        "setups": sorted(setups),
        "load": (load_before, os.getloadavg()[0]),
    }


def tier_counts() -> dict:
    output, status, wall, _ = timed(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-p", PLUGIN]
    )
    found = [line for line in output.splitlines() if line.startswith(COUNTS)]
    if status != 0 or not found:
        print(output[-5000:])
        raise SystemExit(f"pytest --collect-only failed (exit {status})")
    counts = json.loads(found[-1][len(COUNTS) :])
    counts["seconds"] = wall
    return counts


def percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(fraction * len(values)))] if values else 0.0


def render(check: dict, counts: dict) -> str:
    import pytest

    try:
        import xdist

        xdist_version = f", pytest-xdist {xdist.__version__}"
    except ImportError:
        xdist_version = ""
    setups = check["setups"]
    restores = setups[:-1] or setups  # the largest is the process's one provisioning
    tiers = ", ".join(f"{tier} {counts.get(tier, 0):,}" for tier in TIERS)
    median = 1000 * statistics.median(restores) if restores else 0.0
    return "\n".join(
        [
            HEADING,
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, pytest {pytest.__version__}{xdist_version} (bench/test_loop.py, a "
            f"part of `make bench`); the machine's 1-minute load average {check['load'][0]:.1f} before "
            f"`make check` and {check['load'][1]:.1f} after. Wall times on a shared machine overstate what a "
            "quiet one takes; CPU time (user + sys of every process the command starts) is what a "
            "single-process run comes to on a quiet machine.",
            "",
            "| what | figure |",
            "|---|---:|",
            f"| `make check` (ruff, the unit tier, the service tier), tests passed | {check['passed']:,} |",
            f"| `make check`, CPU time | **{check['cpu']:.1f} s** |",
            f"| `make check`, wall time (pytest's own: {check['pytest_seconds']:.1f} s) "
            f"| {check['wall']:.1f} s |",
            f"| an integration test's `stack` fixture (moto restored from its snapshot), median / p90 "
            f"over {len(restores):,} tests | {median:.0f} ms / {1000 * percentile(restores, 0.9):.0f} ms |",
            f"| the process's one provisioning of moto (the largest setup) | "
            f"{(setups[-1] if setups else 0):.2f} s |",
            f"| tests in the suite (`pytest --collect-only`, {counts['seconds']:.0f} s) "
            f"| {counts['all']:,} |",
            "",
            f"Tests per tier (pytest markers; the schemathesis tests are integration tests too): {tiers}. "
            "`make test` runs them all on `WORKERS` xdist workers "
            "(the e2e and browser tiers, which share one local stack on the default ports, on one worker); "
            "it is not run here, because those tiers take the default ports, and pytest prints its own "
            "time at the end of every `make test` (and of CI's `.ci/run`).",
            "",
            "How: `make check` runs once through make with `PYTEST_ADDOPTS=--durations=0 --durations-min=0`; "
            "the CPU time is getrusage's children's user + sys around it; the fixture figures are the "
            "`setup` durations pytest reports for the tests under tests/integration/ in that run.",
            "",
            "What keeps it fast: the integration tier provisions moto once per process and restores a deep "
            "copy of moto's backends before each test (tests/moto_snapshot.py) instead of provisioning a "
            "fresh stack per test (what the largest setup above costs); the root conftest sets the "
            "environment only (moto, the app and the contract check load with the integration/e2e/browser "
            "conftests: tests/stack_env.py); "
            "`make check` runs in one process, which on a loaded 2-core machine costs less than `-n 2`; "
            "`make test` keeps the e2e and browser tiers on one worker and modules that build their world "
            "once (module-scoped fixtures) whole, by the project's own xdist scheduler (tests/conftest.py).",
            "",
        ]
    )


def main() -> int:
    from bench.markdown import replace_section

    check = make_check()
    counts = tier_counts()
    text = render(check, counts)
    print(text)
    replace_section(ROOT / "docs" / "benchmarks.md", HEADING, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
