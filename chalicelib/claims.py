"""Insurance claims on packages (issue 22): the customer files one for an insured package (lost,
damaged or seized) with evidence photos; staff approve it with compensation to the wallet, or reject it.

Cost: filing is a GetItem of the package, a BatchGetItem of its items and one transaction (the claim and
the package's `open_claim_id`, so two concurrent claims on one package give one claim and a 409);
resolving is a few reads and one transaction: the claim's move, the ledger leg, each claimed item's
`refunded_fen` and the package's compensated totals, under their version conditions. A lost race re-runs
the resolution from fresh reads, whose status check then refuses a second decision (409): a claim never
pays twice, and with an Idempotency-Key a replay answers what was committed. The windows and the cap are
pure rules (rules/claims.py) with the peers' figures as defaults (config.py).
"""

from __future__ import annotations

from chalicelib import (
    auth,
    clock,
    config,
    currency,
    db,
    ids,
    lifecycle,
    money,
    photos,
    refunds,
    service_work,
    uow,
)
from chalicelib.errors import Conflict, NotFound, ValidationError
from chalicelib.lifecycle import ClaimStatus, PackageStatus
from chalicelib.models.claims import Claim
from chalicelib.models.commerce import Item
from chalicelib.models.packages import Package
from chalicelib.packages import own_package, package_items, package_line
from chalicelib.queues import queue_page
from chalicelib.rules import claims as rules
from chalicelib.rules import shipping as shipping_rules

# a package may be claimed on once it left our warehouse
CLAIMABLE = (PackageStatus.SHIPPED, PackageStatus.DELIVERED)
DECISIONS = {"approved": "approve", "rejected": "reject"}


def windows() -> rules.Windows:
    return rules.Windows(
        damage_days=config.get_int("CLAIM_DAMAGE_DAYS"),
        lost_grace_days=config.get_int("CLAIM_LOST_GRACE_DAYS"),
        lost_window_days=config.get_int("CLAIM_LOST_WINDOW_DAYS"),
    )


def insured(package: Package) -> bool:
    """Insurance was chosen and is still paid for: a refunded insurance service covers nothing."""
    return rules.INSURANCE_SERVICE in service_work.charged_services(package)


def insured_value_fen(package: Package) -> int:
    return rules.insured_value_fen(int(package.declared_value_fen or 0), int(package.shipping_fen or 0))


def _check_window(package: Package, kind: str) -> None:
    if package.status not in CLAIMABLE or not package.shipped_at:
        raise Conflict(f"The package is {package.status}; a claim is filed once it has shipped.")
    longest = shipping_rules.longest_estimate_days(package_line(package))
    try:
        w = rules.window(
            kind,
            windows(),
            shipped_at=clock.parse_iso(package.shipped_at),
            delivered_at=clock.parse_iso(package.delivered_at) if package.delivered_at else None,
            confirmed_by_customer=package.delivery_confirmed_by == "customer",
            longest_estimate_days=longest if longest is not None else shipping_rules.auto_confirm_days(),
        )
    except rules.ClaimRefused as exc:
        raise Conflict(str(exc), code="claim_window_closed") from None
    reason = rules.refusal(kind, w, clock.now())
    if reason:
        raise Conflict(reason, code="claim_window_closed")


def file(user_id: str, package_id: str, kind: str, description: str, item_ids: list[str] | None) -> Claim:
    """A new open claim on the caller's package (404 for anyone else's)."""
    package = own_package(user_id, package_id)
    if not insured(package):
        raise Conflict(
            f"Package {package_id} was shipped without insurance (not chosen, or its price was refunded), "
            "so it has no insurance claim. Insurance is chosen when a package is submitted (the insurance "
            "service).",
            code="not_insured",
        )
    if item_ids is not None:
        unknown = [i for i in item_ids if i not in package.item_ids]
        if unknown or len(set(item_ids)) != len(item_ids):
            raise ValidationError(f"item_ids must be distinct items of package {package_id}.")
    _check_window(package, kind)
    if package.open_claim_id:
        raise Conflict(f"Claim {package.open_claim_id} is already open for this package.")
    now = clock.now_iso()
    claim = Claim(
        ids.new_id("clm"),
        user_id=user_id,
        package_id=package_id,
        kind=kind,
        description=description,
        item_ids=list(item_ids or []),
        insured_value_fen=insured_value_fen(package),
        created_at=now,
    )
    lifecycle.CLAIM.start(claim, ClaimStatus.OPEN, now=now, queue_id=package_id)
    claim.updated_at = now
    work = uow.Unit(result=claim)
    work.save(claim, Claim.claim_id.does_not_exist())
    work.update(
        package,
        [Package.open_claim_id.set(claim.claim_id)],
        Package.open_claim_id.does_not_exist() & lifecycle.PACKAGE.check(Package, *CLAIMABLE),
    )
    uow.run(
        lambda: work, retry=False, conflict="A claim was filed for this package (or it changed) meanwhile."
    )
    return claim


