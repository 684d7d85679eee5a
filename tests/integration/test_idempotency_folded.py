"""The Idempotency-Key's record is written by the request's own transaction (issue 27): a first request
makes no DynamoDB request of its own for the key; a retry after its commit, a concurrent duplicate and
the same key with another body are all answered from the record the commit wrote, and money or a
provider payment is created once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress

import pytest
from botocore.client import BaseClient
from pynamodb.transactions import TransactWrite

from chalicelib.models.commerce import Payment, RequestRecord
from tests import contract, faults
from tests.faults import OUTAGE, FunctionKilled
from tests.integration.conftest import ALICE, top_up

pytestmark = pytest.mark.usefixtures("shop")

TEE = {"product_id": "prd_tee", "sku_id": "sku_tee_black_m", "quantity": 1}


@pytest.fixture
def fault(monkeypatch) -> faults.Faults:
    return faults.install(monkeypatch)


@contextmanager
def dynamodb_calls(monkeypatch) -> Iterator[list[tuple[str, set[str]]]]:
    """The DynamoDB operations made meanwhile (at botocore, PynamoDB's included), with their tables."""
    made: list[tuple[str, set[str]]] = []
    make_api_call = BaseClient._make_api_call

    def recording(client, operation_name, params):
        if client.meta.service_model.service_name == "dynamodb":
            tables = {params["TableName"]} if params.get("TableName") else set()
            tables |= set(params.get("RequestItems", {}))
            for action in params.get("TransactItems", []):
                tables |= {body["TableName"] for body in action.values()}
            made.append((operation_name, tables))
        return make_api_call(client, operation_name, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    try:
        yield made
    finally:
        monkeypatch.setattr(BaseClient, "_make_api_call", make_api_call)


@contextmanager
def transactions_sent_together(monkeypatch, parties: int = 2) -> Iterator[None]:
    """Every transaction waits until `parties` of them are ready, then all are sent: concurrent
    duplicates that both read and built before either committed."""
    barrier = threading.Barrier(parties, timeout=10)
    original = TransactWrite._commit

    def commit(tx):
        with suppress(threading.BrokenBarrierError):
            barrier.wait()
        return original(tx)

    monkeypatch.setattr(TransactWrite, "_commit", commit)
    try:
        yield
    finally:
        monkeypatch.setattr(TransactWrite, "_commit", original)


def at_once(calls):
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def balance(api) -> int:
    return api.get("/wallet", user=ALICE).body["balance_fen"]


def order_payments(api) -> int:
    entries = api.get("/wallet?limit=100", user=ALICE).body["entries"]
    return [e["kind"] for e in entries].count("order_payment")


def new_order(api) -> str:
    created = api.post("/orders", {"items": [TEE], "payment_channel": "balance"}, user=ALICE)
    assert created.status == 201, created.body
    return created.body["order_id"]


def payments_of(api) -> list[Payment]:
    return list(Payment.by_user.query(api.user_id(ALICE)))


def test_a_first_keyed_payment_makes_no_request_of_its_own_for_the_key(api, monkeypatch):
    top_up(api, ALICE, 50_000)
    requests_table = RequestRecord.Meta.table_name
    plain, keyed = new_order(api), new_order(api)
    with dynamodb_calls(monkeypatch) as unkeyed_calls:
        assert api.post(f"/orders/{plain}/pay", user=ALICE).status == 200
    with dynamodb_calls(monkeypatch) as keyed_calls:
        paid = api.post(f"/orders/{keyed}/pay", user=ALICE, headers={"Idempotency-Key": "first"})
    assert paid.status == 200, paid.body
    assert [op for op, _ in keyed_calls] == [op for op, _ in unkeyed_calls]  # not one request more
    [commit] = [tables for op, tables in keyed_calls if op == "TransactWriteItems"]
    assert requests_table in commit  # the key's record rides in the money's transaction
    assert not [op for op, tables in keyed_calls if requests_table in tables and op != "TransactWriteItems"]


def test_a_retry_after_the_commit_replays_it_with_one_read_of_the_key(api, monkeypatch):
    top_up(api, ALICE, 50_000)
    order_id = new_order(api)
    headers = {"Idempotency-Key": "pay-then-retry"}
    paid = api.post(f"/orders/{order_id}/pay", user=ALICE, headers=headers)
    with dynamodb_calls(monkeypatch) as made:
        again = api.post(f"/orders/{order_id}/pay", user=ALICE, headers=headers)
    assert again.status == 200 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.body == paid.body
    assert order_payments(api) == 1
    # the order's read refuses (paid already); the refusal's record finds the committed one, read once
    assert [op for op, tables in made if RequestRecord.Meta.table_name in tables] == ["PutItem", "GetItem"]


def test_two_concurrent_identical_payments_move_money_once_and_answer_alike(api, monkeypatch):
    top_up(api, ALICE, 50_000)
    order_id = new_order(api)
    before = balance(api)
    api.token(ALICE)
    headers = {"Idempotency-Key": "double-click"}
    pay = lambda: api.post(f"/orders/{order_id}/pay", user=ALICE, headers=headers)  # noqa: E731
    with transactions_sent_together(monkeypatch):
        first, second = at_once([pay, pay])
    assert (first.status, second.status) == (200, 200), (first.body, second.body)
    assert first.body == second.body
    replayed = sorted(str(r.headers.get("Idempotent-Replayed")) for r in (first, second))
    assert replayed == ["None", "true"]  # the loser of the key's condition replays the winner
    assert order_payments(api) == 1
    assert balance(api) == before - first.body["charges"]["total_fen"]


def test_two_concurrent_identical_top_ups_create_one_provider_payment(api, monkeypatch):
    """Both run before either commits: both ask the provider under the key's derived payment id (the
    provider's own idempotency key is made from it: one provider payment), and one payment is stored."""
    from chalicelib.providers.simulated import SimulatedProvider

    asked: list[str] = []
    create = SimulatedProvider.create

    def spying(provider, payment, amount):
        asked.append(payment.payment_id)
        return create(provider, payment, amount)

    monkeypatch.setattr(SimulatedProvider, "create", spying)
    api.token(ALICE)
    headers = {"Idempotency-Key": "top-up-twice"}
    body = {"amount_fen": 10_000, "channel": "alipay"}
    post = lambda: api.post("/wallet/top-ups", body, user=ALICE, headers=headers)  # noqa: E731
    with transactions_sent_together(monkeypatch):
        first, second = at_once([post, post])
    assert (first.status, second.status) == (201, 201), (first.body, second.body)
    assert first.body == second.body
    assert len(asked) == 2 and len(set(asked)) == 1  # the same payment, so the same provider key
    assert [p.payment_id for p in payments_of(api)] == [first.body["payment_id"]]


def test_a_top_up_killed_after_its_commit_is_replayed_and_creates_no_second_payment(api, fault):
    headers = {"Idempotency-Key": "top-up-killed"}
    body = {"amount_fen": 10_000, "channel": "alipay"}
    fault.arm(FunctionKilled, table=RequestRecord.Meta.table_name)
    with pytest.raises(FunctionKilled):
        api.post("/wallet/top-ups", body, user=ALICE, headers=headers)
    [stored] = payments_of(api)
    retry = api.post("/wallet/top-ups", body, user=ALICE, headers=headers)
    assert retry.status == 201 and retry.headers.get("Idempotent-Replayed") == "true"
    assert retry.body["payment_id"] == stored.payment_id
    assert len(payments_of(api)) == 1


def test_a_top_up_whose_commit_was_ambiguous_answers_what_was_committed(api, fault):
    headers = {"Idempotency-Key": "top-up-ambiguous"}
    body = {"amount_fen": 10_000, "channel": "alipay"}
    fault.arm(faults.ambiguous, table=RequestRecord.Meta.table_name)
    with contract.exempt(OUTAGE):
        first = api.post("/wallet/top-ups", body, user=ALICE, headers=headers)
    assert fault.fired == 1
    assert first.status == 201, first.body  # its own commit, found by the key's record
    again = api.post("/wallet/top-ups", body, user=ALICE, headers=headers)
    assert again.body == first.body and again.headers.get("Idempotent-Replayed") == "true"
    assert len(payments_of(api)) == 1


def test_a_commit_that_never_applied_lets_the_retry_create_the_one_payment(api, fault):
    headers = {"Idempotency-Key": "top-up-lost"}
    body = {"amount_fen": 10_000, "channel": "alipay"}
    fault.arm(faults.ambiguous, apply=False, table=RequestRecord.Meta.table_name)
    with contract.exempt(OUTAGE):
        first = api.post("/wallet/top-ups", body, user=ALICE, headers=headers)
    assert first.status == 500 and payments_of(api) == []
    retry = api.post("/wallet/top-ups", body, user=ALICE, headers=headers)
    assert retry.status == 201, retry.body
    [late] = fault.pending
    with pytest.raises(Exception):  # noqa: B017 (pynamodb's TransactWriteError: the key has its record)
        late()
    assert [p.payment_id for p in payments_of(api)] == [retry.body["payment_id"]]


def test_the_same_key_with_another_body_is_refused_and_creates_nothing(api):
    headers = {"Idempotency-Key": "top-up-reused"}
    first = api.post(
        "/wallet/top-ups", {"amount_fen": 10_000, "channel": "alipay"}, user=ALICE, headers=headers
    )
    assert first.status == 201, first.body
    other = api.post(
        "/wallet/top-ups", {"amount_fen": 9_000, "channel": "alipay"}, user=ALICE, headers=headers
    )
    assert other.status == 409 and "different request body" in other.body["error"]["message"]
    assert [p.payment_id for p in payments_of(api)] == [first.body["payment_id"]]


def _awaiting_payment(api) -> str:
    from tests.integration.test_packages import ADDRESS, stored

    body = {"item_ids": stored(api), "address": ADDRESS, "line_id": "ems", "services": []}
    package = api.post("/packages", body, user=ALICE)
    assert package.status == 201, package.body
    return package.body["package_id"]


def test_paying_a_package_through_a_provider_makes_three_requests_and_asking_again_answers_it(
    api, monkeypatch
):
    """The package (its rates riding along), its payment by its derived id with its items, the payment's
    transaction with the key's record: as many as its checkout; a second ask creates nothing."""
    package_id = _awaiting_payment(api)
    path = f"/packages/{package_id}/pay"
    with dynamodb_calls(monkeypatch) as made:
        paying = api.post(path, {"channel": "card"}, user=ALICE, headers={"Idempotency-Key": "pay-card"})
    assert paying.status == 200, paying.body
    assert [op for op, _ in made] == ["BatchGetItem", "BatchGetItem", "TransactWriteItems"]
    payment = paying.body["payment"]
    assert len(paying.body["items"]) == len(api.get(f"/packages/{package_id}", user=ALICE).body["items"])
    with dynamodb_calls(monkeypatch) as made:
        checkout = api.post(
            f"/packages/{package_id}/checkout",
            {"channel": "card"},
            user=ALICE,
            headers={"Idempotency-Key": "co"},
        )
    assert checkout.status == 201 and checkout.body["payment_id"] == payment["payment_id"]
    # the waiting payment found by its id; no transaction: its answer is recorded alone
    assert [op for op, _ in made] == ["BatchGetItem", "BatchGetItem", "PutItem"]
    again = api.post(path, {"channel": "card"}, user=ALICE)
    assert again.status == 200 and again.body["payment"]["payment_id"] == payment["payment_id"]
    assert [p.payment_id for p in payments_of(api) if p.package_id == package_id] == [payment["payment_id"]]


def test_concurrent_checkouts_under_different_keys_create_one_provider_payment(api, monkeypatch):
    package_id = _awaiting_payment(api)
    api.token(ALICE)

    def checkout(key):
        body = {"channel": "card"}
        return lambda: api.post(
            f"/packages/{package_id}/checkout", body, user=ALICE, headers={"Idempotency-Key": key}
        )

    with transactions_sent_together(monkeypatch):
        first, second = at_once([checkout("tab-1"), checkout("tab-2")])
    assert (first.status, second.status) == (201, 201), (first.body, second.body)
    assert first.body["payment_id"] == second.body["payment_id"]
    assert [p.payment_id for p in payments_of(api) if p.package_id == package_id] == [
        first.body["payment_id"]
    ]
