"""Customs declaration lines (issue 24, part 5) over HTTP: `POST /packages` takes per-item lines
(prefilled from the items when omitted), their total is the declared value, and the destination's rules
(config.CUSTOMS_DEFAULTS: CPF for Brazil, PCCC for Korea, IOSS for low-value EU parcels) refuse with a
400 `customs_refused` that changes nothing.

TEE: 2 x ¥25 T-shirts (5000 fen of goods); BANK: a ¥-priced power bank.
"""

from __future__ import annotations

import pytest

from chalicelib import config
from tests.integration.conftest import ALICE
from tests.integration.test_currencies import fresh_rates
from tests.integration.test_packages import ADDRESS, balance, stored, submit

pytestmark = pytest.mark.usefixtures("shop")

SHIRT = {"description_en": "Cotton T-shirt, men's, black", "quantity": 2, "unit_value_fen": 2000}
BRAZIL = {**ADDRESS, "country": "BR", "state": "SP", "city": "Sao Paulo", "postal_code": "01310-100"}
KOREA = {**ADDRESS, "country": "KR", "state": "Seoul", "city": "Seoul", "postal_code": "04524"}
FRANCE = {**ADDRESS, "country": "FR", "state": "IDF", "city": "Paris", "postal_code": "75011"}


def package(api, item_ids, address=ADDRESS, customs=None, **extra):
    body = {"item_ids": item_ids, "address": address, "line_id": "ems", "services": ["insurance"], **extra}
    if customs is not None:
        body["customs"] = customs
    return api.post("/packages", body, user=ALICE)


def _unchanged(api, item_ids):
    """A refused declaration wrote nothing: the items are still on the shelf, no package exists."""
    for item_id in item_ids:
        assert api.get(f"/items/{item_id}", user=ALICE).body["status"] == "in_warehouse"
    assert api.get("/packages", user=ALICE).body["items"] == []


def test_lines_are_prefilled_from_the_items_when_omitted(api):
    [item_id] = stored(api)
    created = submit(api, [item_id])
    assert created.status == 201, created.body
    customs = created.body["customs"]
    assert customs == {
        "lines": [
            {
                "description_en": "Cotton T-shirt",
                "quantity": 2,
                "unit_value_fen": 2500,
                "value_fen": 5000,
                "hs_code": None,
                "origin": "CN",
                "item_id": item_id,
            }
        ],
        "total_fen": 5000,
        "recipient_tax_id": None,
        "ioss_number": None,
        "form": "CN22",
        "sender": config.CUSTOMS_DEFAULTS["sender"],
    }
    assert created.body["declared_value_fen"] == 5000  # the old field, derived from the lines
    got = api.get(f"/packages/{created.body['package_id']}", user=ALICE).body
    assert got["customs"] == customs


def test_lines_sent_are_the_declaration_and_their_total_the_declared_value(api):
    [item_id] = stored(api)
    lines = [{**SHIRT, "hs_code": "61091000", "item_id": item_id}]
    created = package(api, [item_id], customs={"lines": lines})
    assert created.status == 201, created.body
    assert created.body["declared_value_fen"] == created.body["customs"]["total_fen"] == 4000
    assert created.body["customs"]["lines"][0]["hs_code"] == "61091000"
    assert created.body["services_breakdown"] == {"insurance": 120}  # 3 % of the declared 4000


def test_a_line_in_the_customers_currency_is_converted_at_the_rate_the_answer_shows(api):
    fresh_rates(USD="0.14")  # 0.1435 USD per CNY with the margin
    [item_id] = stored(api)
    line = {"description_en": "Cotton T-shirt", "quantity": 2, "unit_value_minor": 500}  # USD 5.00
    body = {"item_ids": [item_id], "address": ADDRESS, "line_id": "ems", "customs": {"lines": [line]}}
    created = api.post("/packages?currency=USD", body, user=ALICE)
    assert created.status == 201, created.body
    [declared] = created.body["customs"]["lines"]
    assert declared["unit_value_fen"] == 3484  # 500 / 0.1435 = 3484.3 fen
    assert created.body["customs"]["total_fen"] == 6968
    without = api.post("/packages", {**body, "item_ids": stored(api, tracking="YT1000055")}, user=ALICE)
    assert without.status == 400 and without.body["error"]["code"] == "customs_refused"
    assert "customer's currency" in without.body["error"]["message"]


