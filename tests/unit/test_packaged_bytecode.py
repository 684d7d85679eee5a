"""`make package` ships bytecode: Lambda's code directories are read-only, so a module without its .pyc
is compiled again on every cold start. infra/layer.py compiles both zips for the template's runtime."""

from __future__ import annotations

import json
import marshal
import zipfile
from pathlib import Path

import pytest

from infra import layer

SITE = "python/lib/python3.11/site-packages"
FUNCTION_FILES = {
    "app.py": "import chalicelib.web\n",
    "chalice/app.py": "ROUTER = 1\n",
    "chalicelib/__init__.py": "",
    "chalicelib/web.py": "def route():\n    return 'web'\n",
    "chalicelib/responses/orders.py": "ORDER = 'order'\n",
    "chalicelib/data/units.json": "{}",
}
LAYER_FILES = {
    f"{SITE}/pynamodb/models.py": "class Model:\n    pass\n",
    f"{SITE}/jwt/__init__.py": "",
    f"{SITE}/jwt-2.9.0.dist-info/METADATA": "Name: jwt\n",
}


def out_dir(tmp_path: Path, runtime: str = "python3.11", function_files: dict | None = None) -> Path:
    for name, files in (
        ("deployment.zip", function_files or FUNCTION_FILES),
        ("layer-deployment.zip", LAYER_FILES),
    ):
        with zipfile.ZipFile(tmp_path / name, "w") as archive:
            for path, text in files.items():
                archive.writestr(path, text)
    template = {
        "Resources": {
            "APIHandler": {"Type": "AWS::Serverless::Function", "Properties": {"Runtime": runtime}},
            "ManagedLayer": {
                "Type": "AWS::Serverless::LayerVersion",
                "Properties": {"CompatibleRuntimes": [runtime]},
            },
        }
    }
    (tmp_path / "sam.json").write_text(json.dumps(template))
    return tmp_path


def names(path: Path) -> set[str]:
    return set(zipfile.ZipFile(path).namelist())


def test_every_module_of_both_zips_ships_its_bytecode_for_the_runtime(tmp_path):
    out = out_dir(tmp_path)
    assert layer.missing_bytecode(out / "deployment.zip") != []  # as `chalice package` writes it
    assert layer.main([str(out)]) == 0
    function, dependencies = names(out / "deployment.zip"), names(out / "layer-deployment.zip")
    assert "chalicelib/responses/__pycache__/orders.cpython-311.pyc" in function
    assert (
        "__pycache__/app.cpython-311.pyc" in function
        and "chalice/__pycache__/app.cpython-311.pyc" in function
    )
    assert f"{SITE}/pynamodb/__pycache__/models.cpython-311.pyc" in dependencies
    assert layer.missing_bytecode(out / "deployment.zip") == []
    assert layer.missing_bytecode(out / "layer-deployment.zip") == []
    # nothing else changes: every file is still there, with the same bytes
    assert set(FUNCTION_FILES) <= function and set(LAYER_FILES) <= dependencies
    assert (
        zipfile.ZipFile(out / "deployment.zip").read("chalicelib/web.py")
        == FUNCTION_FILES["chalicelib/web.py"].encode()
    )


def test_the_bytecode_is_valid_whatever_mtime_lambda_unpacks_and_names_the_deployed_path(tmp_path):
    out = out_dir(tmp_path)
    layer.main([str(out)])
    data = zipfile.ZipFile(out / "deployment.zip").read("chalicelib/__pycache__/web.cpython-311.pyc")
    # PEP 552 flags: hash-based (a timestamp .pyc is stale on another mtime); the function's checked against
    # its source (a console edit runs), the layer's not (never edited: no source read)
    assert int.from_bytes(data[4:8], "little") == 0b11
    code = marshal.loads(data[16:])  # noqa: S302 - the bytecode this test just compiled
    assert code.co_filename == "/var/task/chalicelib/web.py"
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - it runs as the module would
    assert namespace["route"]() == "web"
    layer_pyc = zipfile.ZipFile(out / "layer-deployment.zip").read(
        f"{SITE}/pynamodb/__pycache__/models.cpython-311.pyc"
    )
    assert int.from_bytes(layer_pyc[4:8], "little") == 0b01
    assert marshal.loads(layer_pyc[16:]).co_filename  # noqa: S302 == f"/opt/{SITE}/pynamodb/models.py"


