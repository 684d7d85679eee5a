"""Every request body model has a description and one realistic example (issue 16), the example is valid
for its model, and the route takes it: posted as is (in-process, on moto, with the demo catalog), it is
answered with a 2xx, or with a 404/409 because an id it names does not exist here; never a 400.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from chalicelib import openapi, routing, web
from chalicelib.schemas import Body
from chalicelib.typed import BaseModel, hints
from tests.integration.conftest import ADMIN, ALICE, Api
from tests.integration.test_auth_matrix import in_process_stack

routing.load_all()
BODY_ROUTES = {f"{spec.method} {spec.path}": spec for spec in web.ROUTES if spec.body is not None}
# a path parameter no object has here (the route answers 404 before or after reading the body)
MISSING_ID = "itm_01JD3Q8Y6Z5N7B2K4M9P0R1S2T"


def _models() -> list[type[BaseModel]]:
    """Every Body subclass a route validates with, nested models included."""
    seen: dict[type, None] = {}

    def visit(model: type) -> None:
        if model in seen or not (isinstance(model, type) and issubclass(model, Body)):
            return
        seen[model] = None
        for annotation in hints(model).values():
            for inner in _types_in(annotation):
                visit(inner)

    for spec in BODY_ROUTES.values():
        visit(spec.body)
    return sorted(seen, key=lambda m: (m.__module__, m.__name__))


def _types_in(annotation) -> Iterator[type]:
    if isinstance(annotation, type):
        yield annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        yield from _types_in(arg)


MODELS = _models()


def _examples(model: type[BaseModel]) -> list[dict]:
    return (model.model_config.get("json_schema_extra") or {}).get("examples", [])


@pytest.mark.parametrize("model", MODELS, ids=lambda m: f"{m.__module__.rsplit('.', 1)[-1]}.{m.__name__}")
def test_every_request_body_model_has_a_description_and_a_valid_example(model):
    assert (model.__doc__ or "").strip() and model.__doc__ is not Body.__doc__, model
    examples = _examples(model)
    assert len(examples) == 1, model
    # as the route reads it: JSON text, decoded, validated strictly
    model.model_validate(json.loads(json.dumps(examples[0])))
    # the examples were added without losing Body's config
    assert {k: model.model_config[k] for k in ("extra", "strict", "defer_build")} == {
        "extra": "forbid",
        "strict": True,
        "defer_build": True,
    }


def test_every_request_body_in_the_document_has_a_description_and_an_example():
    doc = openapi.build()
    schemas = doc["components"]["schemas"]
    missing = []
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            if "requestBody" not in operation:
                continue
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            if "$ref" in schema:
                schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
            if not schema.get("description") or len(schema.get("examples", [])) != 1:
                missing.append(f"{method.upper()} {path}")
    assert missing == []


def test_every_success_response_documents_its_json_schema():
    doc = openapi.build()
    missing = [
        f"{method.upper()} {path} {status}"
        for path, methods in doc["paths"].items()
        for method, operation in methods.items()
        for status, response in operation["responses"].items()
        if status.startswith("2")
        and status != "204"  # no content
        and "schema" not in response.get("content", {}).get("application/json", {})
    ]
    assert missing == []


def test_every_object_schema_and_response_under_components_has_a_description():
    components = openapi.build()["components"]
    undescribed = [
        name
        for name, schema in components["schemas"].items()
        if schema.get("type") == "object" and not schema.get("description", "").strip()
    ]
    undescribed += [
        name for name, response in components["responses"].items() if not response.get("description")
    ]
    assert undescribed == []


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    from infra.local import demo_catalog as demo

    with in_process_stack() as api:
        demo.seed(api.stack)  # the examples name the demo catalog's products
        yield api


@pytest.mark.parametrize("label", sorted(BODY_ROUTES))
def test_every_request_example_is_accepted_by_its_route(api, label):
    spec = BODY_ROUTES[label]
    path = re.sub(r"\{\w+\}", MISSING_ID, spec.path)
    user = None if spec.public else ADMIN if spec.groups else ALICE
    response = api.call(spec.method, path, user=user, body=_examples(spec.body)[0])
    assert response.status in (spec.status, 404, 409), response.body
    if response.status == 404:
        assert "{" in spec.path or "_id" in json.dumps(_examples(spec.body)[0]), response.body