def test_brazil_needs_a_valid_cpf(api):
    item_ids = stored(api)
    before = balance(api)
    for customs, problem in (
        (None, "CPF"),
        ({"recipient_tax_id": "968.811.342-59"}, "is not a CPF"),
    ):
        refused = package(api, item_ids, BRAZIL, customs)
        assert refused.status == 400, refused.body
        assert (
            refused.body["error"]["code"] == "customs_refused" and problem in refused.body["error"]["message"]
        )
        assert refused.body["error"]["details"][0]["field"] == "customs.recipient_tax_id"
    _unchanged(api, item_ids)
    assert balance(api) == before
    created = package(api, item_ids, BRAZIL, {"recipient_tax_id": "968.811.342-58"})
    assert created.status == 201, created.body
    assert created.body["customs"]["recipient_tax_id"] == "968.811.342-58"


def test_korea_needs_a_pccc(api):
    item_ids = stored(api)
    assert package(api, item_ids, KOREA).status == 400
    assert package(api, item_ids, KOREA, {"recipient_tax_id": "P12312312"}).status == 400
    _unchanged(api, item_ids)
    assert package(api, item_ids, KOREA, {"recipient_tax_id": "P123123123123"}).status == 201


def test_a_low_value_eu_parcel_needs_an_ioss_number(api, monkeypatch):
    item_ids = stored(api)
    refused = package(api, item_ids, FRANCE)
    assert refused.status == 400 and refused.body["error"]["details"][0]["field"] == "customs.ioss_number"
    assert package(api, item_ids, FRANCE, {"ioss_number": "IM01234567"}).status == 400  # pydantic: length
    assert package(api, item_ids, FRANCE, {"ioss_number": "XX0123456789"}).status == 400
    _unchanged(api, item_ids)
    created = package(api, item_ids, FRANCE, {"ioss_number": "IM0123456789"})
    assert created.status == 201 and created.body["customs"]["ioss_number"] == "IM0123456789"
    # a business with its own IOSS registration declares under it
    import json

    monkeypatch.setenv(
        "CUSTOMS_RULES", json.dumps({**config.CUSTOMS_DEFAULTS, "ioss_number": "IM2500000001"})
    )
    others = stored(api, tracking="YT1000066")
    assert package(api, others, FRANCE).body["customs"]["ioss_number"] == "IM2500000001"


def test_a_declaration_over_the_upu_limit_is_a_cn23(api):
    item_ids = stored(api)
    dear = {**SHIRT, "quantity": 1, "unit_value_fen": config.CUSTOMS_DEFAULTS["cn22_max_value_fen"] + 1}
    created = package(api, item_ids, customs={"lines": [dear]})
    assert created.status == 201 and created.body["customs"]["form"] == "CN23"


def test_bad_lines_are_a_400_and_change_nothing(api):
    [item_id] = stored(api)
    [other] = stored(api, tracking="YT1000044")
    before = balance(api)
    bad_lines = [
        {**SHIRT, "description_en": "棉T恤"},  # not English
        {**SHIRT, "description_en": "ab"},
        {**SHIRT, "quantity": 0},
        {**SHIRT, "unit_value_fen": -1},
        {**SHIRT, "unit_value_minor": 100},  # both values
        {"description_en": "Cotton T-shirt", "quantity": 1},  # no value
        {**SHIRT, "hs_code": "6109"},
        {**SHIRT, "origin": "China"},
        {**SHIRT, "item_id": other},  # not in this package
        {**SHIRT, "weight": 3},
    ]
    for line in bad_lines:
        refused = package(api, [item_id], customs={"lines": [line]})
        assert refused.status == 400, (line, refused.body)
    for customs in ({"lines": []}, {"lines": [SHIRT] * 51}, {"recipient_tax_id": "x" * 21}):
        assert package(api, [item_id], customs=customs).status == 400, customs
    mismatch = package(api, [item_id], customs={"lines": [SHIRT]}, declared_value_fen=5000)
    assert mismatch.status == 400 and mismatch.body["error"]["details"][0]["field"] == "declared_value_fen"
    _unchanged(api, [item_id, other])
    assert balance(api) == before
