"""The status glossary: what each status of the lifecycle table means in the business's words, with what
leads to it and what may follow, read from the table itself (`chalicelib.lifecycle`).

`python -m chalicelib.glossary` (part of `make docs`) writes it as a section of docs/data-model.md;
tests/unit/test_glossary.py fails when a status of the table has no meaning here (or one is left for a
status that is gone) and when the section is stale. Documentation only: no request reads it.
"""

from __future__ import annotations

from enum import StrEnum

from chalicelib.lifecycle import (
    LIFECYCLES,
    CaseStatus,
    ClaimStatus,
    DeclarationStatus,
    DisputeStatus,
    ItemStatus,
    Lifecycle,
    OrderStatus,
    OutboxStatus,
    PackageStatus,
    ParcelStatus,
    PaymentStatus,
    PhotoRequestStatus,
    PhotoStatus,
    ReplacementState,
    ServiceWork,
    Settlement,
    ThreadStatus,
    WithdrawalStatus,
    replace_section,
)
from chalicelib.orders import REVIEW_WORKING_HOURS
from chalicelib.rules.storage import EXCEPTIONAL_PARCEL_DAYS, STORAGE_DAYS

MEANING: dict[str, dict[StrEnum, str]] = {
    "item": {
        ItemStatus.PENDING_PAYMENT: "Ordered; the order is not paid yet.",
        ItemStatus.PENDING_REVIEW: "Paid; staff review the order within "
        f"{REVIEW_WORKING_HOURS} China working hours.",
        ItemStatus.PURCHASING: "Approved: staff buy it from the shop. A price difference over the consent "
        "threshold, or one the wallet cannot cover, and a replacement SKU staff offered, wait here for "
        "the customer. An after-sales exchange brings an item back here for its replacement.",
        ItemStatus.PURCHASED: "Bought from the shop at the actual price; the shop ships it to our warehouse.",
        ItemStatus.SHIPPED_DOMESTIC: "On its way to our warehouse with a domestic tracking number.",
        ItemStatus.RECEIVED: "Arrived at the warehouse; waiting for inspection.",
        ItemStatus.IN_WAREHOUSE: "Inspected, photographed and weighed; stored, with its storage deadline "
        f"running ({STORAGE_DAYS} days from this status).",
        ItemStatus.INSPECTION_ISSUE: "Inspection found a problem (damage, stains, a wrong model...); kept "
        "while the customer decides (accept, or an after-sales return or exchange) by a feedback deadline; "
        "with no answer it is taken as accepted. Its storage clock has not started.",
        ItemStatus.AWAITING_CONFIRMATION: "Electronics that passed on appearance: the arrival photos wait "
        "for the customer to confirm (or open an after-sales case) by a feedback deadline; with no answer "
        "it is taken as accepted. Its storage clock has not started.",
        ItemStatus.NOT_TRANSPORTABLE: "Stored, but it does not meet transport conditions (battery, liquid, "
        "powder, magnet, blade...): only a line that accepts it can carry it.",
        ItemStatus.IN_PACKAGE: "In a package the customer submitted; its storage clock is held.",
        ItemStatus.SHIPPED: "Left with its package for the destination country.",
        ItemStatus.DELIVERED: "Its package was delivered (confirmed by the customer, or taken as delivered).",
        ItemStatus.CANCELLED: "Cancelled before purchase, after the customer declined a price difference "
        "or a replacement, or marked unavailable by staff (out of stock, delisted, refused by the shop); "
        "what was paid for it went back to the wallet.",
        ItemStatus.REJECTED: "Its order was rejected at review; what was paid went back to the wallet.",
        ItemStatus.RETURNED: "Sent back to the shop through after-sales.",
        ItemStatus.ABANDONED: "Not packaged within its storage period: abandoned, waiting for destruction "
        "(no notice is sent).",
        ItemStatus.DESTROYED: "Physically destroyed by the warehouse.",
    },
    "order": {
        OrderStatus.PENDING_PAYMENT: "Created with exact charges; not paid yet.",
        OrderStatus.PENDING_REVIEW: "Paid; waiting for staff review "
        f"({REVIEW_WORKING_HOURS} China working hours).",
        OrderStatus.APPROVED: "Approved: its items are bought on the customer's behalf.",
        OrderStatus.REJECTED: "Rejected at review with a reason; refunded in full to the wallet.",
        OrderStatus.CANCELLED: "Cancelled by the customer before any item was bought, or closed when its "
        "last item was cancelled after approval (unavailable at the shop, or declined).",
    },
    "package": {
        PackageStatus.PENDING_PAYMENT: "Submitted (address, line, services); the quote is not paid yet.",
        PackageStatus.PAID: "Paid; waiting for the warehouse to pack it.",
        PackageStatus.PACKED: "Packed, weighed and measured, and the final charge settled against what was "
        "paid; waiting for the warehouse to ship it.",
        PackageStatus.AWAITING_DIFFERENCE: "Packed, but the final charge is more than what is taken without "
        "asking (the lower of a percentage of the quote and a fixed amount) or more than the wallet held: "
        "the customer pays the difference or sends the package back to storage before its answer deadline "
        "(reminded); with no answer it goes back to storage.",
        PackageStatus.REHEARSED: "Packed, weighed, measured and photographed for a rehearsal: the customer "
        "sees the parcel and its exact final charge, and confirms, asks for a repack with a note, or sends "
        "it back to storage before its answer deadline (reminded); with no answer it goes back to storage.",
        PackageStatus.SHIPPED: "Handed to the international carrier with a tracking number.",
        PackageStatus.DELIVERED: "Confirmed received by the customer, or taken as delivered after the "
        "auto-confirm period.",
        PackageStatus.CANCELLED: "Cancelled, expired unpaid, or sent back to storage after packing; what was "
        "paid went back to the wallet (less a rehearsal already done) and its items back on the shelf.",
    },
    "parcel": {
        ParcelStatus.MATCHED: "Scanned in and matched to a customer's purchase or declaration.",
        ParcelStatus.EXCEPTIONAL: "Received without logistics information that matches anyone: kept "
        f"{EXCEPTIONAL_PARCEL_DAYS} days for staff to identify, with no reminders.",
        ParcelStatus.ASSIGNED: "An exceptional parcel staff assigned to its customer.",
        ParcelStatus.ABANDONED: "An exceptional parcel nobody claimed within "
        f"{EXCEPTIONAL_PARCEL_DAYS} days: waiting for destruction.",
        ParcelStatus.DESTROYED: "Physically destroyed by the warehouse.",
        ParcelStatus.VOIDED: "A wrong scan undone by staff (who and why recorded): it never was a parcel.",
    },
    "case": {
        CaseStatus.OPEN: "An after-sales request waiting for staff.",
        CaseStatus.RESOLVED: "Decided by staff (refund, return...), with the money moved through the wallet.",
    },
    "claim": {
        ClaimStatus.OPEN: "An insurance claim on a shipped package (lost, damaged or seized), with the "
        "customer's evidence, waiting for staff.",
        ClaimStatus.APPROVED: "Staff approved it: the compensation (at most the insured value: goods "
        "declared plus shipping paid) was credited to the wallet in the same transaction.",
        ClaimStatus.REJECTED: "Staff rejected it with a note to the customer; no money moved.",
    },
    "declaration": {
        DeclarationStatus.DECLARED: "A customer announced a parcel they send to our warehouse themselves.",
        DeclarationStatus.RECEIVED: "Its parcel arrived and is the declarer's.",
        DeclarationStatus.EXCEPTIONAL: "Someone else claimed the same parcel: staff decide.",
        DeclarationStatus.REJECTED: "Staff gave the contested parcel to someone else.",
    },
    "photo": {
        PhotoStatus.PENDING: "Upload granted; waiting for the file and its checks.",
        PhotoStatus.READY: "Checked and shown to the customer.",
        PhotoStatus.REJECTED: "Not an image we accept (type, size, pixels): kept out of view.",
    },
    "payment": {
        PaymentStatus.REQUIRES_ACTION: "Waiting for the customer to pay through the provider.",
        PaymentStatus.SUCCEEDED: "The provider confirmed it; the money is in the wallet (or paid the order).",
        PaymentStatus.FAILED: "The provider refused the attempt; its order can be paid again.",
        PaymentStatus.CANCELED: "Cancelled at the provider: nothing collected; its order can be paid again.",
    },
    "dispute": {
        DisputeStatus.OPEN: "The provider opened a dispute of the payment (a chargeback, a PayPal claim): "
        "the disputed amount is held from the wallet once, what the wallet did not hold is owed; staff "
        "see it.",
        DisputeStatus.WON: "Decided for us: what its opening held is back in the wallet and what was owed is "
        "forgiven (decided before it opened: nothing was ever held).",
        DisputeStatus.LOST: "Decided for the payer: the debit stands, final (decided before it opened: the "
        "disputed amount was taken then).",
    },
    "withdrawal": {
        WithdrawalStatus.REQUESTED: "Asked by the customer; the amount is held off the wallet "
        "until staff decide.",
        WithdrawalStatus.REFUNDED: "Approved: refunded through the providers to the payments it came from.",
        WithdrawalStatus.REJECTED: "Rejected by staff: the held amount is back in the wallet.",
        WithdrawalStatus.REFUNDING: "Approved: its refunds are booked and being asked of the providers; "
        "if a provider was down or could not refund a part now (our balance there short, an open case), the "
        "money stays held and staff approve again (the same refunds, never new ones).",
        WithdrawalStatus.PARTLY_REFUNDED: "Approved, but a provider refused part of it for good: that part "
        "is back in the wallet (`returned_fen`), the rest refunded.",
    },
    "settlement": {
        Settlement.NONE: "The actual amount equals what was paid: no money moves.",
        Settlement.CHARGED: "The higher amount was charged from the wallet (within the consent threshold, "
        "or paid by the customer).",
        Settlement.REFUNDED: "The lower amount's difference was refunded to the wallet.",
        Settlement.AWAITING_CONFIRMATION: "Over the consent threshold: the customer pays or declines it.",
        Settlement.AWAITING_PAYMENT: "The wallet was short: the customer tops up and pays it.",
        Settlement.DECLINED: "The customer declined the higher price (or did not answer a packing "
        "difference): the item is cancelled, or the package back in storage, and refunded.",
    },
    "replacement": {
        ReplacementState.OFFERED: "Staff offered another SKU of the product, in stock, for an item the shop "
        "cannot supply; the customer accepts or declines it.",
        ReplacementState.ACCEPTED: "The customer took it: the item is bought as that SKU, the price "
        "difference settled through the wallet.",
        ReplacementState.DECLINED: "The customer declined it: the item is cancelled and refunded as an "
        "unavailable one is.",
        ReplacementState.WITHDRAWN: "Staff marked the item unavailable while the offer was open.",
        ReplacementState.EXPIRED: "The customer did not answer by the offer's deadline: it is declined for "
        "them (nothing is bought without their consent), the item cancelled and refunded.",
    },
    "service": {
        ServiceWork.TO_DO: "A paid value-added service the packer has not done yet: the package cannot be "
        "packed until it is performed or refunded.",
        ServiceWork.PERFORMED: "The packer did it (with a photo where it makes sense) before packing.",
        ServiceWork.REFUNDED: "It could not be done: its price went back to the wallet and is not charged.",
    },
    "outbox": {
        OutboxStatus.PENDING: "Written with the change that causes it; the email is owed and not sent yet.",
        OutboxStatus.SENDING: "A handler claimed it and is sending it; another may take over once the "
        "claim expires.",
        OutboxStatus.SENT: "SES accepted the email; a redelivery of the event sends nothing.",
        OutboxStatus.UNDELIVERABLE: "Given up for good: the user has no address, or SES refused the message.",
    },
    "photo_request": {
        PhotoRequestStatus.REQUESTED: "Paid from the wallet (the extra-photos fee): on the warehouse's "
        "photo-request queue; a package holding the item cannot be packed meanwhile.",
        PhotoRequestStatus.COMPLETED: "The warehouse uploaded the extra photos; the customer was emailed "
        "links.",
        PhotoRequestStatus.REFUNDED: "The item left us before the photos were taken (returned to the "
        "merchant, abandoned): the fee went back to the wallet.",
    },
    "thread": {
        ThreadStatus.UNANSWERED: "The customer wrote last: the thread waits on the staff messages queue, "
        "oldest first, since their first message staff have not answered.",
        ThreadStatus.ANSWERED: "Staff wrote last: off the queue; the customer is emailed the replies "
        "(several within a few minutes in one email).",
    },
}

