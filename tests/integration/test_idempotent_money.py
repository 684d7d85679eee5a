"""A retry with the same Idempotency-Key never moves money twice and answers what was committed
(issue 21, item 1), on every route, customer's or staff's, whose unit of work moves ledger legs.

Two faults are injected into the money's DynamoDB transaction after DynamoDB applied it (tests/faults.py):
an ambiguous commit (the call fails as a read timeout does), and a timeout after the commit (the function
is killed right after it; the client retries once the claim's lease has run out).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from pynamodb.exceptions import TransactWriteError

from chalicelib import clock, idempotency
from tests import contract, faults
from tests.faults import OUTAGE, FunctionKilled
from tests.integration.conftest import ALICE, REVIEWER, WAREHOUSE, top_up
from tests.integration.test_packages import ADDRESS, SERVICES, pack, perform_services, stored

pytestmark = pytest.mark.usefixtures("shop")

TEE = {"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 2}


@pytest.fixture
def fault(monkeypatch) -> faults.Faults:
    return faults.install(monkeypatch)


# --- each money route, brought to where it moves money --------------------------------------------


@dataclass
class Case:
    path: str
    kind: str  # the ledger kind it writes
    amount_fen: int  # signed: what the wallet moves by
    resource: str | None  # where the committed state can be read back (by the customer); None: `status`
    body: dict | None = None
    user: str = ALICE  # who calls the route
    status: Callable[[object], str] | None = None  # the committed status, when `resource` has none


def _order(api, top_up_fen=50_000) -> dict:
    top_up(api, ALICE, top_up_fen)
    created = api.post("/orders", {"items": [TEE], "payment_channel": "balance"}, user=ALICE)
    assert created.status == 201, created.body
    return created.body


def _paid_order(api) -> dict:
    order = _order(api)
    assert api.post(f"/orders/{order['order_id']}/pay", user=ALICE).status == 200
    return order


def _dearer_purchase(api) -> str:
    order = _paid_order(api)
    assert api.post(f"/staff/orders/{order['order_id']}/approve", user=REVIEWER).status == 200
    item_id = order["items"][0]["item_id"]
    body = {"merchant_order_no": "TB-9", "actual_unit_price_fen": 3500}  # +2000: over the threshold
    bought = api.post(f"/staff/items/{item_id}/purchase", body, user=REVIEWER)
    assert bought.status == 200 and bought.body["price_difference_due_fen"] == 2000, bought.body
    return item_id


def _package(api, pay: bool) -> dict:
    item_ids = stored(api)  # leaves 44200 in the wallet, enough for the package
    body = {"item_ids": item_ids, "address": ADDRESS, "line_id": "ems", "services": SERVICES}
    package = api.post("/packages", body, user=ALICE)
    assert package.status == 201, package.body
    if pay:
        assert api.post(f"/packages/{package.body['package_id']}/pay", user=ALICE).status == 200
    return package.body


def extend_storage(api) -> Case:
    [item_id] = stored(api)
    top_up(api, ALICE, 10_000)
    price = api.get("/storage/extension-price", user=ALICE).body["price_fen"]
    return Case(
        f"/items/{item_id}/extend-storage", "storage_extension", -price, f"/items/{item_id}", {"periods": 1}
    )


def pay_order(api) -> Case:
    order = _order(api)
    oid = order["order_id"]
    return Case(f"/orders/{oid}/pay", "order_payment", -order["charges"]["total_fen"], f"/orders/{oid}")


def cancel_order(api) -> Case:
    order = _paid_order(api)
    oid = order["order_id"]
    return Case(f"/orders/{oid}/cancel", "order_refund", order["charges"]["total_fen"], f"/orders/{oid}")


def pay_item_difference(api) -> Case:
    item_id = _dearer_purchase(api)
    return Case(f"/items/{item_id}/pay-difference", "price_difference_charge", -2000, f"/items/{item_id}")


def decline_item_difference(api) -> Case:
    item_id = _dearer_purchase(api)
    path = f"/items/{item_id}/decline-difference"
    return Case(path, "item_refund", 5800, f"/items/{item_id}")  # goods 5000 and the shop's shipping 800


def _replacement_offered(api) -> str:
    order = _paid_order(api)  # 2 black tees at 2500; the white one costs 2700
    assert api.post(f"/staff/orders/{order['order_id']}/approve", user=REVIEWER).status == 200
    item_id = order["items"][0]["item_id"]
    offered = api.post(f"/staff/items/{item_id}/replacement", {"sku_id": "sku_tee_white_l"}, user=REVIEWER)
    assert offered.status == 200, offered.body
    return item_id


def accept_replacement(api) -> Case:
    item_id = _replacement_offered(api)
    path = f"/items/{item_id}/replacement/accept"
    return Case(path, "price_difference_charge", -400, f"/items/{item_id}")


def decline_replacement(api) -> Case:
    item_id = _replacement_offered(api)
    path = f"/items/{item_id}/replacement/decline"
    return Case(path, "item_refund", 5800, f"/items/{item_id}")  # goods 5000 and the shop's shipping 800


def pay_package(api) -> Case:
    package = _package(api, pay=False)
    pid = package["package_id"]
    return Case(f"/packages/{pid}/pay", "package_payment", -package["total_fen"], f"/packages/{pid}")


def cancel_package(api) -> Case:
    package = _package(api, pay=True)
    pid = package["package_id"]
    return Case(f"/packages/{pid}/cancel", "package_refund", package["total_fen"], f"/packages/{pid}")


def pay_package_difference(api) -> Case:
    package = _package(api, pay=True)
    pid = package["package_id"]
    packed = pack(api, pid, 5000, {"l": 40, "w": 30, "h": 20}, user=WAREHOUSE)
    assert packed.status == 200 and packed.body["due_fen"] > 0, packed.body
    top_up(api, ALICE, 50_000)
    return Case(
        f"/packages/{pid}/pay-difference",
        "package_difference_charge",
        -packed.body["due_fen"],
        f"/packages/{pid}",
    )


def return_package_to_storage(api) -> Case:
    package = _package(api, pay=True)
    pid = package["package_id"]
    packed = pack(api, pid, 5000, {"l": 40, "w": 30, "h": 20}, user=WAREHOUSE)
    assert packed.status == 200 and packed.body["status"] == "awaiting_difference", packed.body
    return Case(
        f"/packages/{pid}/return-to-storage", "package_refund", package["total_fen"], f"/packages/{pid}"
    )


def confirm_packing(api) -> Case:
    item_ids = stored(api)
    services = [*SERVICES, "rehearsal"]
    body = {"item_ids": item_ids, "address": ADDRESS, "line_id": "ems", "services": services}
    package = api.post("/packages", body, user=ALICE).body
    pid = package["package_id"]
    assert api.post(f"/packages/{pid}/pay", user=ALICE).status == 200
    rehearsed = pack(api, pid, 1600, {"l": 30, "w": 25, "h": 12}, user=WAREHOUSE)  # 4800 more
    assert rehearsed.status == 200 and rehearsed.body["status"] == "rehearsed", rehearsed.body
    due = rehearsed.body["due_fen"]
    return Case(f"/packages/{pid}/confirm-packing", "package_difference_charge", -due, f"/packages/{pid}")


def request_photos(api) -> Case:
    [item_id] = stored(api)
    fee = next(r["value"] for r in api.get("/policies").body["rules"] if r["key"] == "photo_request_fen")

    def status(api) -> str:  # the committed request, as the warehouse's queue shows it
        rows = api.get("/staff/photo-requests", user=WAREHOUSE).body["items"]
        return next(r["status"] for r in rows if r["item_id"] == item_id)

    path = f"/items/{item_id}/photo-requests"
    return Case(path, "photo_request", -fee, f"/items/{item_id}", {"note": "the label"}, ALICE, status)


# --- staff routes that move money -----------------------------------------------------------------


def reject_order(api) -> Case:
    order = _paid_order(api)
    oid = order["order_id"]
    total = order["charges"]["total_fen"]
    body = {"reason": "The shop no longer sells this model."}
    return Case(f"/staff/orders/{oid}/reject", "order_refund", total, f"/orders/{oid}", body, REVIEWER)


def purchase_item(api) -> Case:
    order = _paid_order(api)
    assert api.post(f"/staff/orders/{order['order_id']}/approve", user=REVIEWER).status == 200
    item_id = order["items"][0]["item_id"]
    body = {"merchant_order_no": "TB-7", "actual_unit_price_fen": 2000}  # 500 cheaper x 2: 1000 refunded
    path = f"/staff/items/{item_id}/purchase"
    return Case(path, "price_difference_refund", 1000, f"/items/{item_id}", body, REVIEWER)


def mark_unavailable(api) -> Case:
    order = _paid_order(api)
    assert api.post(f"/staff/orders/{order['order_id']}/approve", user=REVIEWER).status == 200
    item_id = order["items"][0]["item_id"]
    body = {"reason": "out_of_stock"}
    path = f"/staff/items/{item_id}/unavailable"
    # the goods (2 x 2500) and, the shop's only item, its domestic shipping (800): two ledger legs
    return Case(path, "item_refund", 5800, f"/items/{item_id}", body, REVIEWER)


def resolve_case(api) -> Case:
    [item_id] = stored(api)
    case = api.post("/after-sales", {"item_id": item_id, "type": "refund", "reason": "Torn"}, user=ALICE)
    assert case.status == 201, case.body
    cid = case.body["case_id"]

    def status(api) -> str:
        return next(
            c["status"] for c in api.get("/after-sales", user=ALICE).body["items"] if c["case_id"] == cid
        )

    body = {"resolution": "refund", "refund_fen": 1200}
    path = f"/staff/after-sales/{cid}/resolve"
    return Case(path, "after_sales_refund", 1200, f"/items/{item_id}", body, WAREHOUSE, status)


def pack_package(api) -> Case:
    package = _package(api, pay=True)
    pid = package["package_id"]
    perform_services(api, pid)  # the packer's checklist first: packing waits for it
    body = {"weight_g": 400, "dims_cm": {"l": 20, "w": 15, "h": 10}}  # lighter than quoted: refunded
    preview = api.post(f"/staff/packages/{pid}/pack-preview", body, user=WAREHOUSE)
    assert preview.status == 200 and preview.body["decision"]["difference_fen"] < 0, preview.body
    refund = -preview.body["decision"]["difference_fen"]
    return Case(
        f"/staff/packages/{pid}/pack",
        "package_difference_refund",
        refund,
        f"/packages/{pid}",
        body,
        WAREHOUSE,
    )


def request_withdrawal(api) -> Case:
    top_up(api, ALICE, 10_000)

    def status(api) -> str:
        return api.get("/wallet/withdrawals", user=ALICE).body["items"][0]["status"]

    return Case("/wallet/withdrawals", "withdrawal", -4000, None, {"amount_fen": 4000}, status=status)


def reject_withdrawal(api) -> Case:
    top_up(api, ALICE, 10_000)
    withdrawal = api.post("/wallet/withdrawals", {"amount_fen": 4000}, user=ALICE).body
    path = f"/staff/withdrawals/{withdrawal['withdrawal_id']}/reject"

    def status(api) -> str:
        return api.get("/wallet/withdrawals", user=ALICE).body["items"][0]["status"]

    return Case(path, "withdrawal_reversal", 4000, None, {"reason": "no"}, REVIEWER, status)


PATCH: dict = {}  # this test's monkeypatch, for a setup that needs a provider to answer a certain way


@pytest.fixture(autouse=True)
def _patching(monkeypatch):
    PATCH["monkeypatch"] = monkeypatch
    yield
    PATCH.clear()


def approve_withdrawal_a_provider_refuses(api) -> Case:
    """The approval's money on our side: the part the provider refused for good, back in the wallet."""
    from chalicelib.providers import ProviderRefused
    from chalicelib.providers.simulated import SimulatedProvider

    def refuse(provider, payment, amount, key):
        raise ProviderRefused("refused")

    PATCH["monkeypatch"].setattr(SimulatedProvider, "refund", refuse)
    top_up(api, ALICE, 10_000)
    withdrawal = api.post("/wallet/withdrawals", {"amount_fen": 4000}, user=ALICE).body
    path = f"/staff/withdrawals/{withdrawal['withdrawal_id']}/approve"

    def status(api) -> str:
        return api.get("/wallet/withdrawals", user=ALICE).body["items"][0]["status"]

    return Case(path, "withdrawal_reversal", 4000, None, None, REVIEWER, status)


