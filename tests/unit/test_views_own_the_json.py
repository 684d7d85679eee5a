"""Views own the JSON: services return domain objects, the response models (chalicelib/responses) build
the bodies, and the views (chalicelib/api) join the two. Read from the source, no AWS."""

from __future__ import annotations

import ast
from pathlib import Path

CHALICELIB = Path(__file__).resolve().parents[2] / "chalicelib"
# what may know the response models: the models themselves, the views, the route declaration (which
# serializes through them and reports a contract violation) and the OpenAPI document built from them
RESPONSE_LAYER = ("responses/", "api/", "web.py", "openapi.py")


def _modules() -> dict[str, ast.Module]:
    return {
        path.relative_to(CHALICELIB).as_posix(): ast.parse(path.read_text(), filename=str(path))
        for path in sorted(CHALICELIB.rglob("*.py"))
    }


def _in_response_layer(name: str) -> bool:
    return name.startswith(RESPONSE_LAYER)


def test_no_service_builds_response_json_with_a_json_helper():
    """The `order_json`/`item_json`/... builders are gone: a module-level `*_json` function outside the
    response layer would be a second place that decides what a body looks like."""
    builders = [
        f"{name}: {node.name}"
        for name, tree in _modules().items()
        if not _in_response_layer(name)
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.endswith("_json")
    ]
    assert builders == []


def test_only_the_response_layer_imports_the_response_models():
    """Services return what they committed and never shape it for HTTP: they import no response model
    (at the top or inside a function)."""
    importers = []
    for name, tree in _modules().items():
        if _in_response_layer(name):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("chalicelib.responses"):
                importers.append(f"{name}: from {node.module}")
            elif isinstance(node, ast.ImportFrom) and node.module == "chalicelib":
                importers += [f"{name}: responses" for alias in node.names if alias.name == "responses"]
            elif isinstance(node, ast.Import):
                importers += [
                    f"{name}: import {alias.name}"
                    for alias in node.names
                    if alias.name.startswith("chalicelib.responses")
                ]
    assert importers == []


def test_response_models_build_bodies_from_domain_objects_not_from_service_dicts():
    """Every `of` constructor of a response model returns the model (via `Out.build`), so a view hands the
    route a model and `web.serialize_response` only dumps it."""
    constructors = []
    for name, tree in _modules().items():
        if not name.startswith("responses/"):
            continue
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name.startswith("of")):
                returns = ast.unparse(fn.returns) if fn.returns else ""
                constructors.append((f"{name}:{cls.name}.{fn.name}", returns))
    assert len(constructors) >= 30, constructors  # orders, items, packages, warehouse, storage, wallet...
    assert [c for c, returns in constructors if not returns.startswith("Self")] == []