def test_a_template_for_another_python_than_the_compiling_one_is_refused(tmp_path):
    out = out_dir(tmp_path, runtime="python3.12")
    assert layer.main([str(out)]) == 1
    assert layer.missing_bytecode(out / "deployment.zip") != []  # nothing compiled for the wrong runtime


@pytest.mark.parametrize("broken", ["print 'python 2'\n", "def f(:\n"])
def test_a_function_module_that_does_not_compile_fails_the_package(tmp_path, broken):
    out = out_dir(tmp_path, function_files={**FUNCTION_FILES, "chalicelib/old.py": broken})
    assert layer.main([str(out)]) == 1


def test_the_function_zip_limit_counts_its_code_not_its_bytecode(tmp_path, monkeypatch):
    out = out_dir(tmp_path)
    layer.main([str(out)])
    function = out / "deployment.zip"
    code = layer.code_bytes(function)
    assert code < function.stat().st_size  # the bytecode is there, and not counted
    monkeypatch.setattr(layer, "FUNCTION_ZIP_LIMIT", code)
    assert layer.main([str(out), "--check"]) == 0
    monkeypatch.setattr(layer, "FUNCTION_ZIP_LIMIT", code - 1)
    assert layer.main([str(out), "--check"]) == 1


def test_the_layer_leaves_out_setuptools_which_nothing_imports_at_run_time(tmp_path):
    """apimatic-core (the PayPal SDK's core) declares setuptools, ~2 MB zipped; no module of the layer
    imports setuptools, pkg_resources or distutils at run time, so `make package` drops it with the
    runtime's botocore. The packages around it stay."""
    build_only = {
        f"{SITE}/setuptools/__init__.py": "",
        f"{SITE}/setuptools-84.2.1.dist-info/METADATA": "Name: setuptools\n",
        f"{SITE}/pkg_resources/__init__.py": "",
        f"{SITE}/_distutils_hack/__init__.py": "",
        f"{SITE}/distutils-precedence.pth": "import _distutils_hack\n",
        f"{SITE}/botocore/__init__.py": "",
        f"{SITE}/apimatic_core/__init__.py": "",
        f"{SITE}/apimatic_core-0.2.25.dist-info/METADATA": "Requires-Dist: setuptools>=68.0.0\n",
    }
    out = out_dir(tmp_path)
    with zipfile.ZipFile(out / "layer-deployment.zip", "a") as archive:
        for path, text in build_only.items():
            archive.writestr(path, text)
    assert layer.main([str(out)]) == 0
    shipped = names(out / "layer-deployment.zip")
    assert not {n for n in shipped if "setuptools" in n or "distutils" in n or "pkg_resources" in n}
    assert f"{SITE}/botocore/__init__.py" not in shipped
    assert {f"{SITE}/apimatic_core/__init__.py", f"{SITE}/apimatic_core-0.2.25.dist-info/METADATA"} <= shipped
    assert set(LAYER_FILES) <= shipped


def test_no_runtime_dependency_imports_the_build_tools_the_layer_leaves_out():
    """What makes leaving setuptools out safe: no module of a requirements.txt dependency (and theirs)
    imports setuptools, pkg_resources or distutils, cffi's build helpers aside (called by setup.py only)."""
    import importlib.metadata
    import re

    from packaging.requirements import Requirement

    root = Path(__file__).resolve().parents[2]
    todo = [
        line.split("==")[0].strip()
        for line in (root / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    seen: set[str] = set()
    importing = []
    pattern = re.compile(r"^\s*(import|from)\s+(pkg_resources|setuptools|_distutils_hack|distutils)\b", re.M)
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in seen or key in ("setuptools", *layer.RUNTIME_PROVIDED):
            continue
        seen.add(key)
        dist = importlib.metadata.distribution(name)
        for requirement in map(Requirement, dist.requires or []):
            if not requirement.marker or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
        for file in dist.files or []:
            python = str(file).endswith(".py") and not str(file).startswith("cffi/")
            if python and pattern.search(Path(dist.locate_file(file)).read_text(errors="replace")):
                importing.append(str(file))
    assert "apimatic-core" in seen and importing == []
