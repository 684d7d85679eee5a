"""Routes registered at import, their code imported on first use (Lambda cold starts stay cheap).

`app.py` must declare every route at import (API Gateway, `chalice package` and `chalice local` read
`app.routes`), but importing the blueprint modules means importing pydantic, PynamoDB, botocore and
every service. So `register(app)` adds, for each (method, path) of `chalicelib/route_index.py`, a
stand-in view; the first request to any route of a blueprint module imports that module, swaps its
real routes in (`app.register_blueprint`) and hands the request over. From then on the app is exactly
the eagerly registered one.

`route_index.py` is generated from the real route table (`make openapi` rewrites it with
docs/openapi.json; a test and `make package` fail when it is stale). A new blueprint module is added
to BLUEPRINTS below, then `make openapi`.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path
from typing import Any

# every module defining a `bp = Blueprint(__name__)` of routes, in registration order
BLUEPRINTS = (
    "chalicelib.api.identity",
    "chalicelib.api.catalog",
    "chalicelib.api.wallet",
    "chalicelib.api.orders",
    "chalicelib.api.staff",
    "chalicelib.api.photos",
    "chalicelib.api.photo_requests",
    "chalicelib.api.warehouse",
    "chalicelib.api.storage",
    "chalicelib.api.packages",
    "chalicelib.api.package_work",
    "chalicelib.api.docs",
    "chalicelib.api.currencies",
    "chalicelib.api.payments",
    "chalicelib.api.messages",
    "chalicelib.api.claims",
)
INDEX_FILE = Path(__file__).with_name("route_index.py")

_lock = threading.RLock()
_loaded: set[tuple[int, str]] = set()  # (id of the app, module)


def _index() -> dict[str, list[tuple[str, str]]]:
    from chalicelib.route_index import ROUTES_BY_MODULE

    return ROUTES_BY_MODULE


def register(app: Any) -> None:
    """Stand-ins for every indexed route on `app` (same path and method as the real ones), and for each
    path's OPTIONS (the CORS preflight `web.route` answers), owned by the first module with that path."""
    preflights: set[str] = set()
    for module, routes in _index().items():
        for method, path in (*routes, *_preflights(routes, preflights)):
            app.route(path, methods=[method], name=f"lazy:{module}")(_stand_in(app, module, method, path))


def _preflights(routes, seen: set[str]) -> list[tuple[str, str]]:
    """("OPTIONS", path) for the paths of `routes` no earlier module has claimed."""
    fresh = [path for path in dict.fromkeys(path for _, path in routes) if path not in seen]
    seen.update(fresh)
    return [("OPTIONS", path) for path in fresh]


def _stand_in(app: Any, module: str, method: str, path: str):
    def view(**path_params: str) -> Any:
        load(app, module)
        return app.routes[path][method].view_function(**path_params)

    view.__name__ = f"lazy_{method.lower()}"
    return view


def load(app: Any, module: str) -> None:
    """Import `module` and put its real routes on `app` in place of the stand-ins (once)."""
    if (id(app), module) in _loaded:
        return
    with _lock:
        if (id(app), module) in _loaded:
            return
        from chalicelib.web import PREFLIGHT_OWNER

        blueprint = importlib.import_module(module).bp
        mine = [("OPTIONS", path) for path, owner in PREFLIGHT_OWNER.items() if owner == module]
        for method, path in (*_index().get(module, ()), *mine):
            entries = app.routes.get(path, {})
            if method in entries and entries[method].view_name.startswith("lazy:"):
                del entries[method]
        app.register_blueprint(blueprint)
        _loaded.add((id(app), module))


def load_all(app: Any | None = None) -> None:
    """Every blueprint module imported (the route table `web.ROUTES` complete), and on `app` if given."""
    for module in BLUEPRINTS:
        if app is not None:
            load(app, module)
        else:
            importlib.import_module(module)


def loaded(app: Any) -> set[str]:
    """The modules whose real routes are on `app`."""
    return {module for app_id, module in _loaded if app_id == id(app)}


# -- the index ------------------------------------------------------------------------------------


def current_index() -> dict[str, tuple[tuple[str, str], ...]]:
    """{module: ((method, path), ...)} from the real route table (imports every blueprint module)."""
    from chalicelib import web

    load_all()
    found: dict[str, list[tuple[str, str]]] = {module: [] for module in BLUEPRINTS}
    for spec in web.ROUTES:
        module = spec.view.__module__
        if module not in found:
            raise ValueError(f"{module} registers routes but is not in chalicelib.routing.BLUEPRINTS")
        found[module].append((spec.method, spec.path))
    return {module: tuple(sorted(set(routes))) for module, routes in found.items()}


def render_index(index: dict[str, tuple[tuple[str, str], ...]]) -> str:
    lines = [
        '"""Generated by `make openapi` (chalicelib.routing): every route by blueprint module."""',
        "",
        "ROUTES_BY_MODULE = {",
    ]
    for module, routes in index.items():
        lines.append(f"    {module!r}: [")
        lines.extend(f"        ({method!r}, {path!r})," for method, path in routes)
        lines.append("    ],")
    lines.append("}")
    return "\n".join(lines).replace("'", '"') + "\n"


def index_is_stale() -> bool:
    return not INDEX_FILE.exists() or INDEX_FILE.read_text() != render_index(current_index())


def write_index() -> None:
    INDEX_FILE.write_text(render_index(current_index()))
