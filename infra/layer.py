"""`make package`'s last step: the layer without what the Lambda runtime already has, bytecode, and sizes.

`automatic_layer: true` (.chalice/config.json) makes `chalice package` put every dependency of
requirements.txt in out/layer-deployment.zip (one Lambda layer shared by all functions) and only app.py
and chalicelib/ in out/deployment.zip. The layer would still carry botocore (16 MB zipped), pulled in by
PynamoDB, which the Python Lambda runtime ships with boto3: this rewrites the layer
zip without RUNTIME_PROVIDED, so the runtime's own copies are imported. The versions the code relies on
are the runtime's range stated in docs/deploy.md (RUNTIME_BOTOCORE). It also leaves out BUILD_ONLY:
setuptools (about 2 MB zipped), which apimatic-core (the PayPal SDK's core) declares as a dependency but
never imports; no module of the layer imports setuptools, pkg_resources or distutils at run time (only
cffi's build helpers do, which the cryptography wheel does not call), and a layer's .pth files are not
processed, so `distutils-precedence.pth` does nothing there.

Both zips then get the bytecode of every module (`__pycache__/*.cpython-311.pyc`, compiled here by the
runtime's Python version): Lambda's /var/task and /opt are read-only, so without it every cold start
compiles every module it imports, and no later start keeps the result. The .pyc are hash-based (PEP 552),
not timestamp ones: a timestamp .pyc is stale once the zip's 2-second, local-time mtimes are unpacked
differently. The layer's are unchecked (its source is never read: 3,000+ modules nobody edits in place);
the function's are checked (its source is hashed on import, ~2 ms for all of chalicelib), so a fix edited
in the Lambda console's code editor runs instead of being silently shadowed by the shipped .pyc. Costs
tens of seconds of `make package`.

    python -m infra.layer out            # slim out/layer-deployment.zip, compile both zips, print sizes
    python -m infra.layer out --check    # fail if the function code is over FUNCTION_ZIP_LIMIT or lacks .pyc
"""

from __future__ import annotations

import importlib.util
import json
import os
import py_compile
import re
import sys
import tempfile
import zipfile
from pathlib import Path

# the packages (and their .dist-info) the python3.11 Lambda runtime provides with boto3
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
# build tools a dependency declares but nothing imports at run time (see the docstring)
BUILD_ONLY = ("setuptools", "pkg_resources", "_distutils_hack", "distutils-precedence")
RUNTIME_BOTOCORE = ">=1.34,<2"  # what the code needs; the runtime's copy is inside that range (deploy.md)
# issue 15: the function zip's code at most 1 MB; its bytecode (about twice the source, zipped) is not
# counted: the limit keeps dependencies and dev data out, and the .pyc save every cold start a compile
FUNCTION_ZIP_LIMIT = 1024 * 1024
SITE = re.compile(r"^python/lib/python3\.\d+/site-packages/([^/]+)")


def _top_level(name: str) -> str | None:
    match = SITE.match(name)
    if not match:
        return None
    entry = match.group(1)
    return re.split(r"-\d", entry.removesuffix(".dist-info"), maxsplit=1)[0].split(".")[0]


def left_out(name: str) -> bool:
    """Whether the layer drops the zip entry `name`: the runtime has it, or nothing imports it at run time."""
    return _top_level(name) in RUNTIME_PROVIDED + BUILD_ONLY


