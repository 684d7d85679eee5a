"""Responses go out through their documented model: an undocumented field is caught, not sent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib import web
from chalicelib.errors import ApiError
from chalicelib.responses.base import Fen, Out


class Sample(Out):
    order_id: str
    total_fen: Fen
    note: str | None = None


def test_a_response_is_serialized_through_its_model_in_documented_types(monkeypatch):
    monkeypatch.setenv("STAGE", "test")
    body = web.serialize_response(Sample, {"order_id": "o1", "total_fen": Decimal("1200")}, "GET /x")
    assert body == {"order_id": "o1", "total_fen": 1200}  # an absent optional field stays absent
    assert type(body["total_fen"]) is int


def test_an_undocumented_field_fails_in_local_and_test_stages(monkeypatch):
    monkeypatch.setenv("STAGE", "test")
    with pytest.raises(ApiError, match="breaks its documented schema"):
        web.serialize_response(Sample, {"order_id": "o1", "total_fen": 1, "secret": "x"}, "GET /x")


def test_an_undocumented_field_is_logged_but_sent_in_production(monkeypatch):
    monkeypatch.setenv("STAGE", "prod")
    body = web.serialize_response(Sample, {"order_id": "o1", "total_fen": Decimal("1"), "extra": 2}, "GET /x")
    assert body == {"order_id": "o1", "total_fen": 1, "extra": 2}


# --- the models themselves ---------------------------------------------------------------------------


def _response_models() -> list[type]:
    """Every response model defined in a chalicelib/responses module."""
    import importlib
    import inspect
    import pkgutil

    import chalicelib.responses

    models = []
    for info in pkgutil.iter_modules(chalicelib.responses.__path__):
        module = importlib.import_module(f"chalicelib.responses.{info.name}")
        models += [
            obj
            for _, obj in inspect.getmembers(module, inspect.isclass)
            if issubclass(obj, Out) and obj is not Out and obj.__module__ == module.__name__
        ]
    return models


def _examples(model: type) -> list:
    extra = model.model_config.get("json_schema_extra")
    return list(extra.get("examples", [])) if isinstance(extra, dict) else []


def _route_models() -> set[type]:
    import importlib

    from chalicelib import routing

    for module in routing.BLUEPRINTS:  # importing a blueprint module registers its routes
        importlib.import_module(module)
    return {spec.response for spec in web.ROUTES if spec.response is not None}


@pytest.mark.parametrize("model", _response_models(), ids=lambda m: m.__name__)
def test_every_example_of_a_response_model_is_a_body_the_model_accepts_unchanged(model, monkeypatch):
    monkeypatch.setenv("STAGE", "test")  # also validated and dumped by the model's pydantic twin
    for example in _examples(model):
        dumped = web.serialize_response(model, example, "x")
        assert dumped == example  # what a route would send for it is the example itself


def test_every_route_response_model_has_exactly_one_example_and_a_description():
    for model in _route_models():
        assert len(_examples(model)) == 1, f"{model.__name__} needs one example"
        assert (model.__doc__ or "").strip(), f"{model.__name__} needs a docstring"


def test_every_response_model_has_a_docstring_and_a_name_unique_across_modules():
    models = _response_models()
    names = [m.__name__ for m in models]
    assert sorted(n for n in names if names.count(n) > 1) == []
    assert [m.__name__ for m in models if not (m.__doc__ or "").strip()] == []