def _claim(claim_id: str) -> Claim:
    try:
        return Claim.get(claim_id, consistent_read=True)
    except Claim.DoesNotExist:
        raise NotFound("No such claim.") from None


def own_open_claim(user_id: str, claim_id: str) -> Claim:
    claim = _claim(claim_id)
    if claim.user_id != user_id:
        raise NotFound("No such claim.")
    if claim.status != ClaimStatus.OPEN:
        raise Conflict(f"The claim is {claim.status}; evidence is taken while it is open.")
    return claim


def request_evidence(user_id: str, claim_id: str, content_type: str) -> dict:
    """A presigned POST for one evidence photo of the caller's open claim."""
    return photos.request_evidence_upload("claim", own_open_claim(user_id, claim_id), user_id, content_type)


def list_own(user_id: str, limit: int, cursor: dict | None) -> tuple[list[Claim], dict | None]:
    result = Claim.by_user.query(user_id, scan_index_forward=False, limit=limit, last_evaluated_key=cursor)
    return list(result), result.last_evaluated_key


def queue(limit: int, cursor: dict | None) -> tuple[list[Claim], dict | None]:
    """Open claims, oldest first (a sharded, sparse queue index: no Scan)."""
    return queue_page(Claim, lifecycle.Queue.OPEN, limit, cursor)


def _claimed_items(claim: Claim, package: Package) -> list[Item]:
    """The items a claim covers: those it names, else every item of the package."""
    items = package_items(package)
    return [i for i in items if i.item_id in claim.item_ids] if claim.item_ids else items


def cap_fen(claim: Claim, package: Package, items: list[Item]) -> int:
    """What an approval of `claim` may still pay (rules.compensation_cap_fen with the stored figures)."""
    return rules.compensation_cap_fen(
        int(claim.insured_value_fen or 0),
        config.get_int("CLAIM_COMPENSATION_PERCENT"),
        int(package.compensated_fen or 0),
        [refunds.refundable_fen(i) for i in items],
        int(package.shipping_fen or 0) - int(package.compensated_shipping_fen or 0),
    )


def resolve(claim_id: str, staff_id: str, decision: str, compensation_fen: int | None, note: str) -> Claim:
    """approved: credit `compensation_fen` (default: the cap) to the wallet; rejected: close it. The
    customer is emailed either way. Returns the claim as committed."""
    action = DECISIONS[decision]
    if action == "reject" and compensation_fen:
        raise ValidationError("A rejected claim compensates nothing.")

    def unit() -> uow.Unit:
        claim = _claim(claim_id)
        auth.require_not_own(staff_id, claim.user_id, "decide a claim on")
        lifecycle.CLAIM.require(action, claim.status)
        package = Package.get(claim.package_id, consistent_read=True)
        work = uow.Unit()
        now = clock.now_iso()
        amount = 0
        if action == "approve":
            items = _claimed_items(claim, package)
            cap = cap_fen(claim, package, items)
            amount = cap if compensation_fen is None else compensation_fen
            if amount <= 0 or amount > cap:
                raise ValidationError(
                    f"compensation_fen must be between 1 and {cap} fen: the insured value "
                    f"({int(claim.insured_value_fen)} fen: goods declared plus shipping paid) less earlier "
                    "compensation, and no more than was paid and not yet refunded."
                )
            refundable = [refunds.refundable_fen(i) for i in items]
            shipping_left = int(package.shipping_fen or 0) - int(package.compensated_shipping_fen or 0)
            shares, shipping_share = rules.split(amount, refundable, shipping_left)
            for item, share in zip(items, shares, strict=True):
                if share:
                    actions = [*refunds.refund_actions(item, share), Item.updated_at.set(now)]
                    work.update(item, actions, Item.package_id == package.package_id)
            work.move(
                claim.user_id, amount, "claim_compensation", claim.claim_id, currency.stored(package.fx)
            )
            package_actions = [
                Package.compensated_fen.set(int(package.compensated_fen or 0) + amount),
                Package.compensated_shipping_fen.set(
                    int(package.compensated_shipping_fen or 0) + shipping_share
                ),
            ]
        else:
            package_actions = []
        work.update(
            package,
            [Package.open_claim_id.remove(), *package_actions],
            Package.open_claim_id == claim.claim_id,
        )
        also = db.assign(claim, compensation_fen=amount, note=note, decided_by=staff_id)
        work.update(claim, *lifecycle.CLAIM.move(claim, action, now=now, also=also))
        work.notify(
            claim.user_id,
            "claim_resolved",
            {
                "claim_id": claim.claim_id,
                "package_id": claim.package_id,
                "kind": claim.kind,
                "decision": decision,
                "compensation": f"{money.format_cny(amount)} was credited to your wallet." if amount else "",
                "note": note,
            },
        )
        work.result = claim  # as committed: the move and db.assign set it in memory
        return work

    return uow.run(unit)