def slim(path: Path) -> tuple[int, int]:
    """Rewrite the layer zip without RUNTIME_PROVIDED and BUILD_ONLY packages; (bytes before, bytes after)."""
    before = path.stat().st_size
    slimmed = path.with_suffix(".slim.zip")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(slimmed, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if not left_out(info.filename):
                target.writestr(info, source.read(info), compress_type=zipfile.ZIP_DEFLATED)
    os.replace(slimmed, path)
    return before, path.stat().st_size


def runtimes(template: Path) -> set[str]:
    """The Python runtimes of the template's functions and layers (e.g. {"python3.11"})."""
    resources = json.loads(template.read_text())["Resources"].values()
    found = set()
    for resource in resources:
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function" and "Runtime" in properties:
            found.add(properties["Runtime"])
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            found.update(properties.get("CompatibleRuntimes", []))
    return found


def this_runtime() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def compile_zip(path: Path, deployed_under: str, checked: bool = False) -> tuple[int, list[str]]:
    """Add a hash-based .pyc next to every .py of the zip (`checked`: validated against its source on
    import), with this interpreter's cache tag, so run by the runtime's Python version; tracebacks name the
    file as deployed, under `deployed_under`. Returns (how many were added, the .py that do not compile):
    a dependency may ship a file that is not Python 3."""
    compiled = path.with_suffix(".pyc.zip")
    added, failures = 0, []
    with (
        tempfile.TemporaryDirectory() as work,
        zipfile.ZipFile(path) as source,
        zipfile.ZipFile(compiled, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            if "__pycache__/" in info.filename:
                continue  # leftovers of another interpreter or mode: replaced by ours
            body = source.read(info)
            target.writestr(info, body, compress_type=zipfile.ZIP_DEFLATED)
            if not info.filename.endswith(".py"):
                continue
            module = Path(work, info.filename)
            module.parent.mkdir(parents=True, exist_ok=True)
            module.write_bytes(body)
            pyc = Path(importlib.util.cache_from_source(str(module)))
            try:
                py_compile.compile(
                    str(module),
                    cfile=str(pyc),
                    dfile=f"{deployed_under}/{info.filename}",
                    doraise=True,
                    invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH
                    if checked
                    else py_compile.PycInvalidationMode.UNCHECKED_HASH,
                )
            except py_compile.PyCompileError:
                failures.append(info.filename)
                continue
            entry = zipfile.ZipInfo(str(pyc.relative_to(work)), date_time=info.date_time)
            entry.external_attr = 0o644 << 16
            target.writestr(entry, pyc.read_bytes(), compress_type=zipfile.ZIP_DEFLATED)
            added += 1
    os.replace(compiled, path)
    return added, failures


def missing_bytecode(path: Path) -> list[str]:
    """The .py of the zip without this runtime's .pyc beside them (`--check`)."""
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
    return sorted(
        name for name in names if name.endswith(".py") and importlib.util.cache_from_source(name) not in names
    )


def code_bytes(path: Path) -> int:
    """Zipped bytes of the zip's entries other than bytecode."""
    with zipfile.ZipFile(path) as archive:
        return sum(info.compress_size for info in archive.infolist() if "__pycache__/" not in info.filename)


def unzipped(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return sum(info.file_size for info in archive.infolist())


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "out")
    function_zip, layer_zip = out / "deployment.zip", out / "layer-deployment.zip"
    if layer_zip.exists() and "--check" not in argv:
        before, after = slim(layer_zip)
        print(
            f"layer: dropped {', '.join(RUNTIME_PROVIDED)} (the runtime's) and {', '.join(BUILD_ONLY)} "
            f"(build tools): {before:,} -> {after:,} bytes"
        )
    if "--check" not in argv:
        template = out / "sam.json"
        wanted = runtimes(template) if template.exists() else set()
        if wanted != {this_runtime()}:
            print(
                f"the template's runtimes {sorted(wanted)} are not {this_runtime()}, which compiles the .pyc:"
                " run `make package` with that Python version",
                file=sys.stderr,
            )
            return 1
        # where Lambda unpacks each zip: the function in /var/task, a layer in /opt
        for path, deployed_under, checked in ((function_zip, "/var/task", True), (layer_zip, "/opt", False)):
            if not path.exists():
                continue
            added, failures = compile_zip(path, deployed_under, checked)
            print(
                f"{path.name}: {added:,} modules compiled ({this_runtime()}, "
                f"{'checked' if checked else 'unchecked'} hash)"
                + (f"; not Python 3, left as source: {', '.join(failures)}" if failures else "")
            )
            if failures and path == function_zip:
                return 1
    for label, path in (("function zip", function_zip), ("layer zip", layer_zip)):
        if path.exists():
            print(
                f"{label:12} {path}: {path.stat().st_size:,} bytes zipped ({code_bytes(path):,} without "
                f"bytecode), {unzipped(path):,} unzipped"
            )
        else:
            print(f"{label:12} {path}: absent")
    if function_zip.exists() and missing_bytecode(function_zip):
        print(f"the function zip has modules without {this_runtime()} bytecode", file=sys.stderr)
        return 1
    if function_zip.exists() and code_bytes(function_zip) > FUNCTION_ZIP_LIMIT:
        print(
            f"the function zip's code (without bytecode) is over {FUNCTION_ZIP_LIMIT:,} bytes",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
