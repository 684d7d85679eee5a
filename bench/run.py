"""`make bench`: every figure of docs/benchmarks.md from one command, on a fresh clone with nothing running.

Runs the parts one after another (never two at once: each times something, and the machine is shared),
each in a process group of its own, its output to the terminal and to `.local/bench/<part>.log`:

    package       `make package`: the function and layer zips whose sizes the cold-start section records
    api           bench/api_cost.py: DynamoDB requests and request units per route and per lifecycle
    cold-start    bench/cold_start.py: the first request of three routes against bench/minimal_app
    footprint     bench/footprint.py: peak memory and time of each function's work
    sweep         bench/sweep.py: the storage sweep's reads and units against what is due (the slowest
                  part: about 35 min on a shared 2-core machine; BENCH_SIZES=10000,20000 for a quick look)
    schemathesis  tests/integration/test_schemathesis.py with SCHEMATHESIS_REPORT=1: the fuzzing counts
    load          bench/load.py --own-stack: a `make run` stack of its own on free loopback ports,
                  50 clients for 30 s, the stack stopped afterwards (bench/load.py `own_stack`)
    cost          bench/cost.py: docs/cost.md's figures from the sections above and the packaged template
    test-loop     bench/test_loop.py: `make check`'s wall and CPU time, the stack fixture's cost, the tests

Each part writes its own sections of docs/benchmarks.md in place (bench/markdown.py); this runner writes
"The run (`make bench`)": when, on what, how long each part took and whether it succeeded. A part that
fails does not stop the others (its sections keep their previous figures, and the run section says so);
the command then exits 1. Ctrl-C (or SIGTERM) stops the running part's whole process group, its stack
included, and the run.

Knobs (environment): BENCH_PARTS=api,sweep runs only those parts (the run section is then left alone);
BENCH_PART_TIMEOUT (seconds, default 3600) stops a part that hangs; the parts' own knobs pass through:
BENCH_REPEATS (api, sweep: 3), BENCH_SIZES (sweep: 10000,100000), BENCH_COLD_RUNS (9),
BENCH_COLD_NOPYC_RUNS (3), SCHEMATHESIS_MAX_EXAMPLES (15), CLIENTS (50) and DURATION (30) for the load.
The defaults produce every figure; smaller values make a quicker, noisier run.
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.markdown import replace_section  # noqa: E402

HEADING = "## The run (`make bench`)"
LOGS = ROOT / ".local" / "bench"
SCHEMATHESIS = "tests/integration/test_schemathesis.py"


@dataclass
class Part:
    name: str
    command: list[str]
    writes: str  # the sections of docs/benchmarks.md it writes
    env: dict[str, str] | None = None


def parts() -> list[Part]:
    python = sys.executable
    make = os.environ.get("MAKE", "make")
    clients = os.environ.get("CLIENTS", "50")
    seconds = os.environ.get("DURATION", "30")
    return [
        Part("package", [make, "--no-print-directory", "package"], "(the zips the cold-start section sizes)"),
        Part("api", [python, "bench/api_cost.py"], "DynamoDB requests per API call; Lifecycle cost"),
        Part("cold-start", [python, "bench/cold_start.py"], "Cold start"),
        Part("footprint", [python, "bench/footprint.py"], "Function footprint"),
        Part("sweep", [python, "bench/sweep.py"], "Storage sweep"),
        Part(
            "schemathesis",
            [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", SCHEMATHESIS],
            "API fuzzing",
            {"SCHEMATHESIS_REPORT": "1"},
        ),
        Part(
            "load",
            [python, "bench/load.py", "--own-stack", "--clients", clients, "--seconds", seconds],
            "Local load",
        ),
        Part("cost", [python, "bench/cost.py"], "docs/cost.md: The figures (from the sections above)"),
        Part("test-loop", [python, "bench/test_loop.py"], "The test loop"),
    ]


class Stopped(Exception):
    """Ctrl-C or SIGTERM: the run stops after the running part's process group is stopped."""


