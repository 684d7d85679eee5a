"""The warehouse-side response models (packages, parcels, declarations, cases, storage) describe exactly
what the services return: real service output goes through them unchanged."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib import web
from chalicelib.errors import ApiError
from chalicelib.responses import packages, shipping, storage, warehouse
from chalicelib.rules import shipping as shipping_rules
from chalicelib.typed import BaseModel, twin

MODULES = (packages, shipping, storage, warehouse)


def _models() -> list[type[BaseModel]]:
    return [
        m
        for module in MODULES
        for m in vars(module).values()
        if isinstance(m, type) and issubclass(m, BaseModel) and m.__module__ == module.__name__
    ]


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.__name__)
def test_every_model_has_a_description_and_its_examples_validate(model):
    assert (model.__doc__ or "").strip(), model
    extra = model.model_config.get("json_schema_extra")
    for example in (extra or {}).get("examples", []) if isinstance(extra, dict) else []:
        twin(model).model_validate(example)


def test_top_level_list_envelopes_carry_items_and_a_nullable_next_cursor():
    for model in _models():
        if model.__name__.endswith("Page"):
            schema = twin(model).model_json_schema(mode="serialization")
            assert {"items", "next_cursor"} <= set(schema["required"]), model
            assert schema["properties"]["next_cursor"]["anyOf"] == [{"type": "string"}, {"type": "null"}]


def test_a_sometimes_absent_key_is_optional_and_not_nullable_and_stays_absent(monkeypatch):
    monkeypatch.setenv("STAGE", "test")
    schema = twin(warehouse.ScannedParcel).model_json_schema(mode="serialization")
    for key in ("contested", "storage_expires_at", "already_received"):
        assert key not in schema["required"]
        assert "default" not in schema["properties"][key] and "anyOf" not in schema["properties"][key]
    assert schema["properties"]["storage_expires_at"]["format"] == "date-time"
    matched = {
        "parcel_id": "pcl_1",
        "status": "matched",
        "tracking_no": "SF1",
        "carrier": None,
        "item_ids": ["itm_1"],
        "received_at": "2026-11-30T07:40:00Z",
        "weight_g": Decimal("450"),
    }
    body = web.serialize_response(warehouse.ScannedParcel, matched, "POST /staff/inbound")
    assert body == dict(matched, weight_g=450)
    with pytest.raises(ApiError, match="breaks its documented schema"):
        web.serialize_response(warehouse.ScannedParcel, dict(matched, storage_expires_at=None), "x")


def test_shipping_lines_and_the_service_catalog_validate_as_the_rules_build_them(monkeypatch):
    monkeypatch.setenv("STAGE", "test")
    lines = [line.as_json() for line in shipping_rules.lines().values()]
    assert (
        web.serialize_response(shipping.ShippingLinePage, {"items": lines, "next_cursor": None}, "x")["items"]
        == lines
    )
    catalog = {
        "services": [s.as_json() for s in shipping_rules.services().values()],
        "service_fee": shipping_rules.service_fee_rule().as_json(),
        "auto_confirm_days": 20,
        "auto_confirm_margin_days": 5,
    }
    assert web.serialize_response(shipping.PackageServiceCatalog, catalog, "x") == catalog


def test_destruction_queue_entries_are_told_apart_by_kind():
    schema = twin(storage.DestructionQueuePage).model_json_schema(mode="serialization")
    items = schema["properties"]["items"]["items"]
    assert items["discriminator"]["propertyName"] == "kind"
    assert set(items["discriminator"]["mapping"]) == {"item", "parcel"}
    example = storage.DestructionQueuePage.model_config["json_schema_extra"]["examples"][0]
    page = twin(storage.DestructionQueuePage).model_validate(example)
    assert [type(e).__name__ for e in page.items] == ["DestructionQueueItem", "DestructionQueueParcel"]


def test_a_package_list_row_has_no_items_and_a_package_detail_must_have_them():
    row = packages.PackagePage.model_config["json_schema_extra"]["examples"][0]["items"][0]
    assert "items" not in row
    with pytest.raises(ValueError, match="items"):
        twin(packages.PackageDetail).model_validate(row)
    assert "items" not in packages.PackageSummary.__typed_fields__