def refund_package_service(api) -> Case:
    package = _package(api, pay=True)
    pid = package["package_id"]
    body = {"reason": "No carton big enough for corner guards."}
    path = f"/staff/packages/{pid}/services/reinforcement/refund"
    return Case(path, "package_service_refund", 1500, f"/packages/{pid}", body, WAREHOUSE)


def resolve_claim(api) -> Case:
    package = _package(api, pay=True)  # insured (SERVICES)
    pid = package["package_id"]
    assert pack(api, pid, 1200, {"l": 30, "w": 20, "h": 10}, user=WAREHOUSE).status == 200
    ship = {"carrier": "EMS", "tracking_no": "EE123456789CN"}
    assert api.post(f"/staff/packages/{pid}/ship", ship, user=WAREHOUSE).status == 200
    assert api.post(f"/packages/{pid}/confirm-receipt", user=ALICE).status == 200
    claim = api.post(f"/packages/{pid}/claims", {"kind": "damaged", "description": "Crushed"}, user=ALICE)
    assert claim.status == 201, claim.body
    cid = claim.body["claim_id"]

    def status(api) -> str:
        return next(c["status"] for c in api.get("/claims", user=ALICE).body["items"] if c["claim_id"] == cid)

    body = {"decision": "approved", "compensation_fen": 3000, "note": "Crushed on the photos"}
    path = f"/staff/claims/{cid}/resolve"
    return Case(path, "claim_compensation", 3000, f"/packages/{pid}", body, WAREHOUSE, status)