def _stop_group(proc: subprocess.Popen, grace: float = 60) -> None:
    """SIGINT to the part's whole process group (what Ctrl-C does: stacks stop cleanly), then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run_part(part: Part, timeout: float) -> tuple[int | str, float]:
    """(exit status or what stopped it, seconds); output to the terminal and the part's log."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log_path = LOGS / f"{part.name}.log"
    env = {**os.environ, **(part.env or {})}
    started = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            part.command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped whole (a stack's servers with it)
        )
        try:
            deadline = started + timeout
            assert proc.stdout is not None
            os.set_blocking(proc.stdout.fileno(), False)
            while True:
                chunk = proc.stdout.read()
                if chunk:
                    log.write(chunk)
                    sys.stdout.buffer.write(chunk)
                    sys.stdout.flush()
                if proc.poll() is not None:
                    rest = proc.stdout.read() or b""
                    log.write(rest)
                    sys.stdout.buffer.write(rest)
                    return proc.returncode, time.monotonic() - started
                if time.monotonic() > deadline:
                    _stop_group(proc)
                    return f"stopped after {timeout:.0f} s", time.monotonic() - started
                time.sleep(0.2)
        except BaseException:
            _stop_group(proc)
            raise


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def section(results: list[tuple[Part, int | str, float]], started: datetime, total: float, load) -> str:
    failed = [part.name for part, status, _ in results if status != 0]
    lines = [
        HEADING,
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}: `make bench` (bench/run.py) from a checkout with nothing running, "
        f"**{_minutes(total)}** in all; the machine's 1-minute load average {load[0]:.1f} before and "
        f"{load[1]:.1f} after (other work shares these cores). The parts run one after another, each in a "
        "process group of its own; every section below is the part's own, with how it was measured. The "
        "local load starts a `make run` stack of its own on free loopback ports and stops it afterwards.",
        "",
        "| part | command | writes | time | result |",
        "|---|---|---|---:|---|",
    ]
    for part, status, seconds in results:
        shown = ["python" if word == sys.executable else word for word in part.command]
        if part.name == "package":
            shown = ["make", "package"]
        command = " ".join([*(f"{k}={v}" for k, v in (part.env or {}).items()), *shown])
        result = "ok" if status == 0 else status
        if isinstance(status, int) and status != 0:
            result = f"**failed** (exit {status})"
        lines.append(f"| {part.name} | `{command}` | {part.writes} | {_minutes(seconds)} | {result} |")
    lines += [
        "",
        (
            f"Failed this run: {', '.join(failed)}; their sections keep the figures of an earlier run "
            "(see their dates)."
            if failed
            else "Every part succeeded: every figure below is from this run."
        ),
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    chosen = [p for p in os.environ.get("BENCH_PARTS", "").split(",") if p]
    every = parts()
    unknown = set(chosen) - {p.name for p in every}
    if unknown:
        names = ", ".join(p.name for p in every)
        raise SystemExit(f"BENCH_PARTS: no part {', '.join(sorted(unknown))} (the parts: {names})")
    todo = [p for p in every if not chosen or p.name in chosen]
    timeout = float(os.environ.get("BENCH_PART_TIMEOUT", "3600"))

    def stop(*_):
        raise Stopped

    signal.signal(signal.SIGTERM, stop)
    started, clock, load_before = datetime.now(UTC), time.monotonic(), os.getloadavg()[0]
    results = []
    try:
        for part in todo:
            print(f"\n=== make bench: {part.name} ({' '.join(part.command)})", flush=True)
            status, seconds = run_part(part, timeout)
            results.append((part, status, seconds))
            print(f"=== {part.name}: {'ok' if status == 0 else status} in {_minutes(seconds)}", flush=True)
    except (KeyboardInterrupt, Stopped):
        print("\nmake bench: stopped; the running part's processes were stopped", file=sys.stderr)
        return 130
    total = time.monotonic() - clock
    print("\n=== make bench:", _minutes(total))
    for part, status, seconds in results:
        print(f"  {part.name:13} {_minutes(seconds):>9}  {'ok' if status == 0 else status}")
    if not chosen:
        text = section(results, started, total, (load_before, os.getloadavg()[0]))
        replace_section(ROOT / "docs" / "benchmarks.md", HEADING, text)
    return 0 if all(status == 0 for _, status, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
