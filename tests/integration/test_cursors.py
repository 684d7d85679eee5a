"""List cursors are bound to their list (issue 11, hole 9): a cursor carries its route, path parameters,
filters and caller in its signature and its issue time in its payload, so a cursor replayed on another
list, by another user, tampered with or older than CURSOR_MAX_AGE_SECONDS is a 400, never a 500 or
someone else's page. Every list keeps paging with its own cursors (tests of each list page through)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib import clock
from tests.integration.conftest import ADMIN, ALICE, BOB, REVIEWER, top_up

pytestmark = pytest.mark.usefixtures("shop")

TEE = [{"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 1}]


def _orders(api, user: str, count: int, pay: bool = False) -> list[str]:
    ids = []
    for _ in range(count):
        created = api.post("/orders", {"items": TEE, "payment_channel": "balance"}, user=user)
        assert created.status == 201, created.body
        ids.append(created.body["order_id"])
        if pay:
            assert api.post(f"/orders/{ids[-1]}/pay", user=user).status == 200
    return ids


def _refused(result, expired: bool = False) -> None:
    assert result.status == 400, result.body
    assert result.body["error"]["code"] == "validation_error"
    assert ("expired" in result.body["error"]["message"]) is expired


def test_a_wallet_cursor_replayed_on_orders_is_400_not_500(api):
    top_up(api, ALICE, 1000)
    top_up(api, ALICE, 2000)
    _orders(api, ALICE, 2)
    cursor = api.get("/wallet?limit=1", user=ALICE).body["next_cursor"]
    assert cursor
    _refused(api.get(f"/orders?cursor={cursor}", user=ALICE))
    _refused(api.get(f"/packages?cursor={cursor}", user=ALICE))
    own = api.get(f"/wallet?limit=1&cursor={cursor}", user=ALICE)
    assert own.status == 200 and len(own.body["entries"]) == 1


def test_one_customers_cursor_is_refused_for_another(api):
    mine = _orders(api, ALICE, 3)
    _orders(api, BOB, 3)
    page = api.get("/orders?limit=2", user=ALICE).body
    _refused(api.get(f"/orders?limit=2&cursor={page['next_cursor']}", user=BOB))
    rest = api.get(f"/orders?limit=2&cursor={page['next_cursor']}", user=ALICE)
    assert [o["order_id"] for o in rest.body["items"]] == mine[:1]


def test_a_staff_queue_cursor_is_bound_to_its_filter_and_its_reader(api):
    top_up(api, ALICE, 100_000)
    _orders(api, ALICE, 3, pay=True)
    page = api.get("/staff/orders?status=pending_review&limit=1", user=REVIEWER).body
    cursor = page["next_cursor"]
    _refused(api.get(f"/staff/orders?status=approved&limit=1&cursor={cursor}", user=REVIEWER))
    _refused(api.get(f"/staff/orders?status=pending_review&limit=1&cursor={cursor}", user=ADMIN))
    _refused(api.get(f"/staff/items?limit=1&cursor={cursor}", user=REVIEWER))
    # another page size is the same list
    again = api.get(f"/staff/orders?status=pending_review&limit=5&cursor={cursor}", user=REVIEWER)
    assert again.status == 200 and len(again.body["items"]) == 2


def test_tampered_truncated_and_oversized_cursors_are_400(api):
    _orders(api, ALICE, 2)
    cursor = api.get("/orders?limit=1", user=ALICE).body["next_cursor"]
    payload, signature = cursor.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    for bad in (
        f"{flipped}.{signature}",
        f"{payload}.{signature[:-3]}",
        payload,
        f".{signature}",
        cursor + "." + cursor,
        "x" * 5000,
        "%C3%BC." + signature,  # non-ASCII
    ):
        _refused(api.get(f"/orders?cursor={bad}", user=ALICE))


def test_a_cursor_older_than_its_maximum_age_is_400(api, monkeypatch):
    _orders(api, ALICE, 2)
    start = clock.now()
    clock.set_now(start)
    cursor = api.get("/orders?limit=1", user=ALICE).body["next_cursor"]
    clock.set_now(start + timedelta(hours=23))
    assert api.get(f"/orders?limit=1&cursor={cursor}", user=ALICE).status == 200  # default: one day
    clock.set_now(start + timedelta(days=1, minutes=1))
    _refused(api.get(f"/orders?limit=1&cursor={cursor}", user=ALICE), expired=True)

    monkeypatch.setenv("CURSOR_MAX_AGE_SECONDS", "60")
    clock.set_now(start)
    cursor = api.get("/orders?limit=1", user=ALICE).body["next_cursor"]
    clock.set_now(start + timedelta(seconds=61))
    _refused(api.get(f"/orders?limit=1&cursor={cursor}", user=ALICE), expired=True)


def test_public_list_cursors_are_bound_to_their_query(api):
    from chalicelib.catalog import configured, source

    class Paged:  # a catalog that always has a next page
        def featured(self, limit, cursor):
            return source.Page(items=[], next_cursor={"after": "prd_x"})

        def search(self, words, limit, cursor):
            return source.Page(items=[], next_cursor={"after": "prd_y"})

    previous = configured.get_source()
    configured.set_source(Paged())
    try:
        featured = api.get("/products/search").body["next_cursor"]
        socks = api.get("/products/search?q=socks").body["next_cursor"]
        assert api.get(f"/products/search?cursor={featured}").status == 200
        assert api.get(f"/products/search?q=socks&limit=3&cursor={socks}").status == 200
        _refused(api.get(f"/products/search?q=socks&cursor={featured}"))
        _refused(api.get(f"/products/search?q=tee&cursor={socks}"))
    finally:
        configured.set_source(previous)
