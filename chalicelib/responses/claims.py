"""Responses of the insurance-claim routes: a claim as its customer and as staff see it, and pages of them.

Built here (`Claim.of(claim)`) from what `chalicelib.claims` returns; evidence photos are the same
`ItemPhoto` shape as QC photos (presigned GETs valid for 15 minutes).
"""

from __future__ import annotations

from typing import Any, Literal, Self

from chalicelib.lifecycle import ClaimKind, ClaimStatus
from chalicelib.models import claims as stored
from chalicelib.responses.base import Fen, Out, Timestamp
from chalicelib.responses.items import ItemPhoto
from chalicelib.typed import ConfigDict, Field

_EXAMPLE = {
    "claim_id": "clm_01JDX7D9Q0R1S2T3U4V5W6X7Y8",
    "package_id": "pkg_01JDX5B2C3D4E5F6G7H8J9K0M1",
    "kind": "damaged",
    "description": "The carton arrived crushed; the teapot lid is broken.",
    "item_ids": [],
    "status": ClaimStatus.OPEN.value,
    "insured_value_fen": 35600,
    "compensation_fen": 0,
    "note": None,
    "created_at": "2026-12-12T09:00:00Z",
    "decided_at": None,
    "photos": [],
}


class Claim(Out):
    """An insurance claim on one of the customer's insured packages."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    claim_id: str
    package_id: str
    kind: Literal[ClaimKind.LOST.value, ClaimKind.DAMAGED.value, ClaimKind.SEIZED.value]
    description: str
    item_ids: list[str] = Field(description="The items claimed; empty: the whole package.")
    status: ClaimStatus
    insured_value_fen: Fen = Field(
        description="What the insurance covers: the goods value declared for the package plus the "
        "shipping paid."
    )
    compensation_fen: Fen = Field(description="Credited to the wallet on approval (0 until then).")
    note: str | None = Field(description="Staff's note to the customer, once decided.")
    created_at: Timestamp
    decided_at: Timestamp | None
    photos: list[ItemPhoto] = Field(description="The customer's evidence photos, oldest first.")

    @classmethod
    def of(cls, claim: stored.Claim, **extra: Any) -> Self:
        from chalicelib import photos

        return cls.build(
            claim_id=claim.claim_id,
            package_id=claim.package_id,
            kind=claim.kind,
            description=claim.description,
            item_ids=list(claim.item_ids or []),
            status=claim.status,
            insured_value_fen=int(claim.insured_value_fen or 0),
            compensation_fen=int(claim.compensation_fen or 0),
            note=claim.note,
            created_at=claim.created_at,
            decided_at=claim.decided_at,
            photos=photos.photo_list(claim),
            **extra,
        )


class ClaimPage(Out):
    """A page of the caller's claims, newest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_EXAMPLE], "next_cursor": None}]})

    items: list[Claim]
    next_cursor: str | None

    @classmethod
    def of(cls, claims: list[stored.Claim], next_cursor: str | None) -> Self:
        return cls.build(items=[Claim.of(c) for c in claims], next_cursor=next_cursor)


_STAFF_EXAMPLE = {**_EXAMPLE, "user_id": "user-alice", "decided_by": None}


class StaffClaim(Claim):
    """A claim as staff see it: with the customer and who decided it."""

    model_config = ConfigDict(json_schema_extra={"examples": [_STAFF_EXAMPLE]})

    user_id: str = Field(description="The customer's id (Cognito sub).")
    decided_by: str | None = Field(description="The staff member who decided it.")

    @classmethod
    def of(cls, claim: stored.Claim, **extra: Any) -> Self:
        return super().of(claim, user_id=claim.user_id, decided_by=claim.decided_by, **extra)

    @classmethod
    def of_result(cls, result: stored.Claim) -> Self:
        """What claims.resolve committed."""
        return cls.of(result)


class StaffClaimPage(Out):
    """A page of open claims, oldest first."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_STAFF_EXAMPLE], "next_cursor": None}]}
    )

    items: list[StaffClaim]
    next_cursor: str | None

    @classmethod
    def of(cls, claims: list[stored.Claim], next_cursor: str | None) -> Self:
        return cls.build(items=[StaffClaim.of(c) for c in claims], next_cursor=next_cursor)
