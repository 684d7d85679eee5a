"""International packages (seed steps 5-7): quote, submit, pay, cancel, pack, ship, receipt and rating.

Every state change is one conditional DynamoDB transaction built by `wallet.run`, which re-runs the
build on a lost race; each build re-reads what it needs and raises Conflict itself when the state no
longer allows the action, so two concurrent requests never both win. Money moves only as ledger legs in
the same transaction. Prices come from `rules.shipping.price()` only: the quote, the charge at
submission and the final charge after packing (with the rates snapshotted at submission).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import timedelta

from pynamodb.exceptions import PutError

from chalicelib import (
    clock,
    config,
    currency,
    customs,
    db,
    ids,
    lifecycle,
    money,
    photo_requests,
    service_work,
    storage,
    uow,
    wallet,
)
from chalicelib.errors import ApiError, Conflict, InsufficientFunds, NotFound, ValidationError
from chalicelib.items import plain, with_account
from chalicelib.lifecycle import SETTLEMENT, ItemStatus, PackageStatus, Queue
from chalicelib.logs import get_logger
from chalicelib.models.commerce import Item, Payment
from chalicelib.models.packages import Package, PackageReview
from chalicelib.queues import queue_page
from chalicelib.rules import settlement
from chalicelib.rules import shipping as rules
from chalicelib.rules import storage as storage_rules
from chalicelib.tracking import normalise_tracking

log = get_logger("packages")

MAX_ITEMS_PER_PACKAGE = 50  # one transaction: the package, its items and the wallet legs (limit 100)
PACKABLE = lifecycle.PACKABLE
STAFF_QUEUES = (Queue.PAID, Queue.PACKED, Queue.AWAITING_PAYMENT, Queue.REHEARSED)
CONFIRM_DAY_SHARDS = 4


@dataclass
class PackageResult:
    """A package as a route committed (or read) it, with its items and, once rated, its review; the view
    (responses/packages.py) turns it into JSON."""

    package: Package
    items: list[Item]
    review: PackageReview | None = None
    payment: Payment | None = None  # the provider payment to complete (paying through an external channel)


# --- reading -------------------------------------------------------------------------------------------


def _package(package_id: str, *, batch: bool = False) -> Package:
    if not package_id or len(package_id) > 64:
        raise NotFound("No such package.")
    try:
        return db.get(Package, package_id) if batch else Package.get(package_id, consistent_read=True)
    except Package.DoesNotExist:
        raise NotFound("No such package.") from None


def own_package(user_id: str, package_id: str, *, batch: bool = False) -> Package:
    """The caller's package (404 for another's). `batch`: read it as a batch read, so the request's
    riders (the caller's currency, chalicelib/db.py) come along instead of costing a request of their own."""
    package = _package(package_id, batch=batch)
    if package.user_id != user_id:
        raise NotFound("No such package.")
    return package


def _items_by_id(item_ids: list[str]) -> dict[str, Item]:
    found: dict[str, Item] = {}
    for start in range(0, len(item_ids), 100):  # db.batch_read: the first carries the request's riders
        rows = db.batch_read([(Item, (i,)) for i in item_ids[start : start + 100]])
        found.update({i.item_id: i for i in rows.values()})
    return found


def package_items(package: Package) -> list[Item]:
    found = _items_by_id(list(package.item_ids))
    return [found[i] for i in package.item_ids if i in found]


def _review(package_id: str) -> PackageReview | None:
    try:
        return PackageReview.get(package_id)
    except PackageReview.DoesNotExist:
        return None


def package_line(package: Package) -> rules.Line:
    """The shipping line as snapshotted when the package was submitted (its estimate included)."""
    return rules.Line.from_json(plain(package.rates)["line"])


def auto_confirm_days(package: Package) -> int:
    """Days after shipping when this package counts as delivered: its line's longest estimate + margin."""
    return rules.line_auto_confirm_days(package_line(package))


def auto_confirm_at(package: Package) -> str | None:
    """When a shipped package counts as delivered unless the customer confirms it first."""
    if package.auto_confirm_at:
        return package.auto_confirm_at
    if not package.shipped_at:
        return None
    return clock.iso(clock.parse_iso(package.shipped_at) + timedelta(days=auto_confirm_days(package)))


def get_package(user_id: str, package_id: str) -> PackageResult:
    package = own_package(user_id, package_id)
    return PackageResult(package, package_items(package), _review(package_id))


def staff_package(package_id: str) -> PackageResult:
    package = _package(package_id)
    return PackageResult(package, package_items(package), _review(package_id))


def _paged(read, cursor: dict | None):
    """A page read with the client's cursor; a cursor DynamoDB refuses is the client's error (400)."""
    try:
        return read()
    except ApiError:
        raise
    except Exception:
        if cursor is None:
            raise
        raise ValidationError("cursor is not one this API returned.") from None


def list_packages(user_id: str, limit: int, cursor: dict | None) -> tuple[list[Package], dict | None]:
    def read() -> tuple[list[Package], dict | None]:
        result = Package.by_user.query(
            user_id, scan_index_forward=False, limit=limit, last_evaluated_key=cursor
        )
        # the index projects keys only: the packages in one BatchGetItem, which the request's riders share
        return list(db.records(Package, result)), result.last_evaluated_key

    return _paged(read, cursor)


def queue(status: str, limit: int, cursor: dict | None) -> tuple[list[PackageResult], dict | None]:
    """A warehouse queue (oldest first) with each package's items, so packers know what to pick."""
    packages, next_cursor = _paged(lambda: queue_page(Package, status, limit, cursor), cursor)
    found = _items_by_id([i for p in packages for i in p.item_ids])
    rows = [PackageResult(p, [found[i] for i in p.item_ids if i in found]) for p in packages]
    return rows, next_cursor


def shipping_lines(country: str | None) -> list[dict]:
    return [line.as_json() for line in rules.lines().values() if country is None or line.serves(country)]


def catalog() -> dict:
    """The value-added services and the service fee rule (what a storefront shows next to the quote)."""
    return {
        "services": [s.as_json() for s in rules.services().values()],
        "service_fee": rules.service_fee_rule().as_json(),
        "auto_confirm_days": rules.auto_confirm_days(),
        "auto_confirm_margin_days": rules.auto_confirm_margin_days(),
    }


# --- goods -----------------------------------------------------------------------------------------------


def goods_flags(item: Item) -> set[str]:
    """What a line may refuse: the catalog's transport flags and the hazards the inspection recorded."""
    attributes = plain(item.attributes) or {}
    inspection = plain(item.inspection) or {}
    return {*(attributes.get("transport_flags") or []), *(inspection.get("hazards") or [])}


def _goods_value_fen(item: Item) -> int:
    purchase = plain(item.purchase) or {}
    unit = purchase.get("actual_unit_price_fen", item.unit_price_fen)
    return int(unit or 0) * int(item.quantity or 1)


def _volume_cm3(dims: dict | None) -> int:
    dims = dims or {}
    return int(dims.get("l", 0)) * int(dims.get("w", 0)) * int(dims.get("h", 0))


def _stored_items(user_id: str, item_ids: list[str]) -> list[Item]:
    """The caller's items, each stored and not in another package (404 / 409 otherwise)."""
    if not item_ids:
        raise ValidationError("item_ids must name at least one item.")
    if len(set(item_ids)) != len(item_ids):
        raise ValidationError("item_ids has duplicates.")
    if len(item_ids) > MAX_ITEMS_PER_PACKAGE:
        raise ValidationError(f"A package holds at most {MAX_ITEMS_PER_PACKAGE} items.")
    found = _items_by_id(item_ids)
    items = []
    for item_id in item_ids:
        item = found.get(item_id)
        if item is None or item.user_id != user_id:
            raise NotFound(f"No such item {item_id}.")
        if item.status == ItemStatus.IN_PACKAGE:
            raise Conflict(f"Item {item_id} is already in package {item.package_id}.")
        if item.status not in PACKABLE:
            raise Conflict(
                f"Item {item_id} is {item.status}; only items stored in the warehouse can be packed."
            )
        if item.open_case_id:
            raise Conflict(
                f"Item {item_id} has an open after-sales case {item.open_case_id}; "
                "it can be packed once the case is resolved."
            )
        if item.weight_g is None or not item.dims_cm:
            raise Conflict(f"Item {item_id} has not been weighed and measured yet.")
        if item.status == ItemStatus.NOT_TRANSPORTABLE and not (plain(item.inspection) or {}).get("hazards"):
            raise Conflict(f"Item {item_id} cannot be transported.")
        items.append(item)
    return items


def _shipment(items: list[Item], declared_value_fen: int | None) -> rules.Shipment:
    return rules.Shipment(
        weight_g=sum(int(i.weight_g) for i in items),
        volume_cm3=sum(_volume_cm3(plain(i.dims_cm)) for i in items),
        item_count=len(items),
        declared_value_fen=(
            sum(_goods_value_fen(i) for i in items) if declared_value_fen is None else declared_value_fen
        ),
    )


def _check_services(chosen: list[str]) -> dict[str, rules.Service]:
    catalog = rules.services()
    unknown = [s for s in chosen if s not in catalog]
    if unknown:
        raise ValidationError(f"Unknown services: {', '.join(unknown)}; one of: {', '.join(catalog)}.")
    if len(set(chosen)) != len(chosen):
        raise ValidationError("services has duplicates.")
    return catalog


def _price(line: rules.Line, shipment: rules.Shipment, chosen, fee_rule, catalog) -> rules.Price:
    try:
        return rules.price(line, shipment, chosen, fee_rule, catalog)
    except rules.RuleError as exc:
        raise ValidationError(str(exc)) from None


# --- quote and submit ------------------------------------------------------------------------------------


def quote(
    user_id: str, item_ids: list[str], country: str, chosen: list[str], declared_value_fen: int | None
) -> dict:
    """Every line that may carry these items to `country`, cheapest first, priced by `rules.price()`."""
    country = country.upper()
    if not any(line.serves(country) for line in rules.lines().values()):
        raise ValidationError(f"No shipping line delivers to {country}; see GET /shipping-lines.")
    catalog = _check_services(chosen)
    fee_rule = rules.service_fee_rule()
    items = _stored_items(user_id, item_ids)
    shipment = _shipment(items, declared_value_fen)
    goods = set().union(*(goods_flags(i) for i in items))
    quotes, unavailable = [], []
    for line in rules.lines().values():
        reason = rules.refusal(line, country, shipment.weight_g, goods)
        if reason:
            if line.serves(country):
                unavailable.append({"line_id": line.line_id, "reason": reason})
            continue
        priced = _price(line, shipment, chosen, fee_rule, catalog)
        quotes.append(
            {
                "line_id": line.line_id,
                "name": line.name,
                "carrier": line.carrier,
                "est_days": line.est_days,
                **priced.as_json(),
                "max_charge_without_consent_fen": priced.total_fen
                + packing_consent_threshold_fen(priced.total_fen),
            }
        )
    quotes.sort(key=lambda q: (q["total_fen"], q["line_id"]))
    return {
        "country": country,
        "item_ids": list(item_ids),
        "services": list(chosen),
        "declared_value_fen": shipment.declared_value_fen,
        "quotes": quotes,
        "unavailable": unavailable,
    }


def _charge_fields(priced) -> dict:
    """A package's charge fields from a price (rules/shipping.price): the quote at creation, the final
    charge at packing."""
    return {
        "actual_weight_g": priced.actual_weight_g,
        "volumetric_weight_g": priced.volumetric_weight_g,
        "chargeable_weight_g": priced.chargeable_weight_g,
        "shipping_fen": priced.shipping_fen,
        "service_fee_fen": priced.service_fee_fen,
        "services_fen": priced.services_fen,
        "services_breakdown": dict(priced.service_lines),
        "total_fen": priced.total_fen,
    }


def create(
    user_id: str,
    item_ids: list[str],
    address: dict,
    line_id: str,
    chosen: list[str],
    declared_value_fen: int | None,
    customs_sent: dict | None = None,
) -> PackageResult:
    """Submit a package: the items become `in_package` (their storage clock stops) in one transaction.
    `customs_sent`: the declaration lines and tax ids (chalicelib/customs.py); the lines' total is the
    declared value."""
    line = rules.lines().get(line_id)
    if line is None:
        raise ValidationError(f"Unknown line_id {line_id!r}; see GET /shipping-lines.")
    address = {k: v for k, v in address.items() if v is not None}
    address["country"] = address["country"].upper()
    if not line.serves(address["country"]):
        raise ValidationError(f"{line.name} does not deliver to {address['country']}.")
    catalog = _check_services(chosen)
    fee_rule = rules.service_fee_rule()
    rates = rules.rates_snapshot(line, chosen)

    def unit() -> uow.Unit:
        items = _stored_items(user_id, item_ids)
        declared = customs.declaration(items, address["country"], customs_sent, declared_value_fen)
        shipment = _shipment(items, declared["total_fen"])
        goods = set().union(*(goods_flags(i) for i in items))
        reason = rules.refusal(line, address["country"], shipment.weight_g, goods)
        if reason:
            raise ValidationError(reason + " Choose a line from POST /packages/quote.")
        priced = _price(line, shipment, chosen, fee_rule, catalog)
        now_dt = clock.now()
        now = clock.iso(now_dt)
        package_id = ids.new_id("pkg")
        payment_due = now_dt + timedelta(days=config.get_int("PACKAGE_PAYMENT_DAYS"))
        package = Package(
            package_id,
            user_id=user_id,
            item_ids=list(item_ids),
            item_statuses={i.item_id: i.status for i in items},
            line_id=line.line_id,
            country=address["country"],
            address=address,
            services=list(chosen),
            declared_value_fen=shipment.declared_value_fen,
            customs=declared,
            rates=rates,
            estimate=priced.as_json(),
            **_charge_fields(priced),
            payment_due_at=clock.iso(payment_due),
            deadline_key=storage_rules.deadline_key(payment_due, package_id),
            created_at=now,
            updated_at=now,
        )
        lifecycle.PACKAGE.start(package, PackageStatus.PENDING_PAYMENT, now=now)
        work = uow.Unit(result=PackageResult(package, items))
        work.save(package, Package.package_id.does_not_exist())
        also = [
            Item.package_id.set(package.package_id),
            Item.deadline_key.remove(),  # the storage clock stops; the sweep never sees it
        ]
        when = (Item.user_id == user_id) & Item.open_case_id.does_not_exist()
        for item in items:
            work.update(
                item, *lifecycle.ITEM.move(item, "package", now=now, source=item.status, also=also, when=when)
            )
            item.package_id = package.package_id
        return work

    submitted = uow.run(unit)
    package = submitted.package
    log.info(
        "package submitted", extra={"package_id": package.package_id, "total_fen": int(package.total_fen)}
    )
    return submitted


# --- paying and cancelling ---------------------------------------------------------------------------------


def pay(user_id: str, package_id: str) -> PackageResult:
    """Debit the total from the wallet; the package joins the packing queue.

    Three DynamoDB requests: the package, its items and the wallet account in one batch, one transaction;
    the answer is built from what was committed."""

    def unit() -> uow.Unit:
        package = own_package(user_id, package_id)
        lifecycle.PACKAGE.require("pay", package.status)
        items, work = _items_and_account(package)
        total = int(package.total_fen)
        now = clock.now_iso()
        snap = currency.snapshot() or currency.stored(package.fx)  # the rate paid at, if one was asked for
        work.move(user_id, -total, "package_payment", package.package_id, snap)
        also = [
            *([Package.fx.set(snap)] if snap else []),
            Package.paid_fen.set(total),
            Package.deadline_key.remove(),  # paid: no longer expires
        ]
        work.update(package, *lifecycle.PACKAGE.move(package, "pay", now=now, also=also))
        package.paid_fen, package.fx = total, snap
        work.result = PackageResult(package, items)
        return work

    body = uow.run(unit)
    log.info("package paid", extra={"package_id": package_id})
    return body


def _items_and_account(package: Package) -> tuple[list[Item], uow.Unit]:
    items, _, work = with_account(package.user_id, package.item_ids)
    return items, work


def cancel(user_id: str, package_id: str) -> PackageResult:
    """Before packing: the items return to storage with their deadline; what was paid is refunded."""

    def unit() -> uow.Unit:
        package = own_package(user_id, package_id)
        lifecycle.PACKAGE.require("cancel", package.status)  # only before packing
        return _release(package, "cancel", "customer")

    body = uow.run(unit)
    log.info("package cancelled", extra={"package_id": package_id})
    return body


def expire(package: Package) -> bool:
    """An unpaid package past its payment deadline (the storage sweep): cancelled, items back in storage
    with their deadlines, the customer told. False when it was paid or cancelled meanwhile."""

    def unit() -> uow.Unit:
        current = _package(package.package_id)
        if not lifecycle.PACKAGE.allows("expire", current.status) or (current.payment_due_at or "") > (
            clock.now_iso()
        ):
            return uow.Unit(result=None)
        work = _release(current, "expire", "payment_expired")
        work.notify(
            current.user_id,
            "package_expired",
            {
                "package_id": current.package_id,
                "days": config.get_int("PACKAGE_PAYMENT_DAYS"),
                "item_count": len(current.item_ids),
            },
        )
        return work

    body = uow.run(unit)
    if body is None:
        return False
    log.info("unpaid package expired", extra={"package_id": package.package_id})
    return True


def _release(
    package: Package, action: str, reason: str, kept_fen: int = 0, also: tuple | list = (), when=None
) -> uow.Unit:
    """The unit that cancels `package` (by `action`): refund what was paid (less `kept_fen`, a service
    already done), items back on the shelf; `also` and `when` add to the package's update.

    An item's storage clock resumes with its own deadline, never less than the grace period from now, and
    its deadline index key is on a day the sweep will still read (see rules.storage.deadline_key)."""
    items, work = _items_and_account(package)
    previous = plain(package.item_statuses) or {}
    refund = max(0, int(package.paid_fen or 0) - int(package.refunded_fen or 0) - kept_fen)
    extra, extra_when = list(also), when
    now_dt = clock.now()
    now = clock.iso(now_dt)
    grace = config.get_int("STORAGE_RESUME_GRACE_DAYS")
    work.move(package.user_id, refund, "package_refund", package.package_id, currency.stored(package.fx))
    refunded = int(package.refunded_fen or 0) + refund
    also = [
        Package.cancel_reason.set(reason),
        Package.refunded_fen.set(refunded),
        *(extra or [Package.deadline_key.remove()]),
    ]
    move = lifecycle.PACKAGE.move(package, action, now=now, source=package.status, also=also, when=extra_when)
    work.update(package, *move)
    reread: set = set()  # deadline days a reminder window may have read while the items were packed
    for item in items:
        status = previous.get(item.item_id)
        if status not in lifecycle.ITEM.targets("unpackage"):
            status = lifecycle.ItemStatus.IN_WAREHOUSE
        also = [Item.package_id.remove()]
        if item.storage_expires_at:
            also += storage.resume_clock_actions(item, now_dt, grace)
            reread.add(storage.reread_day(item, now_dt))
        when = Item.package_id == package.package_id
        work.update(item, *lifecycle.ITEM.move(item, "unpackage", now=now, to=status, also=also, when=when))
        item.package_id = None
    if reread - {None}:
        work.write(storage.reread_reminders(reread))
    package.cancel_reason, package.refunded_fen = reason, refunded
    work.result = PackageResult(package, items)
    return work


# --- packing ---------------------------------------------------------------------------------------------


def _final_price(package: Package, weight_g: int, dims_cm: dict) -> rules.Price:
    """The final charge for the packed weight and size, by the rates snapshotted at submission (409 when
    over the line's weight limit); only a paid package is packed."""
    if not lifecycle.PACKAGE.allows("pack", package.status):
        raise Conflict(f"The package is {package.status}; only paid packages are packed.")
    line, fee_rule, catalog = rules.from_snapshot(plain(package.rates))
    if weight_g > line.max_weight_g:
        raise Conflict(
            f"{weight_g} g is over the {line.max_weight_g} g limit of {line.name}; "
            "the customer must cancel and split the package."
        )
    shipment = rules.Shipment(
        weight_g=weight_g,
        volume_cm3=_volume_cm3(dims_cm),
        item_count=len(package.item_ids),
        declared_value_fen=int(package.declared_value_fen),
    )
    # a paid service refunded as not done is not charged again (service_work.py)
    return _price(line, shipment, service_work.charged_services(package), fee_rule, catalog)


def packing_consent_threshold_fen(held_fen: int) -> int:
    """The largest higher final charge taken without asking: the lower of PACKING_DIFFERENCE_CONFIRM_PERCENT
    of what the package holds paid and PACKING_DIFFERENCE_CONFIRM_FEN (the purchase rule's shape)."""
    return settlement.purchase_consent_threshold_fen(
        held_fen,
        config.get_decimal("PACKING_DIFFERENCE_CONFIRM_PERCENT"),
        config.get_int("PACKING_DIFFERENCE_CONFIRM_FEN"),
    )


def pack_difference(package: Package, final: rules.Price) -> settlement.Difference:
    """The final charge minus what the package holds paid, with its consent threshold; refunds uncapped."""
    held = int(package.paid_fen or 0) - int(package.refunded_fen or 0)
    return settlement.Difference(
        amount_fen=final.total_fen - held, consent_threshold_fen=packing_consent_threshold_fen(held)
    )


def max_charge_without_consent_fen(package: Package) -> int:
    """The binding quote: the quote plus what packing may add to it without asking."""
    quoted = int((plain(package.estimate) or {}).get("total_fen", package.total_fen))
    return quoted + packing_consent_threshold_fen(quoted)


def rehearsed(package: Package) -> bool:
    """Whether the customer ordered a rehearsal: packing waits for their confirmation."""
    return rules.REHEARSAL in (package.services or [])


def preview_pack(package_id: str, weight_g: int, dims_cm: dict):
    """What packing at this weight and size would charge and settle now; moves no money.
    One or two DynamoDB reads: the package, and the wallet when a charge depends on its balance."""
    package = _package(package_id)
    final = _final_price(package, weight_g, dims_cm)
    difference = pack_difference(package, final)
    if rehearsed(package):  # nothing moves: the customer confirms the exact final charge
        return package, final, difference, rehearsal_decision(difference)
    balance = wallet.balance_fen(package.user_id) if settlement.needs_balance(difference) else None
    return package, final, difference, settlement.decide(difference, balance)


def rehearsal_decision(difference: settlement.Difference) -> settlement.Decision:
    """A rehearsal's settlement: nothing moves at packing, the customer confirms (and pays what is more)."""
    return settlement.Decision(
        settlement.Settlement.AWAITING_CONFIRMATION, due_fen=max(0, difference.amount_fen)
    )


def pack(package_id: str, staff_id: str, weight_g: int, dims_cm: dict) -> PackageResult:
    """`packed` with the measured weight and size; the final charge is repriced by the same rule and the
    difference refunded, or charged through the ledger up to the consent threshold. Above it, or when
    the wallet is short, the package waits for the customer until its answer deadline
    (`awaiting_difference`); a package with a rehearsal waits for the customer's confirmation
    (`rehearsed`) and moves no money until then."""

    def build(may_charge: bool):
        def unit() -> uow.Unit:
            package = _package(package_id)
            final = _final_price(package, weight_g, dims_cm)
            service_work.require_done(package)  # 409 naming the paid services not done yet
            paid, refunded = int(package.paid_fen or 0), int(package.refunded_fen or 0)
            difference = pack_difference(package, final)
            if rehearsed(package):
                return _rehearse(package, final, difference, staff_id, weight_g, dims_cm)
            # a caller that may not charge (the balance dropped under us) decides against an empty wallet
            balance = (
                wallet.balance_fen(package.user_id)
                if may_charge and settlement.needs_balance(difference)
                else 0
            )
            decision = settlement.decide(difference, balance)
            work = uow.Unit()
            package_fx = currency.stored(package.fx)  # the rate the package was paid at
            due = decision.due_fen
            action = "pack_await_difference" if decision.waits_for_customer else "pack"
            if decision.charge_fen:
                work.move(
                    package.user_id,
                    -decision.charge_fen,
                    "package_difference_charge",
                    package.package_id,
                    package_fx,
                )
                paid += decision.charge_fen
            elif decision.refund_fen:
                work.move(
                    package.user_id,
                    decision.refund_fen,
                    "package_difference_refund",
                    package.package_id,
                    package_fx,
                )
                refunded += decision.refund_fen
            now = clock.now_iso()
            packed = {
                "weight_g": weight_g,
                "dims_cm": dict(dims_cm),
                "packed_at": now,
                "packed_by": staff_id,
                "difference_fen": difference.amount_fen,
                "settlement": decision.settlement.value,
            }
            also = db.assign(
                package,
                packed=packed,
                **_charge_fields(final),
                paid_fen=paid,
                refunded_fen=refunded,
                due_fen=due,
            )
            if due:
                also += _answer_deadline(package)
            work.update(package, *lifecycle.PACKAGE.move(package, action, now=now, also=also))
            if due:
                _notify_difference(work, package, decision, difference)
            items = package_items(package)
            photo_requests.guard_packing(work, items)  # paid extra photos are taken before sealing
            # as committed (db.assign and the move set it in memory); a paid package has no review yet
            work.result = PackageResult(package, items)
            return work

        return unit

    try:
        packed = uow.run(build(may_charge=True))
    except InsufficientFunds:  # the balance dropped between our read and the commit: leave it due
        packed = uow.run(build(may_charge=False))
    log.info("package packed", extra={"package_id": package_id, "due_fen": packed.package.due_fen})
    return packed


def pay_difference(user_id: str, package_id: str) -> PackageResult:
    """The customer pays a higher final charge from the wallet; the package becomes ready to ship.
    Conditional on the status and the amount due: a deadline sweep that returned the package to storage
    first makes this a 409 that moves no money."""

    def unit() -> uow.Unit:
        package = own_package(user_id, package_id)
        due = int(package.due_fen or 0)
        if not lifecycle.PACKAGE.allows("pay_difference", package.status) or due <= 0:
            raise Conflict("Nothing is due on this package.")
        items, work = _items_and_account(package)
        now = clock.now_iso()
        work.move(user_id, -due, "package_difference_charge", package.package_id, currency.stored(package.fx))
        packed = plain(package.packed) or {}
        packed["settlement"] = SETTLEMENT.target("pay_difference").value
        also = [
            Package.paid_fen.set(int(package.paid_fen or 0) + due),
            Package.due_fen.set(0),
            Package.packed.set(packed),
            *_answered(),
        ]
        when = Package.due_fen == due
        work.update(
            package, *lifecycle.PACKAGE.move(package, "pay_difference", now=now, also=also, when=when)
        )
        package.paid_fen, package.due_fen, package.packed = int(package.paid_fen or 0) + due, 0, packed
        package.payment_due_at = package.deadline_key = None
        work.result = PackageResult(package, items)
        return work

    return uow.run(unit)


# --- a packed package waiting on the customer (issue 24): its deadline, answers and reminders ----------


def _answer_deadline(package: Package) -> list:
    """The update actions giving a package that now waits on the customer its answer deadline, on the
    deadline index the storage sweep reads (reminders, then back to storage); updated in memory."""
    due_dt = clock.now() + timedelta(days=config.get_int("PACKING_ANSWER_DAYS"))
    due_at = clock.iso(due_dt)
    key = storage_rules.deadline_key(due_dt, package.package_id)
    package.payment_due_at, package.deadline_key, package.reminders = due_at, key, None
    return [Package.payment_due_at.set(due_at), Package.deadline_key.set(key), Package.reminders.remove()]


def _answered() -> list:
    """The update actions taking an answered package off the deadline index."""
    return [Package.payment_due_at.remove(), Package.deadline_key.remove(), Package.reminders.remove()]


def answer_due_at(package: Package) -> str | None:
    """When a packed package waiting on the customer goes back to storage unless they answer first."""
    return package.payment_due_at if package.status in lifecycle.WAITING_ON_CUSTOMER else None


def _notify_difference(work: uow.Unit, package: Package, decision, difference) -> None:
    """The email asking the customer to pay a packing difference or send the package back to storage."""
    over_threshold = decision.settlement == settlement.Settlement.AWAITING_CONFIRMATION
    work.notify(
        package.user_id,
        "package_difference_confirm" if over_threshold else "package_payment_due",
        {
            "package_id": package.package_id,
            "amount": money.format_cny(decision.due_fen),
            "threshold": money.format_cny(difference.consent_threshold_fen or 0),
            "due_at": package.payment_due_at,
            "days": config.get_int("PACKING_ANSWER_DAYS"),
        },
    )


def return_to_storage(user_id: str, package_id: str) -> PackageResult:
    """The customer declines the packing difference (or the rehearsed parcel): the package is unpacked,
    what it holds paid goes back to the wallet (less a rehearsal already done), its items back on the
    shelf with their storage deadlines (never less than the grace period)."""

    def unit() -> uow.Unit:
        package = own_package(user_id, package_id)
        lifecycle.PACKAGE.require("return_to_storage", package.status)
        return _unpack(package, "return_to_storage", "returned_to_storage")

    body = uow.run(unit)
    log.info("package returned to storage", extra={"package_id": package_id})
    return body


def return_unanswered(package: Package) -> bool:
    """The storage sweep: a packed package whose customer did not answer by its deadline goes back to
    storage like `return_to_storage`, and the customer is told. False when they answered meanwhile."""

    def unit() -> uow.Unit:
        current = _package(package.package_id)
        if (
            not lifecycle.PACKAGE.allows("return_unanswered", current.status)
            or (current.payment_due_at or "") > clock.now_iso()
        ):
            return uow.Unit(result=None)
        before = int(current.refunded_fen or 0)
        work = _unpack(current, "return_unanswered", "answer_expired")
        work.notify(
            current.user_id,
            "package_returned_to_storage",
            {
                "package_id": current.package_id,
                "days": config.get_int("PACKING_ANSWER_DAYS"),
                "item_count": len(current.item_ids),
                "refund": money.format_cny(int(current.refunded_fen or 0) - before),
            },
        )
        return work

    body = uow.run(unit)
    if body is None:
        return False
    log.info("unanswered package returned to storage", extra={"package_id": package.package_id})
    return True


def _unpack(package: Package, action: str, reason: str) -> uow.Unit:
    """The unit returning a packed package to storage: `_release` keeping a rehearsal already done, the
    settlement declined, the deadline and any due amount cleared."""
    kept = rehearsal_fee_fen(package) if package.status == PackageStatus.REHEARSED else 0
    packed = plain(package.packed) or {}
    packed["settlement"] = SETTLEMENT.target("decline_difference").value
    when = Package.payment_due_at == package.payment_due_at
    also = [Package.packed.set(packed), Package.due_fen.set(0), *_answered()]
    work = _release(package, action, reason, kept_fen=kept, also=also, when=when)
    package.packed, package.due_fen, package.payment_due_at, package.deadline_key = packed, 0, None, None
    return work


def rehearsal_fee_fen(package: Package) -> int:
    """What the package's rehearsal cost (kept when the customer sends a rehearsed parcel back)."""
    return int((plain(package.services_breakdown) or {}).get(rules.REHEARSAL, 0))


def remind_answer(package: Package, thresholds: list[int], now) -> bool:
    """The storage sweep: email the customer of a package waiting on them when its answer deadline is
    within a reminder threshold (PACKING_ANSWER_REMINDER_DAYS), once per threshold. The mark and the
    email are one transaction, conditioned on the package still waiting with that deadline and the mark
    absent, so a rerun or a concurrent answer sends nothing twice. False when nothing was owed."""
    due_at = package.payment_due_at
    if package.status not in lifecycle.WAITING_ON_CUSTOMER or not due_at or due_at <= clock.iso(now):
        return False
    due_day = clock.parse_iso(due_at).date()
    within = [n for n in thresholds if due_day <= now.date() + timedelta(days=n)]
    marks = plain(package.reminders) or {}
    if not within or str(within[0]) in marks:
        return False
    sent = "sent:" + clock.iso(now)
    marks.update({str(n): sent for n in within if str(n) not in marks})
    work = uow.Unit(result=True)
    still = lifecycle.PACKAGE.check(Package, package.status) & (Package.payment_due_at == due_at)
    work.update(package, [Package.reminders.set(marks)], still)
    work.notify(
        package.user_id,
        "package_answer_reminder",
        {
            "package_id": package.package_id,
            "due_at": due_at,
            "days": storage_rules.days_left(clock.parse_iso(due_at), now),
            "amount": money.format_cny(int(package.due_fen or 0)),
            "rehearsal": package.status == PackageStatus.REHEARSED,
        },
    )
    try:
        uow.run(lambda: work, retry=False)
    except Conflict:
        return False  # answered or reminded meanwhile: the next run decides again from a fresh read
    return True


# --- shipping and receipt ------------------------------------------------------------------------------


def confirm_key(auto_confirm_at: str, package_id: str) -> str:
    """`<UTC day>#<shard>`: the auto-confirm job reads one day's due packages per shard."""
    return f"{auto_confirm_at[:10]}#{zlib.crc32(package_id.encode()) % CONFIRM_DAY_SHARDS}"


def ship(package_id: str, staff_id: str, carrier: str, tracking_no: str) -> PackageResult:
    """`shipped` with the carrier's tracking number (only when fully paid); the customer is emailed."""
    tracking = normalise_tracking(tracking_no)
    carrier = carrier.strip()
    url = rules.tracking_url(carrier, tracking)

    def unit() -> uow.Unit:
        package = _package(package_id)
        if not lifecycle.PACKAGE.allows("ship", package.status):
            raise Conflict(f"The package is {package.status}; only packed packages can be shipped.")
        if int(package.due_fen or 0) > 0:
            raise Conflict("The customer has not paid the final charge yet.")
        items = package_items(package)
        now_dt = clock.now()
        now = clock.iso(now_dt)
        due = clock.iso(now_dt + timedelta(days=auto_confirm_days(package)))
        work = uow.Unit()
        also = [
            Package.carrier.set(carrier),
            Package.tracking_no.set(tracking),
            Package.tracking_url.set(url),
            Package.shipped_by.set(staff_id),
            Package.auto_confirm_at.set(due),
            Package.confirm_key.set(confirm_key(due, package.package_id)),
        ]
        paid_up = Package.due_fen == 0
        work.update(package, *lifecycle.PACKAGE.move(package, "ship", now=now, also=also, when=paid_up))
        for item in items:
            also = [Item.stored_by.remove(), Item.deadline_key.remove()]  # no longer in our warehouse
            when = Item.package_id == package.package_id
            work.update(item, *lifecycle.ITEM.move(item, "ship", now=now, also=also, when=when))
        work.notify(
            package.user_id,
            "package_shipped",
            {"package_id": package_id, "carrier": carrier, "tracking_no": tracking, "tracking_url": url},
        )
        # what the transaction commits, in memory (the moves set the statuses and stamps); a packed
        # package has no review yet (customers rate delivered ones)
        package.carrier, package.tracking_no, package.tracking_url = carrier, tracking, url
        package.shipped_by, package.auto_confirm_at = staff_id, due
        work.result = PackageResult(package, items)
        return work

    shipped = uow.run(unit)
    log.info("package shipped", extra={"package_id": package_id})
    return shipped


def deliver(
    package_id: str, confirmed_by: str, user_id: str | None = None, email: tuple[str, dict] | None = None
) -> tuple[Package, list[Item]]:
    """`delivered`, by the customer (`user_id` given: own packages only) or by the auto-confirm job.
    `email` (template, data) is sent to the owner if and only if this commits. Returns the package and
    its items as committed."""

    def unit() -> uow.Unit:
        package = own_package(user_id, package_id) if user_id else _package(package_id)
        lifecycle.PACKAGE.require("deliver", package.status)
        items = package_items(package)
        now = clock.now_iso()
        work = uow.Unit()
        also = [Package.delivery_confirmed_by.set(confirmed_by), Package.confirm_key.remove()]
        work.update(package, *lifecycle.PACKAGE.move(package, "deliver", now=now, also=also))
        for item in items:
            if not lifecycle.ITEM.allows("deliver", item.status):
                continue
            when = Item.package_id == package.package_id
            work.update(item, *lifecycle.ITEM.move(item, "deliver", now=now, when=when))
        package.delivery_confirmed_by = confirmed_by
        if email:
            work.notify(package.user_id, *email)
        work.result = (package, items)
        return work

    return uow.run(unit)


def confirm_receipt(user_id: str, package_id: str) -> PackageResult:
    package, items = deliver(package_id, "customer", user_id=user_id)
    return PackageResult(package, items)  # no review yet: a package is rated once delivered


def add_review(user_id: str, package_id: str, rating: int, comment: str) -> PackageReview:
    """One review per delivered package: the table's key makes a second one a 409."""
    package = own_package(user_id, package_id)
    if not lifecycle.PACKAGE.allows("rate", package.status):
        raise Conflict(f"The package is {package.status}; it can be rated once delivered.")
    review = PackageReview(
        package_id,
        user_id=user_id,
        rating=rating,
        comment=comment,
        line_id=package.line_id,
        created_at=clock.now_iso(),
    )
    try:
        review.save(condition=PackageReview.package_id.does_not_exist())
    except PutError as exc:
        if db.lost_race(exc):
            raise Conflict("This package has already been reviewed.") from None
        raise
    return review


# --- rehearsal (issue 24): the customer sees the packed parcel before it ships -------------------------


def _rehearse(
    package: Package,
    final: rules.Price,
    difference: settlement.Difference,
    staff_id: str,
    weight_g: int,
    dims_cm: dict,
) -> uow.Unit:
    """The unit recording a rehearsal: packed, weighed and measured, the exact final charge written, no
    money moved; the customer confirms (paying or refunded the difference) or asks for a repack before
    the answer deadline."""
    work = uow.Unit()
    now = clock.now_iso()
    packed = {
        "weight_g": weight_g,
        "dims_cm": dict(dims_cm),
        "packed_at": now,
        "packed_by": staff_id,
        "difference_fen": difference.amount_fen,
        "settlement": settlement.Settlement.AWAITING_CONFIRMATION.value,
    }
    also = db.assign(package, packed=packed, **_charge_fields(final), due_fen=max(0, difference.amount_fen))
    also += _answer_deadline(package)
    work.update(package, *lifecycle.PACKAGE.move(package, "rehearse", now=now, also=also))
    work.notify(
        package.user_id,
        "package_rehearsed",
        {
            "package_id": package.package_id,
            "weight_g": weight_g,
            "dims": f"{dims_cm['l']} x {dims_cm['w']} x {dims_cm['h']} cm",
            "total": money.format_cny(final.total_fen),
            "difference": money.format_cny(difference.amount_fen),
            "due_at": package.payment_due_at,
        },
    )
    items = package_items(package)
    photo_requests.guard_packing(work, items)  # a rehearsal seals the parcel too
    work.result = PackageResult(package, items)
    return work


def confirm_packing(user_id: str, package_id: str) -> PackageResult:
    """The customer confirms a rehearsed parcel at its exact final charge: the difference from what the
    package holds paid is charged from the wallet (402 when it is short: top up first) or refunded to
    it, and the package joins the shipping queue. Conditional on the status and the charge shown, so a
    deadline sweep that returned it first makes this a 409 that moves no money."""

    def unit() -> uow.Unit:
        package = own_package(user_id, package_id)
        lifecycle.PACKAGE.require("confirm_packing", package.status)
        items, work = _items_and_account(package)
        paid, refunded = int(package.paid_fen or 0), int(package.refunded_fen or 0)
        total = int(package.total_fen)
        amount = total - (paid - refunded)
        fx = currency.stored(package.fx)
        if amount > 0:
            work.move(user_id, -amount, "package_difference_charge", package.package_id, fx)
            paid += amount
            word = settlement.Settlement.CHARGED
        elif amount < 0:
            work.move(user_id, -amount, "package_difference_refund", package.package_id, fx)
            refunded += -amount
            word = settlement.Settlement.REFUNDED
        else:
            word = settlement.Settlement.NONE
        packed = plain(package.packed) or {}
        packed.update(difference_fen=amount, settlement=word.value)
        also = db.assign(package, packed=packed, paid_fen=paid, refunded_fen=refunded, due_fen=0)
        also += _answered()
        when = Package.total_fen == total
        work.update(
            package,
            *lifecycle.PACKAGE.move(package, "confirm_packing", now=clock.now_iso(), also=also, when=when),
        )
        package.payment_due_at = package.deadline_key = None
        work.result = PackageResult(package, items)
        return work

    confirmed = uow.run(unit)
    log.info("rehearsed package confirmed", extra={"package_id": package_id})
    return confirmed


def repack(user_id: str, package_id: str, note: str) -> PackageResult:
    """The customer asks for a change to a rehearsed parcel (remove boxes, add protection...): back to
    the packers' queue with the note; no money moves (the rehearsal charged nothing yet)."""

    def unit() -> uow.Unit:
        package = own_package(user_id, package_id)
        lifecycle.PACKAGE.require("repack", package.status)
        now = clock.now_iso()
        work = uow.Unit()
        also = db.assign(package, repack_note=note, repack_requested_at=now, due_fen=0)
        also += _answered()
        work.update(package, *lifecycle.PACKAGE.move(package, "repack", now=now, also=also))
        package.payment_due_at = package.deadline_key = None
        work.result = PackageResult(package, package_items(package))
        return work

    again = uow.run(unit)
    log.info("repack requested", extra={"package_id": package_id})
    return again
