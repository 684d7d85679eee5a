"""Responses of the package routes: quotes, the customer's packages and the warehouse's packing queue.

Shapes are built here from what `chalicelib.packages` returns (`PackageDetail.of(package, items)`; the
quote is still a dict of `packages.quote`); the items inside a package are the one `Item` of
responses/items.py.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from chalicelib import packages, service_work
from chalicelib.items import plain
from chalicelib.lifecycle import ServiceWork as W
from chalicelib.lifecycle import Settlement as S
from chalicelib.models import commerce
from chalicelib.models import packages as stored
from chalicelib.responses.base import (
    CmDims,
    Fen,
    ItemStatus,
    Out,
    PackageStatus,
    Timestamp,
    absent,
    example_of,
)
from chalicelib.responses.currencies import FxSnapshot
from chalicelib.responses.items import Item
from chalicelib.responses.wallet import Payment
from chalicelib.typed import ConfigDict, Field

ITEM_EXAMPLE = example_of(Item)


class PackagePrice(Out):
    """A package's charge by the one price rule: weights in grams, amounts in fen."""

    actual_weight_g: int
    volumetric_weight_g: int = Field(description="l*w*h (cm) * 1000 / the line's volumetric divisor.")
    chargeable_weight_g: int = Field(description="The larger of the actual and volumetric weights.")
    shipping_fen: Fen
    service_fee_fen: Fen
    services_fen: Fen = Field(description="The value-added services, summed.")
    services_breakdown: dict[str, Fen] = Field(description="Each chosen service and its price.")
    total_fen: Fen = Field(description="shipping_fen + service_fee_fen + services_fen.")


class LineQuote(PackagePrice):
    """What one line would charge to carry the items."""

    line_id: str
    name: str
    carrier: str
    est_days: str
    max_charge_without_consent_fen: Fen = Field(
        description="The most the final charge after packing can be without asking the customer: "
        "total_fen plus the consent threshold (the lower of a percentage of total_fen and a fixed amount, "
        "GET /policies). Above it the package waits for the customer to pay or send it back to storage."
    )


class UnavailableLine(Out):
    """A line serving the country that refuses these goods or this weight, and why."""

    line_id: str
    reason: str


_PRICE_EXAMPLE = {
    "actual_weight_g": 1200,
    "volumetric_weight_g": 1000,
    "chargeable_weight_g": 1200,
    "shipping_fen": 27600,
    "service_fee_fen": 1700,
    "services_fen": 774,
    "services_breakdown": {"insurance": 774},
    "total_fen": 30074,
}


class PackageQuote(Out):
    """Every line that may carry these stored items to the country, cheapest first, and the lines that
    serve the country but refuse them."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "country": "US",
                    "item_ids": ["itm_01JDX3R1M6Q7Y8ZK2W4V5T6S7A", "itm_01JDX3R1M6Q7Y8ZK2W4V5T6S7E"],
                    "services": ["insurance"],
                    "declared_value_fen": 25800,
                    "quotes": [
                        {
                            "line_id": "ems",
                            "name": "EMS",
                            "carrier": "EMS",
                            "est_days": "7-15",
                            **_PRICE_EXAMPLE,
                            "max_charge_without_consent_fen": 35074,
                        }
                    ],
                    "unavailable": [
                        {"line_id": "dhl_express", "reason": "DHL Express Worldwide does not carry brand."}
                    ],
                }
            ]
        }
    )

    country: str
    item_ids: list[str]
    services: list[str]
    declared_value_fen: Fen = Field(description="As sent, else the goods' value (what was paid for them).")
    quotes: list[LineQuote]
    unavailable: list[UnavailableLine]


class PackageLine(Out):
    """The shipping line the package travels by (from the rates agreed at submission)."""

    name: str | None
    carrier: str | None
    est_days: str | None


class ShippingAddress(Out):
    """Where the package goes."""

    name: str
    phone: str
    country: str = Field(description="ISO 3166-1 alpha-2, upper case.")
    state: str
    city: str
    postal_code: str
    line1: str
    line2: str = absent(description="Absent when not given.")


class PackedDims(CmDims):
    """The packed carton's size in cm."""


