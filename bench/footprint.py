"""`make bench-footprint`: peak memory and time of each function's work, to size Lambda memory and timeouts.

Each case runs in a fresh interpreter (like a cold Lambda) and reports its peak RSS (VmHWM) and
the wall time of the work after the import:
- api: `import app`, every route module loaded, a DynamoDB client and a presigned-POST S3 client built
  (what the API function holds after its first requests; it never decodes an image);
- photo_*: photos.check_image on the largest uploads a photo may be: a 10 MB PNG of noise, an RGBA PNG
  of exactly PHOTO_MAX_PIXELS (the most a PNG may have; PNGs decode in full) and a 24 MP JPEG (draft
  decoding); ingestion handles a batch of 10 such objects one after another;
- photo_png_over_limit: a 49 MP PNG of a few hundred KB, which must be refused (`too_many_pixels`) from
  its header, before any decoding: the case checks the refusal and shows it costs no memory;
- jobs: the scheduled jobs' modules and a DynamoDB + SES client.
The photo cases also report the size of the view-size copy and the thumbnail check_image made: issue 27's
target is a photo view of at most 400 KB (photos.VIEW_MAX_BYTES), and these samples are the worst cases.
Writes its section of docs/benchmarks.md; docs/deploy.md's per-function settings cite these figures.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CASES = {
    "api": """
import app
from chalicelib import aws, routing
t = time.perf_counter()
routing.load_all(app.app)
aws.client("dynamodb"); aws.client("s3"); aws.client("cognito-idp")
""",
    "photo_png": """
import app
from chalicelib import photos
data = open(SAMPLES["png"], "rb").read()
t = time.perf_counter()
checked = photos.check_image(data)
""",
    "photo_png_at_limit": """
import app
from chalicelib import photos
data = open(SAMPLES["png_at_limit"], "rb").read()
t = time.perf_counter()
checked = photos.check_image(data)
""",
    "photo_png_over_limit": """
import app
from chalicelib import photos
data = open(SAMPLES["png_over_limit"], "rb").read()
t = time.perf_counter()
try:
    photos.check_image(data)
    raise SystemExit("a PNG over PHOTO_MAX_PIXELS was accepted")
except photos.NotAnImage as refused:
    assert str(refused) == "too_many_pixels", refused
""",
    "photo_jpeg": """
import app
from chalicelib import photos
data = open(SAMPLES["jpeg"], "rb").read()
t = time.perf_counter()
checked = photos.check_image(data)
""",
    "jobs": """
