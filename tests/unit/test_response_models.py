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
