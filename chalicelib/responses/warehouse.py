"""Responses of the warehouse routes: inbound parcels, forwarding declarations and after-sales cases.

Built here (`Parcel.of(parcel)`, `AfterSalesCase.of(case)`...) from what `chalicelib.warehouse` and
`chalicelib.aftersales` return; an inspected item is the one `Item` of responses/items.py.
"""

from typing import Any, Literal, Self

from chalicelib.items import plain
from chalicelib.models import commerce
from chalicelib.models import warehouse as stored
from chalicelib.responses.base import (
    CaseStatus,
    DeclarationStatus,
    Fen,
    Out,
    ParcelStatus,
    Timestamp,
    absent,
    example_of,
)
from chalicelib.responses.items import Item, ItemPhoto
from chalicelib.typed import ConfigDict, Field

ITEM_EXAMPLE = example_of(Item)

# --- inbound parcels -----------------------------------------------------------------------------------


class ParcelClaims(Out):
    """Claims of different customers on one parcel (staff decide; nobody is told whose it is)."""

    declared_by: list[str] = Field(description="Ids of the customers whose forwarding declarations name it.")
    expected_item_ids: list[str] = Field(description="Purchased items shipped with this tracking number.")


class ParcelVoid(Out):
    """Who voided a parcel scanned by mistake, when and why."""

    voided_at: Timestamp
    voided_by: str = Field(description="The staff member's id.")
    reason: str


_PARCEL_EXAMPLE = {
    "parcel_id": "pcl_3f9a1c0e7b2d4a6f8e1c3b5d7a",
    "status": ParcelStatus.MATCHED,
    "tracking_no": "SF1234567890",
    "carrier": "SF",
    "item_ids": ["itm_01JDX3R1M6Q7Y8ZK2W4V5T6S7A"],
    "received_at": "2026-11-30T07:40:00Z",
    "weight_g": 450,
}


class Parcel(Out):
    """A domestic parcel scanned in at the warehouse: matched to its items, or exceptional until staff
    assign it."""

    model_config = ConfigDict(json_schema_extra={"examples": [_PARCEL_EXAMPLE]})

    parcel_id: str
    status: ParcelStatus
    tracking_no: str
    carrier: str | None
    item_ids: list[str] = Field(description="The items it holds (empty while exceptional).")
    received_at: Timestamp
    weight_g: int | None
    contested: ParcelClaims = absent(description="Present when different customers claimed the parcel.")
    storage_expires_at: str = absent(
        format="date-time",
        description="Set when it arrived exceptional: kept until then (30 days after receipt), then "
        "destroyed.",
    )
    void: ParcelVoid = absent(description="Present when staff voided it as a wrong scan (status `voided`).")

    @classmethod
    def of(cls, parcel: stored.Parcel, **extra: Any) -> Self:
        """`parcel` as recorded; `contested` and `storage_expires_at` only when set. `extra`: the fields
        a subclass adds."""
        if parcel.contested:
            extra["contested"] = plain(parcel.contested)
        if parcel.storage_expires_at:
            extra["storage_expires_at"] = parcel.storage_expires_at
        if parcel.voided_at:
            extra["void"] = {
                "voided_at": parcel.voided_at,
                "voided_by": parcel.voided_by,
                "reason": parcel.void_reason,
            }
        return cls.build(
            parcel_id=parcel.parcel_id,
            status=parcel.status,
            tracking_no=parcel.tracking_no,
            carrier=parcel.carrier,
            item_ids=list(parcel.item_ids or []),
            received_at=parcel.received_at,
            weight_g=int(parcel.weight_g) if parcel.weight_g is not None else None,
            **extra,
        )


_EXCEPTIONAL_EXAMPLE = {
    "parcel_id": "pcl_8c2e4a6b0d1f3e5a7c9b1d3f5e",
    "status": ParcelStatus.EXCEPTIONAL,
    "tracking_no": "YT2233445566778",
    "carrier": "YTO",
    "item_ids": [],
    "received_at": "2026-11-30T07:45:00Z",
    "weight_g": 1200,
    "storage_expires_at": "2026-12-30T07:45:00Z",
}


class ScannedParcel(Parcel):
    """The parcel an inbound scan found or created; a repeated scan answers 200 with the same parcel
    and `already_received: true`."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXCEPTIONAL_EXAMPLE]})

    already_received: bool = absent(description="Present (true) when the parcel had been scanned before.")


class ParcelPage(Out):
    """A page of exceptional parcels waiting to be identified, oldest first."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_EXCEPTIONAL_EXAMPLE], "next_cursor": None}]}
    )

    items: list[Parcel]
    next_cursor: str | None

    @classmethod
    def of(cls, parcels: list[stored.Parcel], next_cursor: str | None) -> Self:
        return cls.build(items=[Parcel.of(p) for p in parcels], next_cursor=next_cursor)


# --- forwarding declarations ------------------------------------------------------------------------------


_DECLARATION_EXAMPLE = {
    "declaration_id": "fwd_01JDX6C8P9Q0R1S2T3U4V5W6X7",
    "tracking_no": "YT9988776655443",
    "carrier": "YTO",
    "description": "Two phone cases bought on Pinduoduo",
    "status": DeclarationStatus.DECLARED,
    "declared_at": "2026-11-28T10:00:00Z",
    "item_id": None,
}


