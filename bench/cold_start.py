"""`make bench-cold-start`: how much a Lambda cold start pays to import the app, against a baseline.

Each measurement is a fresh interpreter that imports the module (`import app`) and reports the import
time (time.perf_counter around the import) and the process's whole wall time. The baseline is
bench/minimal_app/app.py, a one-model, one-route Chalice + PynamoDB app, measured alternately in the
same run so both see the same machine state. Median of BENCH_COLD_RUNS (default 7) after one warm-up
each. Target: app / minimal import time <= 1.3. `-X importtime` then says where the app's time goes
(self time summed per top-level package), and the size of the Lambda zip of the last `make package`
(out/deployment.zip) is reported with its biggest top-level entries. Writes docs/benchmarks.md.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MINIMAL = ROOT / "bench" / "minimal_app"
PROBE = "import time; t = time.perf_counter(); import app; print(time.perf_counter() - t)"
# what the first request adds before it can reach DynamoDB: a botocore session and client
FIRST_CLIENT = (
    "import time; t = time.perf_counter(); import app; import botocore.session; "
    "botocore.session.get_session().create_client('dynamodb', region_name='ap-southeast-1', "
    "aws_access_key_id='x', aws_secret_access_key='x'); print(time.perf_counter() - t)"
)


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.setdefault("AWS_DEFAULT_REGION", "ap-southeast-1")
    return env


def measure(directory: Path, probe: str = PROBE) -> tuple[float, float]:
    """(seconds `probe` reports, whole process seconds) in a fresh interpreter in `directory`."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=directory, env=_env(), capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1]), time.perf_counter() - started


def import_profile(directory: Path, top: int = 8) -> list[tuple[str, float]]:
    """Self import time summed per top-level package (`-X importtime`), biggest first, in ms."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app"],
        cwd=directory,
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    per_package: Counter = Counter()
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line.removeprefix("import time:").split("|")
        if not parts[0].strip().isdigit():
            continue  # the header line
        name = parts[2].strip().split(".")[0]
        per_package[name] += int(parts[0]) / 1000
    return per_package.most_common(top)


def zip_report(path: Path, top: int = 6) -> dict | None:
    if not path.is_file():
        return None
    sizes: Counter = Counter()
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            root = info.filename.split("/")[0]
            if root.endswith(".dist-info"):
                root = "*.dist-info"
            sizes[root] += info.compress_size
    return {
        "bytes": path.stat().st_size,
        "built": datetime.fromtimestamp(path.stat().st_mtime, UTC),
        "biggest": sizes.most_common(top),
    }


def main() -> None:
    from bench.sweep import replace_section

    runs = int(os.environ.get("BENCH_COLD_RUNS", "7"))
    measure(ROOT)  # warm-up: disk cache, .pyc files
    measure(MINIMAL)
    app_runs, minimal_runs, app_client, minimal_client = [], [], [], []
    for n in range(runs):
        app_runs.append(measure(ROOT))
        minimal_runs.append(measure(MINIMAL))
        app_client.append(measure(ROOT, FIRST_CLIENT)[0])
        minimal_client.append(measure(MINIMAL, FIRST_CLIENT)[0])
        app_ms, minimal_ms = app_runs[-1][0] * 1000, minimal_runs[-1][0] * 1000
        print(f"run {n + 1}/{runs}: app {app_ms:.0f} ms, minimal {minimal_ms:.0f} ms", flush=True)
    app_import = statistics.median(r[0] for r in app_runs)
    app_process = statistics.median(r[1] for r in app_runs)
    minimal_import = statistics.median(r[0] for r in minimal_runs)
    minimal_process = statistics.median(r[1] for r in minimal_runs)
    ratio = app_import / minimal_import
    app_first, minimal_first = statistics.median(app_client), statistics.median(minimal_client)
    profile = import_profile(ROOT)
    package = zip_report(ROOT / "out" / "deployment.zip")

    lines = [
        "## Cold start (`make bench-cold-start`)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}: `import app` in a fresh interpreter, median of {runs} runs each, "
        "the real app and bench/minimal_app (one Chalice route, one PynamoDB model) alternately.",
        "",
        "| app | import | whole process | import + first DynamoDB client |",
        "|---|---:|---:|---:|",
        f"| app.py | {app_import * 1000:.0f} ms | {app_process * 1000:.0f} ms | {app_first * 1000:.0f} ms |",
        f"| bench/minimal_app | {minimal_import * 1000:.0f} ms | {minimal_process * 1000:.0f} ms "
        f"| {minimal_first * 1000:.0f} ms |",
        "",
        f"Import ratio {ratio:.2f} (target <= 1.3); with the botocore client the first request creates "
        f"anyway: {app_first / minimal_first:.2f}. The app imports `pynamodb.transactions`, which loads "
        "botocore's HTTP stack (urllib3) at import; the minimal app loads it with its first client.",
        "",
        "Where app.py's import time goes (`-X importtime`, self time per top-level package): "
        + ", ".join(f"{name} {ms:.0f} ms" for name, ms in profile)
        + ". chalicelib's own time is mostly its ~30 pydantic body models being built at import "
        "(`ConfigDict(defer_build=True)` would move each to its first request).",
        "",
    ]
    if package is None:
        lines.append("Lambda zip: out/deployment.zip is absent (run `make package`).")
    else:
        lines.append(
            f"Lambda zip (out/deployment.zip of `make package`, built {package['built']:%Y-%m-%d}): "
            f"{package['bytes'] / 1024 / 1024:.1f} MiB; biggest entries (compressed): "
            + ", ".join(f"{name} {size / 1024 / 1024:.1f} MiB" for name, size in package["biggest"])
            + "."
        )
    lines.append("")
    text = "\n".join(lines)
    print(text)
    replace_section(ROOT / "docs" / "benchmarks.md", "## Cold start", text)


if __name__ == "__main__":
    main()
