"""The lifecycle table: statuses as the API documents them, transitions as the business runs them,
named sets derived from the table, and no status string retyped anywhere else in the code."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from chalicelib import lifecycle
from chalicelib.errors import Conflict
from chalicelib.lifecycle import CASE, ITEM, LIFECYCLES, ORDER, PACKAGE, PARCEL, ItemStatus

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "docs" / "openapi.json"
DATA_MODEL = ROOT / "docs" / "data-model.md"
DOCUMENTED = {"item": ITEM, "order": ORDER, "package": PACKAGE, "inbound parcel": PARCEL}


def documented_statuses(text: str) -> dict[str, list[str]]:
    """`- item: \\`a\\`, \\`b\\` ...` lines of a "Statuses" section."""
    section = text.split("## Statuses", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    found: dict[str, list[str]] = {}
    for match in re.finditer(r"^- ([a-z ]+): ((?:`[a-z_]+`,?\s*)+)", section, re.M):
        found[match.group(1).strip()] = re.findall(r"`([a-z_]+)`", match.group(2))
    return found


def test_the_data_model_documents_the_lifecycle_table_as_generated():
    text = DATA_MODEL.read_text()
    assert lifecycle.with_section(text) == text, "run `make docs`"


def test_the_enums_are_the_statuses_the_data_model_documents():
    documented = documented_statuses(DATA_MODEL.read_text())
    for entity, machine in DOCUMENTED.items():
        assert documented[entity] == [s.value for s in machine.statuses], entity


def test_the_enums_are_the_statuses_the_api_contract_documents():
    schemas = json.loads(CONTRACT.read_text())["components"]["schemas"]
    for name, machine in {"ItemStatus": ITEM, "OrderStatus": ORDER, "PackageStatus": PACKAGE}.items():
        assert schemas[name]["enum"] == [s.value for s in machine.statuses], name
    assert schemas["ParcelStatus"]["enum"] == [s.value for s in PARCEL.statuses]


@pytest.mark.parametrize("machine", LIFECYCLES.values(), ids=LIFECYCLES.keys())
def test_every_status_but_the_first_is_reached_and_every_unfinished_one_can_move(machine):
    first = next(iter(machine.statuses))
    reached = {t.target for t in machine.transitions}
    created_directly = {ItemStatus.RECEIVED} if machine is ITEM else set()  # forwarded parcels
    created_directly |= {lifecycle.ParcelStatus.MATCHED, lifecycle.ParcelStatus.EXCEPTIONAL}
    created_directly |= set(lifecycle.Settlement) - {lifecycle.Settlement.DECLINED}  # when bought/packed
    created_directly |= {lifecycle.ThreadStatus.ANSWERED}  # a thread staff write in first
    # a provider's decision that overtook the dispute's opening
    created_directly |= {lifecycle.DisputeStatus.WON, lifecycle.DisputeStatus.LOST}
    for status in machine.statuses:
        if status != first and status not in created_directly:
            assert status in reached, f"{machine.entity}: nothing leads to {status}"
    assert first in machine.starts and set(machine.starts) <= {first, *created_directly}
    for status in machine.statuses:
        if status not in machine.final() and status not in (lifecycle.ParcelStatus.MATCHED,):
            assert any(status in t.sources for t in machine.transitions), status


def test_the_named_sets_come_from_the_table():
    # an item waiting on the customer's feedback has a feedback deadline, not a running storage clock
    assert lifecycle.CLOCK_RUNNING == ("in_warehouse", "not_transportable")
    assert lifecycle.AWAITING_FEEDBACK == ("inspection_issue", "awaiting_confirmation")
    assert (*lifecycle.CLOCK_RUNNING, "in_package") == lifecycle.IN_STORAGE
    assert lifecycle.PACKABLE == ("in_warehouse", "not_transportable")
    assert lifecycle.AWAITING_ARRIVAL == ("purchased", "shipped_domestic")
    returnable = {"received", *lifecycle.AWAITING_FEEDBACK, *lifecycle.CLOCK_RUNNING}
    assert set(lifecycle.CASE_OPEN_FOR) == returnable
    assert lifecycle.ITEM.sources("exchange") == lifecycle.CASE_OPEN_FOR
    assert lifecycle.REMARK_EDITABLE == (
        "pending_payment",
        "pending_review",
        "purchasing",
        "purchased",
        "shipped_domestic",
    )
    assert set(lifecycle.ITEM_FINAL) == {"delivered", "cancelled", "rejected", "returned", "destroyed"}
    assert ORDER.final() == ("rejected", "cancelled")
    assert set(PACKAGE.final()) == {"delivered", "cancelled"}
    assert CASE.final() == ("resolved",)


def test_an_action_from_the_wrong_status_is_a_409_in_the_business_words():
    ORDER.require("approve", "pending_review")
    with pytest.raises(Conflict, match="The order is approved; approve needs it to be pending_review"):
        ORDER.require("approve", "approved")
    assert PACKAGE.allows("cancel", "paid") and not PACKAGE.allows("cancel", "packed")


def test_who_may_trigger_an_action():
    assert ORDER.actors("approve") == (lifecycle.Actor.REVIEWER,)
    assert lifecycle.Actor.SYSTEM in PACKAGE.actors("expire")
    assert ITEM.actors("abandon") == (lifecycle.Actor.SYSTEM,)


def test_a_write_condition_is_built_from_the_table():
    from chalicelib.models.commerce import Item

    single = ORDER.condition(Item.status, "approve")
    many = ITEM.condition(Item.status, "cancel")
    assert str(single) == "status = {'S': 'pending_review'}"
    assert str(many) == ("status IN ({'S': 'pending_payment'}, {'S': 'pending_review'}, {'S': 'purchasing'})")


def test_a_move_builds_the_status_stamps_queue_keys_and_condition_from_the_table():
    from chalicelib.models.commerce import Item, Order
    from chalicelib.queues import shard_key

    order = Order("ord_1", status="pending_review")
    move = ORDER.move(order, "approve", now="2026-01-02T03:04:05Z", also=[Order.decided_by.set("stf")])
    written = [f"{type(a).__name__} {a}" for a in move.actions]
    assert written == [
        "SetAction status = {'S': 'approved'}",
        "SetAction decided_at = {'S': '2026-01-02T03:04:05Z'}",
        f"SetAction queue_key = {{'S': '{shard_key('approved', 'ord_1')}'}}",
        "SetAction queue_at = {'S': '2026-01-02T03:04:05Z'}",
        "SetAction decided_by = {'S': 'stf'}",
    ]
    assert str(move.condition) == "status = {'S': 'pending_review'}"
    # the object now holds what the write commits: the answer needs no re-read
    assert (order.status, order.decided_at, order.queue_at) == ("approved", *["2026-01-02T03:04:05Z"] * 2)
    assert order.queue_key == shard_key("approved", "ord_1")

    item = Item("itm_1", status="in_warehouse")
    move = ITEM.move(item, "package", now="t", source=item.status, when=Item.user_id == "u")
    assert str(move.condition) == "(status = {'S': 'in_warehouse'} AND user_id = {'S': 'u'})"
    assert item.status == "in_package" and item.updated_at == "t" and item.queue_key is None
    removed = [str(a) for a in move.actions if type(a).__name__ == "RemoveAction"]
    assert removed == ["queue_key", "queue_at"]


def test_a_transition_may_name_its_own_queue_and_an_action_with_several_targets_names_one():
    from chalicelib.models.commerce import Item
    from chalicelib.queues import shard_key

    item = Item("itm_2", status="purchasing")
    ITEM.move(item, "await_difference", now="t")
    assert (item.status, item.queue_key) == ("purchasing", shard_key("awaiting_payment", "itm_2"))
    item = Item("itm_3", status="in_package")
    with pytest.raises(KeyError):
        ITEM.move(item, "unpackage", now="t")
    ITEM.move(item, "unpackage", now="t", to=ItemStatus.NOT_TRANSPORTABLE)
    assert item.status == "not_transportable"


def test_a_dispute_is_a_word_in_its_payments_map_moved_by_the_table_under_a_condition():
    from chalicelib.lifecycle import DISPUTE, DisputeStatus
    from chalicelib.models.commerce import Payment

    entries: dict = {}
    opened = DISPUTE.start_entry(Payment.disputes, entries, "dp_1", DisputeStatus.OPEN, now="t0", held_fen=5)
    assert entries == {"dp_1": {"held_fen": 5, "state": "open", "updated_at": "t0"}}
    assert str(opened.condition) == "attribute_not_exists (disputes.dp_1)"
    assert [str(a) for a in opened.actions] == [
        "disputes = {'M': {'dp_1': {'M': {'held_fen': {'N': '5'}, 'state': {'S': 'open'}, "
        "'updated_at': {'S': 't0'}}}}}"
    ]
    won = DISPUTE.move_entry(Payment.disputes, entries, "dp_1", "win", now="t1", status="won")
    assert str(won.condition) == "disputes.dp_1.state = {'S': 'open'}"
    assert entries["dp_1"] == {
        "held_fen": 5,
        "state": "won",
        "status": "won",
        "updated_at": "t1",
        "decided_at": "t1",
    }
    with pytest.raises(Conflict):  # decided: final
        DISPUTE.move_entry(Payment.disputes, entries, "dp_1", "lose", now="t2")
    with pytest.raises(Conflict):  # opened once
        DISPUTE.start_entry(Payment.disputes, entries, "dp_1", DisputeStatus.OPEN, now="t2")
    # a decision that overtook its opening creates it decided, stamped as the decision stamps
    DISPUTE.start_entry(Payment.disputes, entries, "dp_2", DisputeStatus.LOST, now="t3")
    assert entries["dp_2"] == {"state": "lost", "updated_at": "t3", "decided_at": "t3"}
    assert DISPUTE.final() == (DisputeStatus.WON, DisputeStatus.LOST)


def test_a_move_from_a_status_the_table_does_not_allow_is_a_409():
    from chalicelib.models.commerce import Order

    with pytest.raises(Conflict, match="approve needs it to be pending_review"):
        ORDER.move(Order("ord_2", status="approved"), "approve", now="t", source="approved")


def test_a_transition_naming_a_foreign_status_is_refused():
    with pytest.raises(TypeError):
        lifecycle.Lifecycle(
            "x",
            lifecycle.OrderStatus,
            [lifecycle.Transition("go", (ItemStatus.RECEIVED,), ItemStatus.SHIPPED, ())],
        )


# --- no status retyped outside the table --------------------------------------------------------------

# every status, payment, settlement and staff-queue word
STATUS_WORDS = {s.value for machine in LIFECYCLES.values() for s in machine.statuses} | {
    s.value for s in (*lifecycle.DeclarationStatus, *lifecycle.Queue)
}


def status_literals(path: Path) -> list[tuple[int, str]]:
    """String constants naming a status, except dictionary keys (JSON field names such as "received")."""
    tree = ast.parse(path.read_text())
    keys = {
        id(k) for node in ast.walk(tree) if isinstance(node, ast.Dict) for k in node.keys if k is not None
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value in STATUS_WORDS
        and id(node) not in keys
    ]


def test_no_status_string_appears_outside_the_lifecycle_table():
    offenders = []
    for path in sorted((ROOT / "chalicelib").rglob("*.py")):
        if path.name == "lifecycle.py" or "catalog" in path.parts:
            continue
        offenders += [f"{path.relative_to(ROOT)}:{line}: {word!r}" for line, word in status_literals(path)]
    assert offenders == [], "use chalicelib.lifecycle instead:\n" + "\n".join(offenders)


def _model_names() -> set[str]:
    import importlib
    import pkgutil

    from pynamodb.models import Model

    import chalicelib.models

    for info in pkgutil.iter_modules(chalicelib.models.__path__):
        importlib.import_module(f"chalicelib.models.{info.name}")
    found, todo = set(), [Model]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.add(sub.__name__)
            todo.append(sub)
    return found


MODELS = _model_names()  # the PynamoDB model classes: a `status=` keyword to one is a status write


def _is_status(node: ast.AST, model_only: bool = False) -> bool:
    """`<x>.status`; with `model_only`, only on a PynamoDB model class (`Item.status`, `model.status`)."""
    if not (isinstance(node, ast.Attribute) and node.attr == "status"):
        return False
    if not model_only:
        return True
    base = node.value
    return isinstance(base, ast.Name) and (base.id[:1].isupper() or base.id == "model")


def status_writes(path: Path) -> list[tuple[int, str]]:
    """Status writes and hand-typed status conditions: `X.status.set(...)`, `X.status.is_in(...)`,
    `Model.status == ...` (a DynamoDB condition), `x.status = ...` (in memory: the move does it), and
    `Model(status=...)` (a new record starts by `Lifecycle.start`)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("set", "is_in", "remove") and _is_status(node.func.value):
                found.append((node.lineno, f"status.{node.func.attr}()"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in MODELS:
            if any(keyword.arg == "status" for keyword in node.keywords):
                found.append((node.lineno, f"{node.func.id}(status=...)"))
        elif isinstance(node, ast.Compare):
            if any(_is_status(side, model_only=True) for side in (node.left, *node.comparators)):
                found.append((node.lineno, "a status condition"))
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                parts = target.elts if isinstance(target, ast.Tuple) else [target]
                if any(_is_status(part) for part in parts):
                    found.append((node.lineno, "a status assignment"))
    return found


def test_every_status_write_and_condition_goes_through_the_lifecycle_table():
    offenders = []
    for path in sorted((ROOT / "chalicelib").rglob("*.py")):
        if path.name == "lifecycle.py" or "catalog" in path.parts:
            continue
        offenders += [f"{path.relative_to(ROOT)}:{line}: {what}" for line, what in status_writes(path)]
    assert offenders == [], "use lifecycle.<ENTITY>.move/check/start instead:\n" + "\n".join(offenders)


def test_the_write_check_sees_what_it_forbids(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "Item.status.set('x')\n"
        "cond = Order.status == 'y'\n"
        "cond = Item.status.is_in('a', 'b')\n"
        "item.status = 'z'\n"
        "order.status, order.paid_at = 'p', now\n"
        "ok = item.status == other\n"  # a read of an instance is no condition
        "Package('p', status='paid')\n"
    )
    assert "Package" in MODELS and "RouteSpec" not in MODELS
    assert sorted(line for line, _ in status_writes(sample)) == [1, 2, 3, 4, 5, 7]