class ForwardingDeclaration(Out):
    """A parcel the customer bought themselves and declared, to be matched to them when it arrives."""

    model_config = ConfigDict(json_schema_extra={"examples": [_DECLARATION_EXAMPLE]})

    declaration_id: str
    tracking_no: str
    carrier: str | None
    description: str
    status: DeclarationStatus
    declared_at: Timestamp
    item_id: str | None = Field(description="The stored item it became, once received.")

    @classmethod
    def of(cls, declaration: stored.ForwardingDeclaration) -> Self:
        return cls.build(
            declaration_id=declaration.declaration_id,
            tracking_no=declaration.tracking_no,
            carrier=declaration.carrier,
            description=declaration.description,
            status=declaration.status,
            declared_at=declaration.declared_at,
            item_id=declaration.item_id,
        )


class ForwardingDeclarationPage(Out):
    """A page of the caller's forwarding declarations, newest first."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_DECLARATION_EXAMPLE], "next_cursor": None}]}
    )

    items: list[ForwardingDeclaration]
    next_cursor: str | None

    @classmethod
    def of(cls, declarations: list[stored.ForwardingDeclaration], next_cursor: str | None) -> Self:
        return cls.build(items=[ForwardingDeclaration.of(d) for d in declarations], next_cursor=next_cursor)


# --- after-sales cases -------------------------------------------------------------------------------------


_CASE_EXAMPLE = {
    "case_id": "cas_01JDX7D9Q0R1S2T3U4V5W6X7Y8",
    "item_id": "itm_01JDX3R1M6Q7Y8ZK2W4V5T6S7A",
    "type": "refund",
    "reason": "A seam is torn on the left sleeve (see the QC photos).",
    "status": CaseStatus.OPEN,
    "resolution": None,
    "refund_fen": 0,
    "note": None,
    "created_at": "2026-11-30T10:00:00Z",
    "resolved_at": None,
    "issue": None,
    "delivered_at": None,
    "photos": [],
}


class AfterSalesCase(Out):
    """A customer's return, exchange or refund request about an item that reached our warehouse."""

    model_config = ConfigDict(json_schema_extra={"examples": [_CASE_EXAMPLE]})

    case_id: str
    item_id: str
    type: Literal["return", "exchange", "refund"]
    reason: str
    status: CaseStatus
    resolution: Literal["refund", "return", "exchange", "reject"] | None = Field(
        description="Set once resolved."
    )
    refund_fen: Fen = Field(description="Credited to the wallet by the resolution (0 until then).")
    note: str | None = Field(description="Staff's note to the customer.")
    created_at: Timestamp
    resolved_at: Timestamp | None
    issue: str | None = Field(
        description="What is wrong (a case about delivered goods): damage, stains, model, version, "
        "wrong_item, missing_item or other."
    )
    delivered_at: Timestamp | None = Field(
        description="Set on a case about delivered goods: the delivery it follows."
    )
    photos: list[ItemPhoto] = Field(description="The customer's evidence photos, oldest first.")

    @classmethod
    def of(cls, case: stored.AfterSalesCase, **extra: Any) -> Self:
        """`case` as recorded; `extra`: the fields a subclass adds (the owner, the resolved item)."""
        from chalicelib import photos

        return cls.build(
            issue=case.issue,
            delivered_at=case.delivered_at,
            photos=photos.photo_list(case),
            case_id=case.case_id,
            item_id=case.item_id,
            type=case.type,
            reason=case.reason,
            status=case.status,
            resolution=case.resolution,
            refund_fen=int(case.refund_fen or 0),
            note=case.note,
            created_at=case.created_at,
            resolved_at=case.resolved_at,
            **extra,
        )


class AfterSalesCasePage(Out):
    """A page of the caller's after-sales cases, newest first."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_CASE_EXAMPLE], "next_cursor": None}]}
    )

    items: list[AfterSalesCase]
    next_cursor: str | None

    @classmethod
    def of(cls, cases: list[stored.AfterSalesCase], next_cursor: str | None) -> Self:
        return cls.build(items=[AfterSalesCase.of(c) for c in cases], next_cursor=next_cursor)


class StaffAfterSalesCase(AfterSalesCase):
    """An after-sales case as staff see it: with the customer's id."""

    model_config = ConfigDict(json_schema_extra={"examples": [{**_CASE_EXAMPLE, "user_id": "user-alice"}]})

    user_id: str = Field(description="The customer's id (Cognito sub).")

    @classmethod
    def of(cls, case: stored.AfterSalesCase, **extra: Any) -> Self:
        return super().of(case, user_id=case.user_id, **extra)


class StaffAfterSalesCasePage(Out):
    """A page of open after-sales cases, oldest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [{**_CASE_EXAMPLE, "user_id": "user-alice"}], "next_cursor": None}]
        }
    )

    items: list[StaffAfterSalesCase]
    next_cursor: str | None

    @classmethod
    def of(cls, cases: list[stored.AfterSalesCase], next_cursor: str | None) -> Self:
        return cls.build(items=[StaffAfterSalesCase.of(c) for c in cases], next_cursor=next_cursor)


class ResolvedAfterSalesCase(AfterSalesCase):
    """A resolved case with its item as it now is (refunded, or returned to the merchant)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_CASE_EXAMPLE,
                    "status": CaseStatus.RESOLVED,
                    "resolution": "refund",
                    "refund_fen": 4000,
                    "note": "Partial refund for the torn seam.",
                    "resolved_at": "2026-11-30T12:00:00Z",
                    "item": {**ITEM_EXAMPLE, "refunded_fen": ITEM_EXAMPLE.get("refunded_fen", 0) + 4000},
                }
            ]
        }
    )

    item: Item

    @classmethod
    def of_resolved(cls, case: stored.AfterSalesCase, item: commerce.Item) -> Self:
        return cls.of(case, item=Item.of(item))

    @classmethod
    def of_result(cls, result: tuple[stored.AfterSalesCase, commerce.Item]) -> Self:
        """What aftersales.resolve committed: the case and its item."""
        case, item = result
        return cls.of_resolved(case, item)
