"""Authorization matrix: every route in the route table x {no token, customer A on customer B's object,
customer (own objects), reviewer, warehouse, admin} gets the documented outcome.

- no token: 401 on every non-public route; a public route never asks for one.
- customer on a staff route: 403; staff without the route's group: 403; admin: never 403.
- customer A naming customer B's object: 404 in the path, and in a body the same answer as for an id
  that does not exist (its existence stays hidden).
- everyone allowed: 2xx, or a 400/409 for a body or a state this matrix does not bother to make valid.
- nobody, ever: a 5xx.

EXPECT is keyed like the route table: a route registered without an entry fails
`test_every_route_has_an_expectation`, so a new route cannot skip its auth decision here.
The objects (both customers' orders, cart items, stored items, packages, payments, photo, case, parcel)
are created once per module through the API, in-process on moto.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

import app  # noqa: F401  (registers every route in ROUTES)
from chalicelib.web import ROUTES
from tests.integration.conftest import ADMIN, ALICE, BOB, REVIEWER, WAREHOUSE, Api, top_up

# --- the in-process stack and its objects, once per module ----------------------------------------------


@contextlib.contextmanager
def in_process_stack() -> Iterator[Api]:
    """The `stack` + `api` fixtures of conftest, for a whole module (or a benchmark process)."""
    import moto.cognitoidp.models
    from chalice.test import Client
    from moto import mock_aws

    from chalicelib import auth, aws
    from infra.local import provision
    from tests.conftest import ROOT
    from tests.integration.conftest import _CognitoTime

    patch = pytest.MonkeyPatch()
    patch.setattr(moto.cognitoidp.models, "time", _CognitoTime)
    try:
        with mock_aws():
            aws.reset()
            auth.jwks.clear()
            described = provision.provision(demo_users=True)
            patch.setenv("USER_POOL_ID", described["user_pool_id"])
            patch.setenv("USER_POOL_CLIENT_ID", described["client_id"])
            import app as application

            with Client(application.app, stage_name="test", project_dir=str(ROOT)) as client:
                yield Api(client, described)
    finally:
        aws.reset()
        auth.jwks.clear()
        patch.undo()


class _BothCatalogs:
    """conftest's explicit products (prices by hand) in front of the demo catalog (search, links, images)."""

    def __init__(self, explicit, default):
        self.explicit, self.default = explicit, default

    def get(self, product_id):
        return self.explicit.get(product_id) or self.default.get(product_id)

    def get_many(self, product_ids):
        rest = [p for p in product_ids if p not in self.explicit.products]
        return self.explicit.get_many(product_ids) + (self.default.get_many(rest) if rest else [])

    def __getattr__(self, name):
        return getattr(self.default, name)


@contextlib.contextmanager
def explicit_catalog() -> Iterator[None]:
    """conftest's small explicit catalog as the product source, the demo catalog behind it."""
    from chalicelib.catalog.configured import get_source, set_source
    from tests.integration.conftest import FakeSource, _products

    set_source(None)
    set_source(_BothCatalogs(FakeSource(_products()), get_source()))
    try:
        yield
    finally:
        set_source(None)


