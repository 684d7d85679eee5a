"""Insurance claims (issue 22): customers claim on insured packages; staff (warehouse, reviewer) decide."""

from __future__ import annotations

from typing import Annotated, Literal

from chalice import Blueprint

from chalicelib import claims
from chalicelib.api.warehouse import EvidencePhotoBody
from chalicelib.lifecycle import ClaimKind, ClaimStatus
from chalicelib.responses.claims import Claim, ClaimPage, StaffClaim, StaffClaimPage
from chalicelib.responses.photos import PhotoUpload
from chalicelib.schemas import Body, Fen, Id, Text, example
from chalicelib.typed import Field
from chalicelib.web import Req, decode_cursor, encode_cursor, page_limit, performs, route

bp = Blueprint(__name__)

CLAIM_STAFF = ("warehouse", "reviewer")


class ClaimBody(Body):
    """A claim on an insured package: what happened, and which items (all of them when omitted)."""

    model_config = example(
        {"kind": "damaged", "description": "The carton arrived crushed; the teapot lid is broken."}
    )

    kind: Literal[ClaimKind.LOST.value, ClaimKind.DAMAGED.value, ClaimKind.SEIZED.value] = Field(
        description="lost: once the line's longest delivery estimate plus a grace has passed since "
        "shipping; damaged: within the window after delivery; seized: by customs, after shipping."
    )
    description: Text = Field(description="What happened, in the customer's words.")
    item_ids: Annotated[list[Id], Field(min_length=1, max_length=50)] | None = Field(
        None, description="The package's items the claim is about (default: all of them)."
    )


class ResolveClaimBody(Body):
    """Staff's decision on an open claim."""

    model_config = example(
        {"decision": ClaimStatus.APPROVED.value, "compensation_fen": 12000, "note": "Damage on the photos."}
    )

    decision: Literal[ClaimStatus.APPROVED.value, ClaimStatus.REJECTED.value] = Field(  # type: ignore[valid-type]
        description="approved: compensation to the wallet; rejected: closed with the note."
    )
    compensation_fen: Fen | None = Field(
        None,
        description="Credited to the wallet on approval (default: the most allowed): at most the insured "
        "value (goods declared plus shipping paid) less earlier compensation, and never more than was paid.",
    )
    note: Text = Field(description="Why, for the customer (sent in the email).")


@route(bp, "/packages/{package_id}/claims", "POST", body=ClaimBody, status=201, response=Claim)
def file_claim(req: Req, package_id: str) -> Claim:
    """File an insurance claim on your insured package (lost, damaged or seized)."""
    b = req.body
    return Claim.of(claims.file(req.user.user_id, package_id, b.kind, b.description, b.item_ids))


@route(bp, "/claims", query=("limit", "cursor"), response=ClaimPage)
def list_claims(req: Req) -> ClaimPage:
    """Your insurance claims, newest first."""
    found, last = claims.list_own(req.user.user_id, page_limit(req), decode_cursor(req))
    return ClaimPage.of(found, encode_cursor(last))


@route(bp, "/claims/{claim_id}/photos", "POST", body=EvidencePhotoBody, status=201, response=PhotoUpload)
def request_claim_photo(req: Req, claim_id: str) -> dict:
    """A presigned POST for one evidence photo of your open claim (JPEG, PNG or WebP, at most 10 MB)."""
    return claims.request_evidence(req.user.user_id, claim_id, req.body.content_type)


@route(bp, "/staff/claims", groups=CLAIM_STAFF, query=("limit", "cursor"), response=StaffClaimPage)
def claim_queue(req: Req) -> StaffClaimPage:
    """Open insurance claims, oldest first."""
    found, last = claims.queue(page_limit(req), decode_cursor(req))
    return StaffClaimPage.of(found, encode_cursor(last))


@route(
    bp,
    "/staff/claims/{claim_id}/resolve",
    "POST",
    groups=CLAIM_STAFF,
    body=ResolveClaimBody,
    money=True,
    response=StaffClaim,
)
@performs("claim.approve", "claim.reject")
def resolve_claim(req: Req, claim_id: str):
    """Approve a claim (compensation to the wallet, capped by the insured value) or reject it."""
    b = req.body
    return claims.resolve(claim_id, req.user.user_id, b.decision, b.compensation_fen, b.note)
