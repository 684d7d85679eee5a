"""`make package`'s last step: the dependency layer without what the Lambda runtime already has, and sizes.

`automatic_layer: true` (.chalice/config.json) makes `chalice package` put every dependency of
requirements.txt in out/layer-deployment.zip (one Lambda layer shared by all functions) and only app.py
and chalicelib/ in out/deployment.zip. The layer would still carry botocore (16 MB zipped), pulled in by
PynamoDB and the X-Ray SDK, which the Python Lambda runtime ships with boto3: this rewrites the layer
zip without RUNTIME_PROVIDED, so the runtime's own copies are imported. The versions the code relies on
are the runtime's range stated in docs/deploy.md (RUNTIME_BOTOCORE).

    python -m infra.layer out            # slim out/layer-deployment.zip, print both sizes
    python -m infra.layer out --check    # fail if the function zip is over FUNCTION_ZIP_LIMIT
"""

from __future__ import annotations

import os
import re
import sys
import zipfile
from pathlib import Path

# the packages (and their .dist-info) the python3.11 Lambda runtime provides with boto3
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
RUNTIME_BOTOCORE = ">=1.34,<2"  # what the code needs; the runtime's copy is inside that range (deploy.md)
FUNCTION_ZIP_LIMIT = 1024 * 1024  # issue 15: the function zip at most 1 MB
SITE = re.compile(r"^python/lib/python3\.\d+/site-packages/([^/]+)")


def _top_level(name: str) -> str | None:
    match = SITE.match(name)
    if not match:
        return None
    entry = match.group(1)
    return re.split(r"-\d", entry.removesuffix(".dist-info"), maxsplit=1)[0].split(".")[0]


def runtime_provided(name: str) -> bool:
    return _top_level(name) in RUNTIME_PROVIDED


def slim(path: Path) -> tuple[int, int]:
    """Rewrite the layer zip without RUNTIME_PROVIDED packages; (bytes before, bytes after)."""
    before = path.stat().st_size
    slimmed = path.with_suffix(".slim.zip")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(slimmed, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if not runtime_provided(info.filename):
                target.writestr(info, source.read(info), compress_type=zipfile.ZIP_DEFLATED)
    os.replace(slimmed, path)
    return before, path.stat().st_size


def unzipped(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return sum(info.file_size for info in archive.infolist())


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "out")
    function_zip, layer_zip = out / "deployment.zip", out / "layer-deployment.zip"
    if layer_zip.exists() and "--check" not in argv:
        before, after = slim(layer_zip)
        print(f"layer: dropped {', '.join(RUNTIME_PROVIDED)} (the runtime's): {before:,} -> {after:,} bytes")
    for label, path in (("function zip", function_zip), ("layer zip", layer_zip)):
        if path.exists():
            print(f"{label:12} {path}: {path.stat().st_size:,} bytes zipped, {unzipped(path):,} unzipped")
        else:
            print(f"{label:12} {path}: absent")
    if function_zip.exists() and function_zip.stat().st_size > FUNCTION_ZIP_LIMIT:
        print(f"the function zip is over {FUNCTION_ZIP_LIMIT:,} bytes", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