class PackingRecord(Out):
    """What packing measured, and how the final charge was settled against what was paid."""

    weight_g: int
    dims_cm: PackedDims
    packed_at: Timestamp
    difference_fen: int = Field(
        description="Final charge minus what was paid, in fen: negative when it was cheaper."
    )
    settlement: Literal[
        S.NONE.value,
        S.CHARGED.value,
        S.REFUNDED.value,
        S.AWAITING_PAYMENT.value,
        S.AWAITING_CONFIRMATION.value,
        S.DECLINED.value,
    ] = Field(
        description="charged or refunded through the wallet; awaiting_payment (the wallet was short) or "
        "awaiting_confirmation (over the consent threshold, or a rehearsal to confirm): see due_fen and "
        "answer_due_at; declined: sent back to storage."
    )


class PackageServiceWork(Out):
    """A paid service the warehouse performs, as a work item: ticked off or refunded before packing."""

    service: str = Field(description="The service's name (`GET /package-services`).")
    name: str
    price_fen: Fen = Field(description="What the customer paid for it.")
    status: Literal[W.TO_DO.value, W.PERFORMED.value, W.REFUNDED.value] = Field(
        description="to_do (packing waits for it), performed by the packer, or refunded (could not be "
        "done: refund_fen went back to the wallet and packing does not charge it)."
    )
    at: Timestamp | None = Field(description="When it was performed or refunded.")
    photo_id: str | None = Field(
        description="A photo of the work (of one of the package's items: GET /items/{item_id}/photos)."
    )
    note: str | None = Field(description="The packer's note, or why it could not be done.")
    refund_fen: Fen

    @classmethod
    def of(cls, item: service_work.WorkItem) -> Self:
        return cls.build(
            service=item.service,
            name=item.name,
            price_fen=item.price_fen,
            status=item.status,
            at=item.at,
            photo_id=item.photo_id,
            note=item.note,
            refund_fen=item.refund_fen,
        )


class CustomsLine(Out):
    """One line of the package's customs declaration."""

    description_en: str
    quantity: int
    unit_value_fen: Fen
    value_fen: Fen = Field(description="quantity x unit_value_fen.")
    hs_code: str | None = Field(description="The HS tariff code, when given.")
    origin: str = Field(description="ISO 3166-1 alpha-2 country of origin.")
    item_id: str | None = Field(description="The item it declares (prefilled lines: one per item).")


class CustomsSender(Out):
    """The sender printed on the CN22/CN23: our warehouse."""

    name: str
    line1: str
    city: str
    state: str
    postal_code: str
    country: str
    phone: str


class CustomsDeclaration(Out):
    """The package's customs declaration: its lines, their total (the declared value), the tax ids its
    destination's rules asked for, and the form the warehouse prints (CN22 up to 300 SDR, CN23 above)."""

    lines: list[CustomsLine]
    total_fen: Fen = Field(description="The lines' total: the package's declared value.")
    recipient_tax_id: str | None = Field(description="Brazil: the CPF; Korea: the PCCC.")
    ioss_number: str | None = Field(description="EU parcels worth up to EUR 150: declared under IOSS.")
    form: Literal["CN22", "CN23"] = Field(description="The form printed: CN22 up to 300 SDR, CN23 above.")
    sender: CustomsSender

    @classmethod
    def of(cls, stored_customs: Any) -> Self | None:
        data = plain(stored_customs)
        if not data:
            return None
        data.pop("fx", None)
        return cls.build(**data)


class PackageTracking(Out):
    """The international shipment: carrier, tracking number and the carrier's tracking page."""

    carrier: str
    tracking_no: str
    tracking_url: str


class PackageRating(Out):
    """The customer's rating of the delivered package."""

    rating: int = Field(ge=1, le=5)
    comment: str
    created_at: Timestamp

    @classmethod
    def of(cls, review: stored.PackageReview) -> Self:
        return cls.build(rating=int(review.rating), comment=review.comment, created_at=review.created_at)


