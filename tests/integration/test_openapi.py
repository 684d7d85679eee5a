"""The OpenAPI document: valid OpenAPI 3.1, generated from the route table, served at GET /openapi.json,
committed as docs/openapi.json (fresh), and covering every route the README and docs/ name."""

from __future__ import annotations

import inspect
import json
import re

import pytest
from openapi_spec_validator import validate

from chalicelib import openapi
from chalicelib.typed import twin
from chalicelib.web import ROUTES
from tests.conftest import ROOT

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@pytest.fixture(scope="module")
def document() -> dict:
    import app  # noqa: F401  (registers every route)

    return openapi.document()


def operations(document: dict) -> dict[tuple[str, str], dict]:
    return {
        (method.upper(), path): operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }


def routes_the_docs_name() -> list[tuple[str, str]]:
    """Every `METHOD /path` the README and docs/*.md name (in code spans; query strings dropped)."""
    routes: list[tuple[str, str]] = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for method, target in re.findall(r"`([A-Z]+) (/[^`\s]*)", doc.read_text()):
            if method in HTTP_METHODS and "//" not in target:  # `//`: an empty parameter, on purpose
                routes.append((method, target.split("?")[0]))
    return list(dict.fromkeys(routes))


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_registered_route_is_documented_once(document):
    documented = operations(document)
    assert sorted(documented) == sorted((s.method, s.path) for s in ROUTES)
    assert len({op["operationId"] for op in documented.values()}) == len(documented)


def _shape(route: tuple[str, str]) -> tuple[str, str]:
    """A route with its path parameters unnamed (docs may write `{id}` for `{package_id}`)."""
    return route[0], re.sub(r"\{[^}]*\}", "{}", route[1])


def test_every_route_the_docs_name_is_in_the_document(document):
    """The project's documents (README, docs/) are the reference: a route they name exists."""
    named = routes_the_docs_name()
    assert len(named) >= 20, named  # the parser found them
    assert ("GET", "/openapi.json") in named and ("POST", "/orders/{order_id}/pay") in named
    missing = sorted(set(map(_shape, named)) - {_shape(route) for route in operations(document)})
    assert missing == [], f"routes the docs name but the OpenAPI document lacks: {missing}"


def test_auth_bodies_and_errors_follow_the_route_table(document):
    documented = operations(document)
    for spec in ROUTES:
        op = documented[(spec.method, spec.path)]
        responses = op["responses"]
        assert op["operationId"] == spec.name
        if spec.public:
            assert op["security"] == [] and "401" not in responses, spec.path
        else:
            assert op["security"] == [{"bearerAuth": []}] and "401" in responses, spec.path
        assert ("403" in responses) == bool(spec.groups), spec.path
        if "{" in spec.path:
            assert "404" in responses
            names = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert names == set(re.findall(r"\{(\w+)\}", spec.path))
        if spec.body is not None:
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            name = schema["$ref"].removeprefix("#/components/schemas/")
            assert name.endswith(spec.body.__name__)  # CatalogResolveBody for catalog's ResolveBody
            assert document["components"]["schemas"][name]["title"] == name
            assert "400" in responses
        assert str(spec.status) in responses or "204" in responses
        headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
        assert ("Idempotency-Key" in headers) == spec.keyed, spec.path
        for code, response in responses.items():
            if int(code) >= 400:
                assert response == {"$ref": f"#/components/responses/{openapi.ERRORS[int(code)][0]}"}
    error = document["components"]["responses"]["NotFound"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/Error"}
    assert document["components"]["schemas"]["Error"]["required"] == ["error"]


def test_body_schemas_are_the_models_the_code_validates_with(document):
    """A component is the pydantic model's own JSON Schema (refs moved to components)."""
    from chalicelib.api.orders import CartItemBody

    schema = document["components"]["schemas"]["CartItemBody"]
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["product_id", "sku_id", "quantity"]
    assert schema["properties"]["quantity"]["minimum"] == 1
    expected = twin(CartItemBody).model_json_schema(ref_template="#/components/schemas/{model}")
    assert schema == expected
    text = json.dumps(document)
    assert "$defs" not in text
    for ref in re.findall(r'"\$ref": "([^"]+)"', text):
        kind, name = ref.removeprefix("#/components/").split("/", 1)
        assert name in document["components"][kind], ref


def test_lists_take_limit_and_cursor(document):
    """A view reading ?limit= / ?cursor= / other query parameters declares them through route(query=...),
    and they are in the document; paged lists answer {"items", "next_cursor"}."""
    documented = operations(document)
    for spec in ROUTES:
        source = inspect.getsource(spec.view)
        reads = set(re.findall(r'req\.query\.get\("(\w+)"', source))
        reads |= {"limit"} if "page_limit(req" in source else set()
        reads |= {"cursor"} if "decode_cursor(req" in source else set()
        reads |= {"status"} if re.search(r"\b_status\(req", source) else set()
        assert reads <= set(spec.query), f"{spec.method} {spec.path}: add query={tuple(sorted(reads))}"
        params = {p["name"]: p for p in documented[(spec.method, spec.path)].get("parameters", [])}
        for name in spec.query:
            assert params[name]["in"] == "query"
    orders = documented[("GET", "/orders")]
    limit = next(p for p in orders["parameters"] if p["name"] == "limit")
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
    schemas = document["components"]["schemas"]
    for spec in ROUTES:
        if "cursor" not in spec.query:
            continue
        success = documented[(spec.method, spec.path)]["responses"]["200"]
        ref = success["content"]["application/json"]["schema"]
        page = schemas[ref["$ref"].rsplit("/", 1)[-1]]  # a named list envelope
        lists = [name for name, prop in page["properties"].items() if prop.get("type") == "array"]
        # a list envelope: {"items"|"entries" (GET /wallet), "next_cursor"}
        assert "next_cursor" in page["required"] and lists, f"{spec.method} {spec.path}"
    orders_page = orders["responses"]["200"]["content"]["application/json"]["schema"]
    assert orders_page == {"$ref": "#/components/schemas/OrderPage"}


def test_the_committed_docs_openapi_json_is_fresh(document):
    committed = ROOT / "docs" / "openapi.json"
    assert committed.is_file(), "docs/openapi.json is missing: run `make openapi`"
    assert committed.read_text() == openapi.render(document), "docs/openapi.json is stale: run `make openapi`"


def test_served_at_get_openapi_json_without_a_token(api, document):
    served = api.get("/openapi.json")
    assert served.status == 200
    assert served.headers["Content-Type"] == "application/json"
    assert served.body == json.loads(openapi.render(document))
    validate(served.body)