MARK_START = "<!-- glossary: generated -->"
MARK_END = "<!-- glossary: end -->"


def _actions(machine: Lifecycle, status: StrEnum, *, into: bool) -> str:
    """The actions that lead to `status` (into) or start from it, each with who may take it."""
    found: dict[str, set[str]] = {}
    for t in machine.transitions:
        if (t.target == status if into else status in t.sources) and not (into and status in t.sources):
            found.setdefault(t.action, set()).update(a.value for a in t.actors)
    return ", ".join(f"{action} ({', '.join(sorted(who))})" for action, who in found.items()) or "–"


def markdown() -> str:
    lines = [
        MARK_START,
        "## Status glossary",
        "",
        "What each status means, what leads to it and what may follow (action and who may take it),",
        "generated from the lifecycle table and the meanings in `chalicelib/glossary.py` (`make docs`; a",
        "test fails when a status has no meaning or this section is stale).",
    ]
    for key, machine in LIFECYCLES.items():
        lines += ["", f"### {machine.entity}", "", "| status | meaning | reached by | may follow |"]
        lines.append("|---|---|---|---|")
        for status in machine.statuses:
            reached = _actions(machine, status, into=True)
            follows = _actions(machine, status, into=False)
            lines.append(f"| `{status.value}` | {MEANING[key][status]} | {reached} | {follows} |")
    lines.append(MARK_END)
    return "\n".join(lines) + "\n"


def with_section(document: str) -> str:
    """`document` (docs/data-model.md) with its glossary section replaced (or appended) by markdown()."""
    return replace_section(document, markdown(), MARK_START, MARK_END)


if __name__ == "__main__":
    from pathlib import Path

    target = Path(__file__).resolve().parents[1] / "docs" / "data-model.md"
    target.write_text(with_section(target.read_text()))
    print(f"wrote the status glossary of {target}")