class PackageSummary(Out):
    """A package: address, line, services, the charge (the quote until packing, the final charge
    after), payments, tracking once shipped and the review once rated."""

    package_id: str
    status: PackageStatus
    item_ids: list[str]
    item_count: int
    line_id: str
    line: PackageLine
    country: str
    address: ShippingAddress
    services: list[str]
    service_work: list[PackageServiceWork] = Field(
        description="The paid services the warehouse performs, each performed or refunded before packing."
    )
    declared_value_fen: Fen = Field(description="The customs lines' total (customs.total_fen).")
    customs: CustomsDeclaration | None = Field(
        description="The customs declaration (null: a package submitted before declarations had lines)."
    )
    actual_weight_g: int
    volumetric_weight_g: int
    chargeable_weight_g: int
    shipping_fen: Fen
    service_fee_fen: Fen
    services_fen: Fen
    services_breakdown: dict[str, Fen]
    total_fen: Fen = Field(description="The charge: the quote until packing, the final charge after.")
    estimate: PackagePrice | None = Field(description="The quote at submission (kept after packing).")
    packed: PackingRecord | None
    paid_fen: Fen
    refunded_fen: Fen
    due_fen: Fen = Field(description="A higher final charge still to pay (POST .../pay-difference).")
    created_at: Timestamp
    paid_at: Timestamp | None
    shipped_at: Timestamp | None
    delivered_at: Timestamp | None
    delivery_confirmed_by: Literal["customer", "auto"] | None = Field(
        description="customer, or auto when the confirmation period passed."
    )
    cancelled_at: Timestamp | None
    cancel_reason: Literal["customer", "payment_expired", "returned_to_storage", "answer_expired"] | None = (
        Field(
            description="customer (cancelled), payment_expired (unpaid), returned_to_storage (the customer "
            "sent it back after packing), answer_expired (no answer after packing by answer_due_at)."
        )
    )
    payment_due_at: Timestamp | None = Field(
        description="Set while pending_payment: unpaid, it is cancelled."
    )
    max_charge_without_consent_fen: Fen = Field(
        description="The binding quote: the most the final charge can be without asking (the quote plus "
        "the consent threshold); above it the package waits for the customer (awaiting_difference)."
    )
    answer_due_at: Timestamp | None = Field(
        description="Set while awaiting_difference or rehearsed: with no answer (pay-difference, "
        "confirm-packing, repack, return-to-storage) by then, the package goes back to storage."
    )
    repack_note: str | None = Field(description="The change the customer asked after a rehearsal.")
    auto_confirm_at: Timestamp | None = Field(description="Set while shipped: when it counts as delivered.")
    tracking: PackageTracking | None = Field(description="Set once shipped.")
    review: PackageRating | None
    fx_snapshot: FxSnapshot | None = Field(
        default=None, description="The customer's currency at the time (null: paid in CNY only)."
    )

    @classmethod
    def of(cls, package: stored.Package, review: stored.PackageReview | None = None, **extra: Any) -> Self:
        """`package` as recorded; `extra`: the fields a subclass adds (its items, its owner)."""
        rates = plain(package.rates) or {}
        line = rates.get("line") or {}
        packed = plain(package.packed)
        if packed:
            packed.pop("packed_by", None)
        status = package.status
        shipped = status in (PackageStatus.SHIPPED, PackageStatus.DELIVERED) and package.tracking_no
        return cls.build(
            package_id=package.package_id,
            status=status,
            item_ids=list(package.item_ids),
            item_count=len(package.item_ids),
            line_id=package.line_id,
            line={"name": line.get("name"), "carrier": line.get("carrier"), "est_days": line.get("est_days")},
            country=package.country,
            address=plain(package.address),
            services=list(package.services or []),
            service_work=[PackageServiceWork.of(w) for w in service_work.work_items(package)],
            declared_value_fen=int(package.declared_value_fen),
            customs=CustomsDeclaration.of(package.customs),
            actual_weight_g=int(package.actual_weight_g),
            volumetric_weight_g=int(package.volumetric_weight_g),
            chargeable_weight_g=int(package.chargeable_weight_g),
            shipping_fen=int(package.shipping_fen),
            service_fee_fen=int(package.service_fee_fen),
            services_fen=int(package.services_fen),
            services_breakdown=plain(package.services_breakdown) or {},
            total_fen=int(package.total_fen),
            estimate=plain(package.estimate),
            packed=packed,
            paid_fen=int(package.paid_fen or 0),
            refunded_fen=int(package.refunded_fen or 0),
            due_fen=int(package.due_fen or 0),
            created_at=package.created_at,
            paid_at=package.paid_at,
            shipped_at=package.shipped_at,
            delivered_at=package.delivered_at,
            delivery_confirmed_by=package.delivery_confirmed_by,
            cancelled_at=package.cancelled_at,
            cancel_reason=package.cancel_reason,
            payment_due_at=package.payment_due_at if status == PackageStatus.PENDING_PAYMENT else None,
            max_charge_without_consent_fen=packages.max_charge_without_consent_fen(package),
            answer_due_at=packages.answer_due_at(package),
            repack_note=package.repack_note,
            auto_confirm_at=packages.auto_confirm_at(package) if status == PackageStatus.SHIPPED else None,
            tracking=(
                {
                    "carrier": package.carrier,
                    "tracking_no": package.tracking_no,
                    "tracking_url": package.tracking_url,
                }
                if shipped
                else None
            ),
            review=PackageRating.of(review) if review else None,
            fx_snapshot=FxSnapshot.of(
                package.fx,
                paid_fen=int(package.paid_fen or 0),
                refunded_fen=int(package.refunded_fen or 0),
            ),
            **extra,
        )