import app
from chalicelib import aws
t = time.perf_counter()
from chalicelib.jobs import auto_confirm, heartbeat, storage_sweep
aws.client("dynamodb"); aws.client("sesv2"); aws.client("ses"); aws.client("cognito-idp")
""",
}

PROBE = """
import resource, time, json
SAMPLES = {samples!r}
t = time.perf_counter()
{body}
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")]
peak_kb = int(hwm[0].split()[1]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
seconds = time.perf_counter() - t
made = globals().get("checked")
sizes = {{"view_bytes": len(made.view), "thumb_bytes": len(made.thumbnail)}} if made else {{}}
print(json.dumps({{"seconds": seconds, "peak_mb": peak_kb / 1024, **sizes}}))
"""


def at_limit_size() -> tuple[int, int]:
    """The largest square a PNG may be: side * side <= PHOTO_MAX_PIXELS (the stage's default)."""
    import math

    from chalicelib import photos

    side = math.isqrt(photos.max_pixels())
    return side, side


def samples(directory: Path) -> dict[str, str]:
    """The largest accepted uploads: a ~10 MB PNG of noise (2600 x 1280: no draft decoding, the whole
    bitmap), an RGBA PNG of PHOTO_MAX_PIXELS and a 24 MP JPEG (6000 x 4000) under 10 MB; and a 49 MP
    PNG over the limit."""
    import io

    from PIL import Image

    made = {}
    png = Image.frombytes("RGB", (2600, 1280), os.urandom(2600 * 1280 * 3))
    jpeg = Image.frombytes("RGB", (600, 400), os.urandom(600 * 400 * 3)).resize((6000, 4000))
    # the worst a PNG may be: PHOTO_MAX_PIXELS with an alpha channel, compressing to a small file
    at_limit = Image.new("RGBA", at_limit_size(), (200, 30, 30, 128))
    bomb = Image.new("RGBA", (7000, 7000), (200, 30, 30, 128))
    for kind, img, options in (
        ("png", png, {"compress_level": 1}),
        ("png_at_limit", at_limit, {"compress_level": 1}),
        ("png_over_limit", bomb, {"compress_level": 1}),
        ("jpeg", jpeg, {"quality": 90}),
    ):
        buffer = io.BytesIO()
        img.save(buffer, kind.split("_")[0].upper(), **options)
        assert buffer.tell() <= 10 * 1024 * 1024, (kind, buffer.tell())
        path = directory / f"footprint.{kind}"
        path.write_bytes(buffer.getvalue())
        made[kind] = str(path)
    return made


def run(case: str, sample_files: dict[str, str] | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(
        {"AWS_DEFAULT_REGION": "ap-southeast-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    )
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(body=CASES[case], samples=sample_files or {})],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    import tempfile

    from bench.markdown import replace_section

    width, height = at_limit_size()
    with tempfile.TemporaryDirectory() as directory:
        files = samples(Path(directory))
        sizes = {kind: Path(f).stat().st_size for kind, f in files.items()}
        results = {case: run(case, files) for case in CASES}
    from chalicelib import photos

    def made(r: dict) -> str:
        return f"{r['view_bytes']:,} B / {r['thumb_bytes']:,} B" if "view_bytes" in r else "-"

    rows = [
        f"| {case} | {r['peak_mb']:.0f} MB | {r['seconds'] * 1000:.0f} ms | {made(r)} |"
        for case, r in results.items()
    ]
    views = {case: r["view_bytes"] for case, r in results.items() if "view_bytes" in r}
    largest = max(views, key=views.get)
    verdict = "met" if views[largest] <= photos.VIEW_MAX_BYTES else "**not met**"
    text = "\n".join(
        [
            "## Function footprint (`make bench-footprint`)",
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}: peak RSS of a fresh process doing each function's work "
            "(bench/footprint.py), and the time of that work after `import app`.",
            "",
            "| case | peak RSS | work time | view / thumbnail made |",
            "|---|---:|---:|---:|",
            *rows,
            "",
            f"Photo views: the largest view-size copy ingestion made from these samples is "
            f"{views[largest]:,} bytes ({largest}; at most {photos.VIEW_MAX_PX} px on its longer side), "
            f"target <= {photos.VIEW_MAX_BYTES:,} bytes: {verdict}. What a customer or staff member "
            "downloads to look at a photo is that copy, through CloudFront (docs/cost.md's photo egress); "
            "the thumbnail is what lists show. The samples are the worst cases for size (noise compresses "
            "least), so a real photo's view is smaller.",
            "",
            f"Samples: PNG 2600x1280 noise {sizes['png']:,} bytes, PNG {width}x{height} RGBA "
            f"({width * height / 1e6:.0f} MP, the most PHOTO_MAX_PIXELS allows) {sizes['png_at_limit']:,} "
            f"bytes, JPEG 6000x4000 {sizes['jpeg']:,} bytes; over the limit, PNG 7000x7000 RGBA (49 MP) "
            f"{sizes['png_over_limit']:,} bytes, refused as `too_many_pixels` from its header (its row: "
            "the refusal's cost). "
            "Memory and timeouts (`lambda_functions` of .chalice/config.json, docs/deploy.md) follow: "
            "the API and the jobs never decode an image; photo ingestion decodes up to 10 per batch, "
            "one at a time.",
            "",
        ]
    )
    print(text)
    replace_section(ROOT / "docs" / "benchmarks.md", "## Function footprint", text)


if __name__ == "__main__":
    main()