TEE = {"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 2}
SOCKS = {"product_id": "prd_socks", "sku_id": "sku_socks", "quantity": 2}


def seed(api: Api) -> dict[str, dict[str, str]]:
    """For ALICE and BOB each: a cart item, an unpaid order and its item, a top-up payment, a stored
    item with a QC photo request and an after-sales case, and a package (pending payment) of another
    stored item. Under "staff": an exceptional parcel, and the demo catalog's first featured product (its
    link for POST /products/resolve). Needs `explicit_catalog()` installed."""
    from tests.integration.test_packages import stored, submit

    objects: dict[str, dict[str, str]] = {}
    for n, user in enumerate((ALICE, BOB), start=1):
        mine: dict[str, str] = {"user_id": api.user_id(user)}
        stored_ids = stored(api, user=user, items=(TEE, SOCKS), tracking=f"YT{n}000001")
        mine["item_id"] = stored_ids[0]
        package = submit(api, [stored_ids[1]], user=user, services=[])
        assert package.status == 201, package.body
        mine["package_id"] = package.body["package_id"]
        # paid extra photos of the packaged item (its package is not sealed yet)
        asked = api.post(f"/items/{stored_ids[1]}/photo-requests", {"note": "the label"}, user=user)
        assert asked.status == 201, asked.body
        mine["request_id"] = asked.body["request_id"]
        mine["payment_id"] = top_up(api, user, 20000)["payment_id"]
        # three SKUs: the same SKU added again merges into its line
        lines = (TEE, SOCKS, {"product_id": "prd_tee", "sku_id": "sku_tee_white_l", "quantity": 1})
        for kind, line in zip(
            ("cart_item_id", "cart_item_to_delete", "cart_item_to_order"), lines, strict=True
        ):
            cart = api.post("/cart/items", line, user=user)
            assert cart.status == 201, cart.body
            mine[kind] = cart.body["cart_item_id"]
        order = api.post("/orders", {"items": [TEE], "payment_channel": "balance"}, user=user)
        assert order.status == 201, order.body
        mine["order_id"] = order.body["order_id"]
        mine["order_item_id"] = order.body["items"][0]["item_id"]
        photo = api.post(
            f"/staff/items/{mine['item_id']}/photos", {"content_type": "image/jpeg"}, user=WAREHOUSE
        )
        assert photo.status == 201, photo.body
        mine["photo_id"] = photo.body["photo_id"]
        case = api.post(
            "/after-sales", {"item_id": mine["item_id"], "type": "return", "reason": "wrong size"}, user=user
        )
        assert case.status == 201, case.body
        mine["case_id"] = case.body["case_id"]
        mine.update(_claimed_package(api, user, n))
        objects[user] = mine
    parcel = api.post("/staff/inbound", {"tracking_no": "SF0000999"}, user=WAREHOUSE)
    assert parcel.status == 201 and parcel.body["status"] == "exceptional", parcel.body
    from chalicelib.catalog.configured import get_source
    from infra.local import demo_catalog as demo

    demo.seed(api.stack)
    featured = get_source().featured(1, None).items[0]
    withdrawal = api.post("/wallet/withdrawals", {"amount_fen": 100}, user=ALICE)
    assert withdrawal.status == 201, withdrawal.body
    objects["staff"] = {
        "withdrawal_id": withdrawal.body["withdrawal_id"],
        "parcel_id": parcel.body["parcel_id"],
        "product_id": "prd_tee",
        "source_url": featured.source_url,
        "service": "reinforcement",
    }
    return objects


def _claimed_package(api: Api, user: str, n: int) -> dict[str, str]:
    """An insured package of `user`, shipped, delivered, with an open insurance claim (issue 22)."""
    from tests.integration.test_packages import stored, submit

    [item_id] = stored(api, user=user, items=(TEE,), tracking=f"YT{n}000002")
    package = submit(api, [item_id], user=user, services=["insurance"])
    assert package.status == 201, package.body
    package_id = package.body["package_id"]
    top_up(api, user, 60000)
    assert api.post(f"/packages/{package_id}/pay", user=user).status == 200
    dims = {"weight_g": 500, "dims_cm": {"l": 20, "w": 20, "h": 10}}
    assert api.post(f"/staff/packages/{package_id}/pack", dims, user=WAREHOUSE).status == 200
    ship = {"carrier": "EMS", "tracking_no": f"EE10000000{n}CN"}
    assert api.post(f"/staff/packages/{package_id}/ship", ship, user=WAREHOUSE).status == 200
    assert api.post(f"/packages/{package_id}/confirm-receipt", user=user).status == 200
    claim = api.post(f"/packages/{package_id}/claims", {"kind": "damaged", "description": "x"}, user=user)
    assert claim.status == 201, claim.body
    return {"delivered_package_id": package_id, "claim_id": claim.body["claim_id"]}


# --- expectations ---------------------------------------------------------------------------------------

PUBLIC, SIGNED_IN = "public", "signed-in"
OWNER = "owner"  # customer routes on the caller's own object: others get 404
OWNER_OR_STAFF = "owner-or-staff"  # like OWNER, but any staff member may look too
REV, WH = ("reviewer",), ("warehouse",)


@dataclass(frozen=True)
class Expect:
    """Who may call a route and how the matrix calls it.

    who: PUBLIC, SIGNED_IN (any signed-in user, no object), OWNER, OWNER_OR_STAFF, or the staff groups.
    params: path parameter -> object kind in the seeded objects (item_id -> "item_id", ...).
    body: the JSON body, with "{kind}" placeholders filled from the caller's (or the target's) objects.
    body_refs: the body names a customer object, so A naming B's answers like a missing id.
    """

    who: str | tuple[str, ...]
    params: dict[str, str] = field(default_factory=dict)
    body: object = None
    body_refs: bool = False


ADDRESS = {
    "name": "Alice Example",
    "phone": "+1 415 555 0100",
    "country": "US",
    "state": "CA",
    "city": "San Francisco",
    "postal_code": "94105",
    "line1": "1 Market St",
}
INSPECTION = {
    "category": "general",
    "checks": {"color": "ok", "damage": "ok", "stains": "ok", "size": "ok", "model": "n/a", "version": "n/a"},
    "weight_g": 420,
    "dims_cm": {"l": 30, "w": 20, "h": 5},
    "result": "pass",
}
ITEM = {"item_id": "item_id"}
ORDER = {"order_id": "order_id"}
PACKAGE = {"package_id": "package_id"}

EXPECT: dict[tuple[str, str], Expect] = {
    # identity, docs
    ("GET", "/health"): Expect(PUBLIC),
    ("GET", "/me"): Expect(SIGNED_IN),
    ("GET", "/openapi.json"): Expect(PUBLIC),
    ("GET", "/policies"): Expect(PUBLIC),
    # currencies
    ("GET", "/currencies"): Expect(PUBLIC),
    # null: the module's shared world must not start converting every later answer (no rates seeded)
    ("PUT", "/me/preferences"): Expect(SIGNED_IN, body={"currency": None}),
    # catalog
    ("GET", "/products/search"): Expect(PUBLIC),
    ("POST", "/products/resolve"): Expect(PUBLIC, body={"url": "{source_url}"}),
    ("POST", "/products/image-search"): Expect(PUBLIC, body={"image_base64": "bm90IGFuIGltYWdl"}),
    ("GET", "/products/{product_id}"): Expect(PUBLIC, params={"product_id": "product_id"}),
    # cart and orders
    ("GET", "/cart"): Expect(SIGNED_IN),
    ("POST", "/cart/items"): Expect(SIGNED_IN, body=TEE),
    ("PATCH", "/cart/items/{cart_item_id}"): Expect(
        OWNER, params={"cart_item_id": "cart_item_id"}, body={"quantity": 3}
    ),
    ("DELETE", "/cart/items/{cart_item_id}"): Expect(OWNER, params={"cart_item_id": "cart_item_to_delete"}),
    ("POST", "/orders/quote"): Expect(
        SIGNED_IN, body={"cart_item_ids": ["{cart_item_id}"], "payment_channel": "balance"}, body_refs=True
    ),
    ("POST", "/orders"): Expect(
        SIGNED_IN,
        body={"cart_item_ids": ["{cart_item_to_order}"], "payment_channel": "balance"},
        body_refs=True,
    ),
    ("GET", "/orders"): Expect(SIGNED_IN),
    ("GET", "/orders/{order_id}"): Expect(OWNER, params=ORDER),
    ("POST", "/orders/{order_id}/pay"): Expect(OWNER, params=ORDER),
    ("POST", "/orders/{order_id}/cancel"): Expect(OWNER, params=ORDER),
    ("POST", "/items/{item_id}/pay-difference"): Expect(OWNER, params={"item_id": "order_item_id"}),
    ("POST", "/items/{item_id}/decline-difference"): Expect(OWNER, params={"item_id": "order_item_id"}),
    ("POST", "/items/{item_id}/replacement/accept"): Expect(OWNER, params={"item_id": "order_item_id"}),
    ("POST", "/items/{item_id}/replacement/decline"): Expect(OWNER, params={"item_id": "order_item_id"}),
    # wallet and payments
    ("GET", "/payment-channels"): Expect(PUBLIC),
    ("GET", "/wallet"): Expect(SIGNED_IN),
    ("POST", "/wallet/top-ups"): Expect(SIGNED_IN, body={"amount_fen": 1000, "channel": "alipay"}),
    ("GET", "/payments/{payment_id}"): Expect(OWNER, params={"payment_id": "payment_id"}),
    ("POST", "/payments/webhook"): Expect(
        PUBLIC, body={"id": "evt_x", "type": "payment.succeeded", "data": {}}
    ),
    ("POST", "/payments/stripe/webhook"): Expect(
        PUBLIC, body={"id": "evt_x", "object": "event", "type": "payment_intent.succeeded", "data": {}}
    ),
    ("POST", "/payments/paypal/webhook"): Expect(
        PUBLIC, body={"id": "WH-x", "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource": {}}
    ),
    ("POST", "/payments/webhooks/stripe"): Expect(
        PUBLIC, body={"id": "evt_x", "object": "event", "type": "payment_intent.succeeded", "data": {}}
    ),
    ("POST", "/payments/webhooks/paypal"): Expect(
        PUBLIC, body={"id": "WH-x", "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource": {}}
    ),
    ("POST", "/payments/{payment_id}/capture"): Expect(OWNER, params={"payment_id": "payment_id"}),
    ("GET", "/staff/payments"): Expect(("admin",)),
    ("POST", "/wallet/withdrawals"): Expect(SIGNED_IN, body={"amount_fen": 100}),
    ("GET", "/wallet/withdrawals"): Expect(SIGNED_IN),
    ("GET", "/staff/withdrawals"): Expect(REV),
    ("POST", "/staff/withdrawals/{withdrawal_id}/approve"): Expect(
        REV, params={"withdrawal_id": "withdrawal_id"}
    ),
    ("POST", "/staff/withdrawals/{withdrawal_id}/reject"): Expect(
        REV, params={"withdrawal_id": "withdrawal_id"}, body={"reason": "no"}
    ),
    # review and purchasing
    ("GET", "/staff/orders"): Expect(REV),
    ("GET", "/staff/orders/{order_id}"): Expect(REV, params=ORDER),
    ("POST", "/staff/orders/{order_id}/approve"): Expect(REV, params=ORDER),
    ("POST", "/staff/orders/{order_id}/reject"): Expect(REV, params=ORDER, body={"reason": "out of stock"}),
    ("GET", "/staff/items"): Expect(("reviewer", "warehouse")),
    ("GET", "/staff/items/{item_id}"): Expect(("reviewer", "warehouse"), params=ITEM),
    ("POST", "/staff/items/{item_id}/purchase"): Expect(
        REV,
        params={"item_id": "order_item_id"},
        body={"merchant_order_no": "M1", "actual_unit_price_fen": 2500},
    ),
    ("POST", "/staff/items/{item_id}/purchase-preview"): Expect(
        REV, params={"item_id": "order_item_id"}, body={"actual_unit_price_fen": 2500}
    ),
    ("POST", "/staff/items/{item_id}/unavailable"): Expect(
        REV, params={"item_id": "order_item_id"}, body={"reason": "out_of_stock"}
    ),
    ("POST", "/staff/items/{item_id}/replacement"): Expect(
        REV, params={"item_id": "order_item_id"}, body={"sku_id": "sku_tee_white_l"}
    ),
    ("POST", "/staff/items/{item_id}/domestic-shipment"): Expect(
        REV, params={"item_id": "order_item_id"}, body={"carrier": "YTO", "tracking_no": "YT9999999"}
    ),
    # warehouse
    ("POST", "/staff/inbound"): Expect(WH, body={"tracking_no": "SF0000998"}),
    ("GET", "/staff/parcels"): Expect(WH),
    ("POST", "/staff/parcels/{parcel_id}/assign"): Expect(
        WH, params={"parcel_id": "parcel_id"}, body={"user_id": "{user_id}"}
    ),
    ("POST", "/staff/parcels/{parcel_id}/void"): Expect(
        WH, params={"parcel_id": "parcel_id"}, body={"reason": "wrong scan"}
    ),
    ("POST", "/staff/items/{item_id}/photos"): Expect(WH, params=ITEM, body={"content_type": "image/png"}),
    ("GET", "/staff/photos/{photo_id}"): Expect(WH, params={"photo_id": "photo_id"}),
    ("GET", "/items/{item_id}/photos"): Expect(OWNER_OR_STAFF, params=ITEM),
    ("POST", "/staff/items/{item_id}/inspection"): Expect(WH, params=ITEM, body=INSPECTION),
    ("GET", "/staff/after-sales"): Expect(("warehouse", "reviewer")),
    ("POST", "/staff/after-sales/{case_id}/resolve"): Expect(
        ("warehouse", "reviewer"), params={"case_id": "case_id"}, body={"resolution": "reject"}
    ),
    ("POST", "/items/{item_id}/photo-requests"): Expect(OWNER, params=ITEM, body={"note": "the label"}),
    ("GET", "/staff/photo-requests"): Expect(WH),
    ("POST", "/staff/photo-requests/{request_id}/complete"): Expect(WH, params={"request_id": "request_id"}),
    ("GET", "/staff/destruction-queue"): Expect(WH),
    ("POST", "/staff/items/{item_id}/destroy"): Expect(WH, params=ITEM),
    ("POST", "/staff/parcels/{parcel_id}/destroy"): Expect(WH, params={"parcel_id": "parcel_id"}),
    # customer storage, forwarding, after-sales
    ("GET", "/warehouse/items"): Expect(SIGNED_IN),
    ("GET", "/items/{item_id}"): Expect(OWNER, params=ITEM),
    ("POST", "/items/{item_id}/accept"): Expect(OWNER, params=ITEM),
    ("POST", "/items/{item_id}/confirm"): Expect(OWNER, params=ITEM),
    ("PATCH", "/items/{item_id}"): Expect(OWNER, params=ITEM, body={"remark": "Size L please"}),
    ("POST", "/items/{item_id}/extend-storage"): Expect(OWNER, params=ITEM, body={"periods": 1}),
    ("GET", "/storage/extension-price"): Expect(SIGNED_IN),
    ("POST", "/after-sales"): Expect(
        SIGNED_IN, body={"item_id": "{item_id}", "type": "refund", "reason": "broken"}, body_refs=True
    ),
    ("GET", "/after-sales"): Expect(SIGNED_IN),
    ("POST", "/after-sales/{case_id}/photos"): Expect(
        OWNER, params={"case_id": "case_id"}, body={"content_type": "image/png"}
    ),
    # insurance claims (issue 22)
    ("POST", "/packages/{package_id}/claims"): Expect(
        OWNER, params={"package_id": "delivered_package_id"}, body={"kind": "damaged", "description": "x"}
    ),
    ("GET", "/claims"): Expect(SIGNED_IN),
    ("POST", "/claims/{claim_id}/photos"): Expect(
        OWNER, params={"claim_id": "claim_id"}, body={"content_type": "image/png"}
    ),
    ("GET", "/staff/claims"): Expect(("warehouse", "reviewer")),
    ("POST", "/staff/claims/{claim_id}/resolve"): Expect(
        ("warehouse", "reviewer"),
        params={"claim_id": "claim_id"},
        body={"decision": "rejected", "note": "no"},
    ),
    ("POST", "/forwarding"): Expect(SIGNED_IN, body={"tracking_no": "ZT12345678", "description": "shoes"}),
    ("GET", "/forwarding"): Expect(SIGNED_IN),
    # shipping lines and packages
    ("GET", "/shipping-lines"): Expect(PUBLIC),
    ("GET", "/package-services"): Expect(SIGNED_IN),
    ("POST", "/packages/quote"): Expect(
        SIGNED_IN, body={"item_ids": ["{item_id}"], "country": "US"}, body_refs=True
    ),
    ("POST", "/packages"): Expect(
        SIGNED_IN, body={"item_ids": ["{item_id}"], "address": ADDRESS, "line_id": "ems"}, body_refs=True
    ),
    ("GET", "/packages"): Expect(SIGNED_IN),
    ("GET", "/packages/{package_id}"): Expect(OWNER, params=PACKAGE),
    ("POST", "/packages/{package_id}/pay"): Expect(OWNER, params=PACKAGE),
    ("POST", "/packages/{package_id}/checkout"): Expect(OWNER, params=PACKAGE, body={"channel": "paypal"}),
    ("POST", "/packages/{package_id}/pay-difference"): Expect(OWNER, params=PACKAGE),
    ("POST", "/packages/{package_id}/cancel"): Expect(OWNER, params=PACKAGE),
    ("POST", "/packages/{package_id}/return-to-storage"): Expect(OWNER, params=PACKAGE),
    ("POST", "/packages/{package_id}/confirm-packing"): Expect(OWNER, params=PACKAGE),
    ("POST", "/packages/{package_id}/repack"): Expect(OWNER, params=PACKAGE, body={"note": "Less tape."}),
    ("POST", "/packages/{package_id}/confirm-receipt"): Expect(OWNER, params=PACKAGE),
    ("POST", "/packages/{package_id}/review"): Expect(
        OWNER, params=PACKAGE, body={"rating": 5, "comment": ""}
    ),
    ("GET", "/staff/packages"): Expect(WH),
    ("GET", "/staff/packages/{package_id}"): Expect(WH, params=PACKAGE),
    ("POST", "/staff/packages/{package_id}/pack"): Expect(
        WH, params=PACKAGE, body={"weight_g": 500, "dims_cm": {"l": 20, "w": 20, "h": 10}}
    ),
    ("POST", "/staff/packages/{package_id}/pack-preview"): Expect(
        WH, params=PACKAGE, body={"weight_g": 500, "dims_cm": {"l": 20, "w": 20, "h": 10}}
    ),
    ("POST", "/staff/packages/{package_id}/ship"): Expect(
        WH, params=PACKAGE, body={"carrier": "EMS", "tracking_no": "EE123456789CN"}
    ),
    ("POST", "/staff/packages/{package_id}/photos"): Expect(
        WH, params=PACKAGE, body={"content_type": "image/png"}
    ),
    ("GET", "/packages/{package_id}/photos"): Expect(OWNER_OR_STAFF, params=PACKAGE),
    ("POST", "/staff/packages/{package_id}/services/{service}/perform"): Expect(
        WH, params={**PACKAGE, "service": "service"}, body={}
    ),
    ("POST", "/staff/packages/{package_id}/services/{service}/refund"): Expect(
        WH, params={**PACKAGE, "service": "service"}, body={"reason": "Does not fit a vacuum bag."}
    ),
    # messages: the owner on the customer paths, staff (reviewer or warehouse) on theirs
    ("GET", "/orders/{order_id}/messages"): Expect(OWNER, params=ORDER),
    ("POST", "/orders/{order_id}/messages"): Expect(OWNER, params=ORDER, body={"body": "Which colour?"}),
    ("GET", "/packages/{package_id}/messages"): Expect(OWNER, params=PACKAGE),
    ("POST", "/packages/{package_id}/messages"): Expect(OWNER, params=PACKAGE, body={"body": "Pack flat."}),
    ("GET", "/staff/messages"): Expect(("reviewer", "warehouse")),
    ("GET", "/staff/orders/{order_id}/messages"): Expect(("reviewer", "warehouse"), params=ORDER),
    ("POST", "/staff/orders/{order_id}/messages"): Expect(
        ("reviewer", "warehouse"), params=ORDER, body={"body": "Navy, as ordered."}
    ),
    ("GET", "/staff/packages/{package_id}/messages"): Expect(("reviewer", "warehouse"), params=PACKAGE),
    ("POST", "/staff/packages/{package_id}/messages"): Expect(
        ("reviewer", "warehouse"), params=PACKAGE, body={"body": "Will do."}
    ),
}

ROLES = ("anonymous", "customer A on B's object", "customer", "reviewer", "warehouse", "admin")
USERS = {"customer": ALICE, "customer A on B's object": ALICE, "reviewer": REVIEWER, "warehouse": WAREHOUSE}
USERS["admin"] = ADMIN
STAFF_GROUPS = {REVIEWER: {"reviewer"}, WAREHOUSE: {"warehouse"}, ADMIN: {"admin"}}
ALLOWED = {200, 201, 204, 400, 409}  # allowed through: done, or a body/state this matrix did not make valid


def _fill(value, objects: dict[str, str]):
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return objects[value[1:-1]]
    if isinstance(value, dict):
        return {k: _fill(v, objects) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, objects) for v in value]
    return value