_PRICE_EXAMPLE = {
    "actual_weight_g": 420,
    "volumetric_weight_g": 500,
    "chargeable_weight_g": 500,
    "shipping_fen": 18000,
    "service_fee_fen": 1500,
    "services_fen": 2010,
    "services_breakdown": {"insurance": 510, "reinforcement": 1500},
    "total_fen": 21510,
}
_PACKAGE_EXAMPLE = {
    "package_id": "pkg_01JDX5B7N8P9Q0R1S2T3U4V5W6",
    "status": PackageStatus.PAID,
    "item_ids": ["itm_01JDX3R1M6Q7Y8ZK2W4V5T6S7A"],
    "item_count": 1,
    "line_id": "ems",
    "line": {"name": "EMS", "carrier": "EMS", "est_days": "7-15"},
    "country": "US",
    "address": {
        "name": "Alice Example",
        "phone": "+1 415 555 0100",
        "country": "US",
        "state": "CA",
        "city": "San Francisco",
        "postal_code": "94103",
        "line1": "1 Market St",
        "line2": "Apt 4",
    },
    "services": ["insurance", "reinforcement"],
    "service_work": [
        {
            "service": "reinforcement",
            "name": "Reinforced packing (corner guards, extra carton, bubble wrap)",
            "price_fen": 1500,
            "status": W.TO_DO.value,
            "at": None,
            "photo_id": None,
            "note": None,
            "refund_fen": 0,
        }
    ],
    "declared_value_fen": 17000,
    "customs": {
        "lines": [
            {
                "description_en": "Men's hooded sweatshirt, cotton",
                "quantity": 1,
                "unit_value_fen": 17000,
                "value_fen": 17000,
                "hs_code": "611020",
                "origin": "CN",
                "item_id": "itm_01JDX3R1M6Q7Y8ZK2W4V5T6S7A",
            }
        ],
        "total_fen": 17000,
        "recipient_tax_id": None,
        "ioss_number": None,
        "form": "CN22",
        "sender": {
            "name": "Procure Sourcing Warehouse",
            "line1": "88 Chouzhou North Road",
            "city": "Yiwu",
            "state": "Zhejiang",
            "postal_code": "322000",
            "country": "CN",
            "phone": "+86 579 8555 0100",
        },
    },
    **_PRICE_EXAMPLE,
    "estimate": _PRICE_EXAMPLE,  # before packing, the estimate is the price
    "packed": None,
    "paid_fen": 21510,
    "refunded_fen": 0,
    "due_fen": 0,
    "created_at": "2026-11-30T09:00:00Z",
    "paid_at": "2026-11-30T09:05:00Z",
    "shipped_at": None,
    "delivered_at": None,
    "delivery_confirmed_by": None,
    "cancelled_at": None,
    "cancel_reason": None,
    "payment_due_at": None,
    "max_charge_without_consent_fen": 24012,
    "answer_due_at": None,
    "repack_note": None,
    "auto_confirm_at": None,
    "tracking": None,
    "review": None,
}
_PACKED_ITEM_EXAMPLE = {
    **ITEM_EXAMPLE,
    "status": ItemStatus.IN_PACKAGE,
    "package_id": _PACKAGE_EXAMPLE["package_id"],
    "storage": {**(ITEM_EXAMPLE.get("storage") or {}), "clock_running": False},
}