MONEY_ROUTES = [
    request_withdrawal,
    reject_withdrawal,
    approve_withdrawal_a_provider_refuses,
    extend_storage,
    pay_order,
    cancel_order,
    pay_item_difference,
    decline_item_difference,
    accept_replacement,
    decline_replacement,
    pay_package,
    cancel_package,
    pay_package_difference,
    return_package_to_storage,
    confirm_packing,
    request_photos,
    reject_order,
    purchase_item,
    mark_unavailable,
    resolve_case,
    pack_package,
    refund_package_service,
    resolve_claim,
]

# routes whose money moves elsewhere: a top-up or a package checkout creates a payment (the provider's
# webhook credits it), and providers' webhooks are deduplicated by their event id, not by an Idempotency-Key
NOT_KEYED = {
    "/wallet/top-ups",
    "/packages/{package_id}/checkout",
}


def _imported_inside(tree: ast.AST) -> dict:
    """The chalicelib names a function imports in its own body (`from chalicelib import aftersales`)."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("chalicelib"):
            package = importlib.import_module(node.module)
            for alias in node.names:
                value = getattr(package, alias.name, None)
                if value is None:
                    value = importlib.import_module(f"{node.module}.{alias.name}")
                names[alias.asname or alias.name] = value
    return names


def _moves_ledger_legs(fn, seen: set, depth: int = 4) -> bool:
    """Whether `fn`, or what it calls in chalicelib (a few calls deep), adds a ledger leg to a unit of
    work: `work.move(user_id, amount_fen, kind, ref)` (a lifecycle move takes an entity and an action)."""
    if (
        depth < 0
        or fn in seen
        or not callable(fn)
        or not (getattr(fn, "__module__", None) or "").startswith("chalicelib")
    ):
        return False
    seen.add(fn)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError):
        return False
    names = dict(vars(sys.modules[fn.__module__]))
    names.update(_imported_inside(tree))  # a view may import its service on first use (cold start)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        called = node.func
        if isinstance(called, ast.Attribute) and called.attr == "move" and len(node.args) >= 4:
            return True
        target = None
        if isinstance(called, ast.Name):
            target = names.get(called.id)
        elif isinstance(called, ast.Attribute) and isinstance(called.value, ast.Name):
            target = getattr(names.get(called.value.id), called.attr, None)
        if target is not None and _moves_ledger_legs(target, seen, depth - 1):
            return True
    return False


def test_every_route_whose_unit_of_work_moves_money_takes_an_idempotency_key_and_is_covered():
    """Found from the code, not from the routes' declarations: a customer or staff route that moves
    ledger legs without `money=True` (its Idempotency-Key), or without a case here, fails."""
    from chalicelib import web

    routes = [spec for spec in web.ROUTES if not spec.public and spec.method == "POST"]
    moving = {spec.path for spec in routes if _moves_ledger_legs(spec.view, set())}
    keyed = {spec.path for spec in web.ROUTES if spec.money}
    assert moving - keyed == set()  # moves money without taking an Idempotency-Key
    assert keyed - NOT_KEYED == moving
    staff = {spec.path for spec in routes if spec.groups} & moving
    assert staff == {
        "/staff/orders/{order_id}/reject",
        "/staff/items/{item_id}/purchase",
        "/staff/items/{item_id}/unavailable",
        "/staff/after-sales/{case_id}/resolve",
        "/staff/packages/{package_id}/pack",
        "/staff/withdrawals/{withdrawal_id}/reject",
        "/staff/withdrawals/{withdrawal_id}/approve",  # a part a provider refused goes back to the wallet
        "/staff/packages/{package_id}/services/{service}/refund",
        "/staff/claims/{claim_id}/resolve",
    }
    covered = {"/items/{item_id}/extend-storage", "/orders/{order_id}/pay", "/orders/{order_id}/cancel"}
    covered |= {"/items/{item_id}/pay-difference", "/items/{item_id}/decline-difference"}
    covered |= {"/items/{item_id}/replacement/accept", "/items/{item_id}/replacement/decline"}
    covered |= {"/packages/{package_id}/pay", "/packages/{package_id}/cancel"}
    covered |= {"/packages/{package_id}/pay-difference", "/items/{item_id}/photo-requests"} | staff
    covered |= {"/packages/{package_id}/return-to-storage", "/packages/{package_id}/confirm-packing"}
    covered |= {"/wallet/withdrawals"}
    assert moving == covered
    assert len(MONEY_ROUTES) == len(covered)


def _wallet(api) -> dict:
    return api.get("/wallet?limit=100", user=ALICE).body


def _assert_committed_once(api, case: Case, before: dict, answer) -> None:
    assert answer.status in (200, 201), answer.body  # 201: a photo request is created
    after = _wallet(api)
    assert after["balance_fen"] == before["balance_fen"] + case.amount_fen  # moved once
    kinds_before = [e["kind"] for e in before["entries"]].count(case.kind)
    assert [e["kind"] for e in after["entries"]].count(case.kind) == kinds_before + 1
    current = api.get(case.resource, user=ALICE).body if case.resource else {"status": case.status(api)}
    assert current["status"]  # the committed state can be read back
    status = case.status(api) if case.status else current["status"]
    assert answer.body["status"] == status  # the answer is the committed state


@pytest.mark.parametrize("setup", MONEY_ROUTES, ids=lambda f: f.__name__)
def test_a_retry_after_an_ambiguous_commit_moves_no_money_twice_and_answers_what_was_committed(
    api, fault, setup
):
    case = setup(api)
    before = _wallet(api)
    headers = {"Idempotency-Key": f"ambiguous-{setup.__name__}"}
    fault.arm(faults.ambiguous)
    with contract.exempt(OUTAGE):
        first = api.post(case.path, case.body, user=case.user, headers=headers)
    assert fault.fired == 1
    assert first.status in (200, 201, 500), first.body  # never a refusal after the money moved
    retry = api.post(case.path, case.body, user=case.user, headers=headers)
    _assert_committed_once(api, case, before, retry)
    if first.status != 500:
        assert retry.body == first.body
    assert api.post(case.path, case.body, user=case.user, headers=headers).body == retry.body


@pytest.mark.parametrize("setup", MONEY_ROUTES, ids=lambda f: f.__name__)
def test_a_retry_after_a_timeout_past_the_commit_replays_the_committed_answer(api, fault, setup):
    case = setup(api)
    before = _wallet(api)
    headers = {"Idempotency-Key": f"timeout-{setup.__name__}"}
    started = clock.now()
    clock.set_now(started)
    fault.arm(FunctionKilled)
    with pytest.raises(FunctionKilled):
        api.post(case.path, case.body, user=case.user, headers=headers)
    clock.set_now(started + timedelta(seconds=idempotency.lease_seconds() + 1))  # the lease ran out
    retry = api.post(case.path, case.body, user=case.user, headers=headers)
    _assert_committed_once(api, case, before, retry)
    assert retry.headers.get("Idempotent-Replayed") == "true"


def test_a_commit_that_did_not_apply_lets_the_retry_run_and_fences_the_lost_attempt(api, fault):
    """The transaction never reached DynamoDB (or is still in flight): the claim is released only
    after its attempt is fenced, so the retry pays once and the old transaction, sent late, moves
    nothing."""
    case = pay_order(api)
    before = _wallet(api)
    headers = {"Idempotency-Key": "not-applied"}
    fault.arm(faults.ambiguous, apply=False)
    with contract.exempt(OUTAGE):
        first = api.post(case.path, user=ALICE, headers=headers)
    assert first.status == 500, first.body
    retry = api.post(case.path, user=ALICE, headers=headers)
    _assert_committed_once(api, case, before, retry)
    [late] = fault.pending
    with pytest.raises(TransactWriteError):
        late()  # the first attempt's transaction arriving now: its fence fails, nothing applies
    assert _wallet(api)["balance_fen"] == before["balance_fen"] + case.amount_fen


def test_a_refusal_before_any_commit_is_recorded_and_replayed(api):
    top_up(api, ALICE, 100)
    order = api.post("/orders", {"items": [TEE], "payment_channel": "balance"}, user=ALICE).body
    headers = {"Idempotency-Key": "short"}
    short = api.post(f"/orders/{order['order_id']}/pay", user=ALICE, headers=headers)
    assert short.status == 409 and short.body["error"]["code"] == "insufficient_funds"
    again = api.post(f"/orders/{order['order_id']}/pay", user=ALICE, headers=headers)
    assert again.headers.get("Idempotent-Replayed") == "true" and again.body == short.body