def request_for(method: str, path: str, expect: Expect, objects: dict[str, str]) -> tuple[str, object]:
    concrete = path
    for name, kind in expect.params.items():
        concrete = concrete.replace("{" + name + "}", objects[kind])
    return concrete, _fill(expect.body, objects)


def expected(expect: Expect, role: str) -> set[int] | None:
    """The statuses `role` may get; None when the role does not apply to the route."""
    who = expect.who
    if role == "anonymous":
        return None if who == PUBLIC else {401}
    if role == "customer A on B's object":
        if who in (OWNER, OWNER_OR_STAFF) and expect.params:
            return {404}
        return None  # body references: test_a_body_naming_anothers_object_is_like_a_missing_one
    if expect.body_refs:  # the body names ALICE's objects: hers to use, nobody else's
        return ALLOWED if role == "customer" else {404}
    if who in (PUBLIC, SIGNED_IN):
        return ALLOWED
    user = USERS[role]
    groups = STAFF_GROUPS.get(user, set())
    if who == OWNER:
        return ALLOWED if role == "customer" else {404}
    if who == OWNER_OR_STAFF:
        return ALLOWED
    # a staff route
    return ALLOWED if groups & ({"admin"} | set(who)) else {403}


def _whose(expect: Expect, role: str, objects: dict) -> dict[str, str]:
    """Customer routes act on ALICE's objects (her own for "customer", not theirs for staff); B's for the
    cross-customer row; staff routes on BOB's."""
    if role == "customer A on B's object":
        base = objects[BOB]
    elif expect.who in (OWNER, OWNER_OR_STAFF, SIGNED_IN):
        base = objects[ALICE]
    else:
        base = objects[BOB]
    return {**objects["staff"], **base}


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Api, dict]]:
    with in_process_stack() as api, explicit_catalog():
        yield api, seed(api)


