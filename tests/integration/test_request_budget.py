"""The request budget: no customer route makes more than 3 DynamoDB requests, the Idempotency-Key's
counted (bench/api_cost.py's scripted run of every route, as customers with a saved display currency
and an Idempotency-Key on every route that takes one, counted at botocore); and one order's lifecycle
within its write units (api_cost.LIFECYCLE_WRU_TARGET)."""

from __future__ import annotations

import pytest

from bench import api_cost


@pytest.fixture(scope="module")
def scripted():
    api_cost.COUNTER.install()
    return api_cost.run_once()


@pytest.fixture(scope="module")
def summary(scripted):
    rows, _ = scripted
    return api_cost.summarize([rows])


def test_every_customer_route_is_measured(summary):
    missing = [r["route"] for r in summary if r["kind"] == "customer" and "requests" not in r]
    assert missing == []


def test_no_customer_route_makes_more_than_three_dynamodb_requests(summary):
    over = {r["route"]: dict(r["operations"]) for r in api_cost.over_budget(summary)}
    # api_cost.KNOWN_OVER is empty since the key's record rides in the route's transaction (issue 27)
    assert set(over) == api_cost.KNOWN_OVER, over


def test_the_capacity_of_a_money_route_counts_its_index_writes(summary):
    """Paying an order moves it and its items on their status indexes: index writes are billed too.
    Its Idempotency-Key makes no request of its own (the record is in the payment's transaction)."""
    paid = next(r for r in summary if r["route"] == ("POST", "/orders/{order_id}/pay"))
    assert paid["keyed"] and paid["for_key"] == 0
    assert paid["index_wru"] > 0 and paid["wru"] > paid["index_wru"]


def test_one_lifecycle_stays_within_its_write_unit_target(scripted):
    """Write units are computed from item sizes and indexes (bench/capacity.py), not timed: an index
    projecting a whole item again, or an item growing past a kilobyte boundary, shows here."""
    _, lifecycle = scripted
    totals = lifecycle.totals()
    assert totals["wru"] <= api_cost.LIFECYCLE_WRU_TARGET, totals