class PackageDetail(PackageSummary):
    """A package with its items."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_PACKAGE_EXAMPLE, "items": [_PACKED_ITEM_EXAMPLE]}]}
    )

    items: list[Item]
    payment: Payment = absent(
        "The provider payment to complete (its client_secret or approve_url), when the package was paid "
        "through an external channel; the package is paid once the provider confirms it."
    )

    @classmethod
    def of(
        cls,
        package: stored.Package,
        items: list[commerce.Item],
        review: stored.PackageReview | None = None,
        **extra: Any,
    ) -> Self:
        return super().of(package, review, items=[Item.of(i) for i in items], **extra)

    @classmethod
    def of_result(cls, result: packages.PackageResult) -> Self:
        """What a package route committed (or read): the package, its items, its review and any payment
        to complete."""
        extra = {"payment": Payment.of(result.payment)} if result.payment is not None else {}
        return cls.of(result.package, result.items, result.review, **extra)


class PackagePage(Out):
    """A page of the caller's packages (without their items), newest first; pass `next_cursor` back as
    `cursor` for the next page (null: the last)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_PACKAGE_EXAMPLE], "next_cursor": None}]}
    )

    items: list[PackageSummary]
    next_cursor: str | None

    @classmethod
    def of(cls, listed: list[stored.Package], next_cursor: str | None) -> Self:
        return cls.build(items=[PackageSummary.of(p) for p in listed], next_cursor=next_cursor)


_SHIPPED_EXAMPLE = {
    **_PACKAGE_EXAMPLE,
    "status": PackageStatus.SHIPPED,
    "packed": {
        "weight_g": 480,
        "dims_cm": {"l": 32, "w": 26, "h": 6},
        "packed_at": "2026-12-01T02:00:00Z",
        "difference_fen": 0,
        "settlement": S.NONE.value,
    },
    "shipped_at": "2026-12-01T06:00:00Z",
    "auto_confirm_at": "2026-12-21T06:00:00Z",
    "tracking": {
        "carrier": "EMS",
        "tracking_no": "EE123456789CN",
        "tracking_url": "https://t.17track.net/en#nums=EE123456789CN",
    },
    "items": [{**_PACKED_ITEM_EXAMPLE, "status": ItemStatus.SHIPPED, "storage": None}],
    "user_id": "user-alice",
}


class StaffPackage(PackageDetail):
    """A package as packers see it: with its items and its owner."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SHIPPED_EXAMPLE]})

    user_id: str = Field(description="The owner's id (Cognito sub).")

    @classmethod
    def of_result(cls, result: packages.PackageResult) -> Self:
        package = result.package
        return cls.of(package, result.items, result.review, user_id=package.user_id)


class StaffPackagePage(Out):
    """A page of a warehouse package queue, oldest first, each package with its items."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [{**_PACKAGE_EXAMPLE, "items": [_PACKED_ITEM_EXAMPLE], "user_id": "user-alice"}],
                    "next_cursor": None,
                }
            ]
        }
    )

    items: list[StaffPackage]
    next_cursor: str | None

    @classmethod
    def of(cls, queued: list[packages.PackageResult], next_cursor: str | None) -> Self:
        return cls.build(items=[StaffPackage.of_result(r) for r in queued], next_cursor=next_cursor)


class PackageReview(Out):
    """The customer's rating of a delivered package (one per package)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "package_id": "pkg_01JDX5B7N8P9Q0R1S2T3U4V5W6",
                    "rating": 5,
                    "comment": "Well packed, arrived in nine days.",
                    "created_at": "2026-12-10T12:00:00Z",
                }
            ]
        }
    )

    package_id: str
    rating: int = Field(ge=1, le=5)
    comment: str
    created_at: Timestamp

    @classmethod
    def of(cls, review: stored.PackageReview) -> Self:
        return cls.build(
            package_id=review.package_id,
            rating=int(review.rating),
            comment=review.comment,
            created_at=review.created_at,
        )