def test_every_route_has_an_expectation():
    registered = {(s.method, s.path) for s in ROUTES}
    assert registered, "the route table is empty: import app first"
    missing = sorted(registered - set(EXPECT))
    assert missing == [], f"add these routes to EXPECT in {__name__} (who may call them?): {missing}"
    assert sorted(set(EXPECT) - registered) == [], "EXPECT names routes the app no longer has"


def test_the_expectations_agree_with_the_route_table():
    """The table is written from the contract; the code's auth declarations must say the same."""
    for spec in ROUTES:
        who = EXPECT[(spec.method, spec.path)].who
        assert spec.public == (who == PUBLIC), (spec.method, spec.path)
        staff = isinstance(who, tuple)
        assert set(spec.groups) == (set(who) if staff else set()), (spec.method, spec.path)


@pytest.mark.parametrize("route", sorted(EXPECT), ids=lambda r: f"{r[0]} {r[1]}")
def test_the_matrix(world, route):
    api, objects = world
    method, path = route
    expect = EXPECT[route]
    outcomes = {}
    for role in ROLES:
        wanted = expected(expect, role)
        if wanted is None and role != "anonymous":
            continue
        concrete, body = request_for(method, path, expect, _whose(expect, role, objects))
        user = None if role == "anonymous" else USERS[role]
        result = api.call(method, concrete, user=user, body=body)
        outcomes[role] = (result.status, result.body)
        assert result.status < 500, f"{role}: {method} {concrete} -> {result.status} {result.body}"
        if wanted is None:  # a public route called without a token
            assert result.status != 401 and result.status != 403, f"{method} {path} is public"
            continue
        assert result.status in wanted, (
            f"{role}: {method} {concrete} -> {result.status} {json.dumps(result.body)[:300]}, "
            f"expected {sorted(wanted)}"
        )
        if result.status >= 400:
            assert set(result.body) == {"error"} and {"code", "message"} <= set(result.body["error"])
        if role == "admin":
            assert result.status != 403


