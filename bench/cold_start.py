"""`make bench-cold-start`: how much a Lambda cold start pays to import the app, against a baseline.

Each measurement is a fresh interpreter that imports the module (`import app`); the figure is the
process's whole wall time (interpreter start, imports, exit), which is what a cold start pays, with
the import alone (time.perf_counter around it) reported next to it. The baseline is
bench/minimal_app/app.py, a one-model, one-route Chalice + PynamoDB app. The two are measured in
alternating pairs (app, minimal) so both see the same machine state; the ratio is the median of the
per-pair ratios over BENCH_COLD_RUNS pairs (default 9) after one warm-up each. Target: <= 1.3.
Also: import + the first DynamoDB client, and import + the first request's route module (what the
first request adds now that route modules load lazily). `-X importtime` says where the app's time goes
(self time per top-level package). The sizes of the function zip and the layer zip of the last
`make package` (out/) are reported with their biggest entries. Writes docs/benchmarks.md.
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
# what the first request to POST /orders loads: its route module and everything it imports
FIRST_ROUTE = (
    "import time; t = time.perf_counter(); import app; from chalicelib import routing; "
    "routing.load(app.app, 'chalicelib.api.orders'); print(time.perf_counter() - t)"
)
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
            parts = info.filename.split("/")
            root = (
                parts[4] if parts[0] == "python" and len(parts) > 4 else parts[0]
            )  # a layer's site-packages
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

    runs = int(os.environ.get("BENCH_COLD_RUNS", "9"))
    measure(ROOT)  # warm-up: disk cache, .pyc files
    measure(MINIMAL)
    app_runs, minimal_runs, app_client, minimal_client, app_route = [], [], [], [], []
    for n in range(runs):
        app_runs.append(measure(ROOT))
        minimal_runs.append(measure(MINIMAL))
        app_client.append(measure(ROOT, FIRST_CLIENT)[0])
        minimal_client.append(measure(MINIMAL, FIRST_CLIENT)[0])
        app_route.append(measure(ROOT, FIRST_ROUTE)[0])
        app_ms, minimal_ms = app_runs[-1][1] * 1000, minimal_runs[-1][1] * 1000
        print(
            f"pair {n + 1}/{runs}: app {app_ms:.0f} ms, minimal {minimal_ms:.0f} ms (whole process)",
            flush=True,
        )
    app_import = statistics.median(r[0] for r in app_runs)
    app_process = statistics.median(r[1] for r in app_runs)
    minimal_import = statistics.median(r[0] for r in minimal_runs)
    minimal_process = statistics.median(r[1] for r in minimal_runs)
    ratio = statistics.median(a[1] / m[1] for a, m in zip(app_runs, minimal_runs, strict=True))
    import_ratio = statistics.median(a[0] / m[0] for a, m in zip(app_runs, minimal_runs, strict=True))
    app_first, minimal_first = statistics.median(app_client), statistics.median(minimal_client)
    first_route = statistics.median(app_route)
    profile = import_profile(ROOT)
    package = zip_report(ROOT / "out" / "deployment.zip")
    layer = zip_report(ROOT / "out" / "layer-deployment.zip")

    lines = [
        "## Cold start (`make bench-cold-start`)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}: a fresh interpreter running `import app`, {runs} alternating pairs of "
        "the real app and bench/minimal_app (one Chalice route, one PynamoDB model); medians.",
        "",
        "| app | whole process | import | import + first DynamoDB client | import + first route module |",
        "|---|---:|---:|---:|---:|",
        f"| app.py | {app_process * 1000:.0f} ms | {app_import * 1000:.0f} ms | {app_first * 1000:.0f} ms "
        f"| {first_route * 1000:.0f} ms |",
        f"| bench/minimal_app | {minimal_process * 1000:.0f} ms | {minimal_import * 1000:.0f} ms "
        f"| {minimal_first * 1000:.0f} ms | - |",
        "",
        f"**Whole-process ratio {ratio:.2f}** (median of the pairs' ratios; target <= 1.3); import alone "
        f"{import_ratio:.2f}; with the botocore client the first request creates anyway "
        f"{app_first / minimal_first:.2f}. app.py registers its routes from chalicelib/route_index.py and "
        "imports a route module (pydantic, PynamoDB, botocore, the services) on the first request that "
        "needs it, the jobs on their first run, Pillow on the first photo; the last column is what the "
        "first request to `POST /orders` pays in all (its module, pydantic, PynamoDB and botocore).",
        "",
        "Where app.py's import time goes (`-X importtime`, self time per top-level package): "
        + ", ".join(f"{name} {ms:.0f} ms" for name, ms in profile)
        + ".",
        "",
    ]
    for label, report, name in (
        ("Function zip", package, "deployment.zip"),
        ("Layer zip", layer, "layer-deployment.zip"),
    ):
        if report is None:
            lines.append(f"{label}: out/{name} is absent (run `make package`).")
        else:
            lines.append(
                f"{label} (out/{name} of `make package`, built {report['built']:%Y-%m-%d}): "
                f"{report['bytes']:,} bytes ({report['bytes'] / 1024 / 1024:.2f} MiB); biggest entries "
                "(compressed): "
                + ", ".join(f"{n} {size / 1024:.0f} KiB" for n, size in report["biggest"])
                + "."
            )
        lines.append("")
    lines.append(
        "Function zip target: <= 1 MB. The layer holds the dependencies without boto3/botocore/s3transfer, "
        "which the Lambda runtime provides (infra/layer.py; version range in docs/deploy.md)."
    )
    lines.append("")
    text = "\n".join(lines)
    print(text)
    replace_section(ROOT / "docs" / "benchmarks.md", "## Cold start", text)


if __name__ == "__main__":
    main()
