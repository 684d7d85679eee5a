"""The function zip holds what runs in Lambda and nothing of the dev stack: no demo password, no demo
data, no provisioning, nothing importing infra/ or tests/.

The files are the ones `chalice package` zips (its packager's own list: app.py and all of chalicelib/);
`make package` removes __pycache__ first, so compiled leftovers of moved modules are not shipped either.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from chalice.deploy.packager import LambdaDeploymentPackager
from chalice.utils import OSUtils

from infra.local import provision
from tests.conftest import ROOT

DEV_MODULE = re.compile(r"(^|/)(demo\w*|provision|seed)\.py$")


def shipped() -> dict[str, bytes]:
    packager = LambdaDeploymentPackager(osutils=OSUtils(), dependency_builder=None, ui=None)
    return {
        zip_path: Path(full_path).read_bytes()
        for full_path, zip_path in packager._iter_app_filenames(str(ROOT))
        # chalice's own two files, and compiled files `make package` deletes first
        if not zip_path.startswith("chalice/") and "__pycache__" not in zip_path
    }


def test_the_zip_is_app_py_and_chalicelib():
    files = shipped()
    assert "app.py" in files and "chalicelib/web.py" in files
    assert {path.split("/")[0] for path in files} == {"app.py", "chalicelib"}


def test_the_function_zip_carries_no_demo_password():
    assert provision.DEMO_PASSWORD  # the password the local stack's demo users have
    carrying = [path for path, body in shipped().items() if provision.DEMO_PASSWORD.encode() in body]
    assert carrying == []


def test_the_function_zip_carries_no_demo_or_dev_stack_module():
    files = shipped()
    assert [path for path in files if DEV_MODULE.search(path)] == []
    importing = []
    for path, body in files.items():
        if not path.endswith(".py"):
            continue
        for node in ast.walk(ast.parse(body, path)):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            importing += [f"{path}: {n}" for n in names if n.split(".")[0] in ("infra", "tests")]
    assert importing == []