@pytest.mark.parametrize("route", sorted(r for r, e in EXPECT.items() if e.body_refs), ids=lambda r: r[1])
def test_a_body_naming_anothers_object_is_like_a_missing_one(world, route):
    """POST bodies that name customer objects (cart items, stored items): B's id gets what a made-up id
    gets, never a 2xx and never a hint that it exists."""
    api, objects = world
    method, path = route
    expect = EXPECT[route]
    _, bobs = request_for(method, path, expect, {**objects["staff"], **objects[BOB]})
    fake = {k: f"{v[:4]}NOPE{v[8:]}" if isinstance(v, str) else v for k, v in objects[BOB].items()}
    _, missing = request_for(method, path, expect, {**objects["staff"], **fake})
    as_alice = api.call(method, path, user=ALICE, body=bobs)
    made_up = api.call(method, path, user=ALICE, body=missing)
    assert as_alice.status in (400, 404), as_alice.body
    assert (as_alice.status, as_alice.body["error"]["code"]) == (
        made_up.status,
        made_up.body["error"]["code"],
    )
    assert objects[BOB]["item_id"] not in json.dumps(as_alice.body) or as_alice.status == 404


def test_an_invalid_or_expired_token_is_401_everywhere(world):
    api, _ = world
    private = sorted(r for r, e in EXPECT.items() if e.who != PUBLIC)
    token = api.token(ALICE)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for method, path in private:
        concrete = path.replace("{", "x").replace("}", "x")
        for header in (f"Bearer {forged}", "Bearer not-a-jwt", "Basic YWxpY2U6cHc=", token):
            result = api.call(method, concrete, headers={"Authorization": header})
            assert result.status == 401, (method, path, header[:12], result.status)


def test_an_empty_path_parameter_is_never_a_5xx(world):
    """`POST /orders//pay`: chalice local routes an empty segment to the view (API Gateway does not)."""
    api, _ = world
    for method, path in sorted(r for r in EXPECT if "{" in r[1]):
        concrete = re.sub(r"\{\w+\}", "", path)
        for user in (ALICE, ADMIN):
            result = api.call(method, concrete, user=user)
            assert result.status < 500, (method, concrete, user, result.status, result.body)
