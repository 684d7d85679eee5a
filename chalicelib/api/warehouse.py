"""Warehouse (staff group `warehouse`) and the customer's storage, forwarding and after-sales."""

from typing import Annotated, Literal

from chalice import Blueprint

# aftersales, feedback and users are imported by the views that use them: the scan (the warehouse's
# first request of a shift) does not load them
from chalicelib import warehouse
from chalicelib.errors import ValidationError
from chalicelib.lifecycle import ItemStatus, ParcelStatus
from chalicelib.models.warehouse import Parcel
from chalicelib.queues import queue_page
from chalicelib.responses.items import Item, ItemPage
from chalicelib.responses.photos import PhotoUpload
from chalicelib.responses.warehouse import (
    AfterSalesCase,
    AfterSalesCasePage,
    ForwardingDeclaration,
    ForwardingDeclarationPage,
    ParcelPage,
    ResolvedAfterSalesCase,
    ScannedParcel,
    StaffAfterSalesCasePage,
)
from chalicelib.responses.warehouse import (
    Parcel as ParcelOut,
)
from chalicelib.rules import inspection as rules
from chalicelib.schemas import Body, Carrier, Fen, GoodsWeightG, Id, ItemDims, Text, TrackingNo, example
from chalicelib.typed import Field, model_validator
from chalicelib.web import (
    Req,
    decode_cursor,
    encode_cursor,
    json_response,
    page_limit,
    performs,
    route,
    serialize_response,
)

bp = Blueprint(__name__)

WAREHOUSE = ("warehouse",)
AWAITING_FEEDBACK = "awaiting_feedback"  # the customer's list of items waiting on their decision
CASE_STAFF = ("warehouse", "reviewer")
Check = Literal["ok", "issue", "n/a"]


class InboundBody(Body):
    """A parcel scanned at the warehouse door: matched to the items expected under its tracking number, to
    a customer's forwarding declaration, or else kept as exceptional."""

    model_config = example({"tracking_no": "78812345678901", "carrier": "ZTO", "weight_g": 420})

    tracking_no: TrackingNo
    carrier: Carrier | None = None
    weight_g: GoodsWeightG | None = Field(None, description="The parcel's weight in grams, as weighed.")


class AssignBody(Body):
    """Whose an exceptional parcel is: exactly one of `item_ids`, `user_id` or `customer_email`."""

    model_config = example({"customer_email": "alice@example.com", "description": "Blue ceramic tea set"})

    item_ids: Annotated[list[Id], Field(min_length=1, max_length=50)] | None = Field(
        None, description="Items awaiting arrival that the parcel contains (one customer's)."
    )
    user_id: Id | None = Field(
        None, description="The customer who identified the parcel: a stored item is created."
    )
    # printable ASCII without quotes or backslashes: the address goes into a Cognito ListUsers filter,
    # which refuses control characters (a 500 found by schemathesis)
    customer_email: (
        Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[!#-?A-\[\]-~]+@[!#-?A-\[\]-~]+$")]
        | None
    ) = Field(None, description="Like `user_id`, by the customer's sign-in email.")
    description: Text | None = Field(
        None, description="The new stored item's description (default: the parcel's)."
    )

    @model_validator(mode="after")
    def _one_target(self):
        targets = [self.item_ids is not None, self.user_id is not None, self.customer_email is not None]
        if sum(targets) != 1:
            raise ValueError("send exactly one of item_ids, user_id or customer_email")
        return self


class VoidBody(Body):
    """Why a parcel scanned by mistake is voided (kept with who voided it)."""

    model_config = example({"reason": "Mis-scan: the barcode was read twice into one number"})

    reason: Text = Field(description="Why the scan was wrong, in a few words.")


class Checks(Body):
    """The appearance checks of an inspection: `ok`, `issue`, or `n/a` (not applicable)."""

    model_config = example(
        {"color": "ok", "damage": "ok", "stains": "ok", "size": "ok", "model": "n/a", "version": "n/a"}
    )

    color: Check
    damage: Check
    stains: Check
    size: Check
    model: Check
    version: Check


class InspectionBody(Body):
    """The warehouse's inspection of an arrived item: checks, weight and size, and the verdict."""

    model_config = example(
        {
            "category": "apparel",
            "checks": {
                "color": "ok",
                "damage": "ok",
                "stains": "ok",
                "size": "ok",
                "model": "n/a",
                "version": "n/a",
            },
            "label_size": "M",
            "weight_g": 380,
            "dims_cm": {"l": 35, "w": 25, "h": 4},
            "result": "pass",
            "notes": "2 pcs, tags attached.",
        }
    )

    category: Literal["apparel", "electronics", "general"]
    checks: Checks
    label_size: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    weight_g: GoodsWeightG
    dims_cm: ItemDims
    result: Literal["pass", "issue", ItemStatus.NOT_TRANSPORTABLE.value] = Field(
        description="pass: stored (electronics: only with an arrival photo, then the customer confirms); "
        "issue: the customer decides (accept or after-sales); not_transportable: it cannot ship abroad "
        "(a hazard). Colour, size error and performance never make an item fail."
    )
    notes: Annotated[str, Field(max_length=1000)] | None = None
    hazards: list[Literal[rules.HAZARDS]] | None = Field(  # type: ignore[valid-type]
        None, description="Transport hazards found (shipping lines may refuse them)."
    )
    discrepancies: list[Literal["colour", "size_error", "performance"]] | None = Field(
        None,
        description="Discrepancies outside the inspection's scope, recorded for the customer; never a "
        "reason to fail (a colour or size check marked issue is recorded the same way).",
    )


class CaseBody(Body):
    """An after-sales request about one of the caller's items."""

    model_config = example(
        {
            "item_id": "itm_01JD3Q8Y6Z5N7B2K4M9P0R1S2T",
            "type": "exchange",
            "reason": "Size M is too small; L please.",
        }
    )

    item_id: Id
    type: Literal["return", "exchange", "refund"]
    reason: Text
    issue: Literal[rules.AFTER_DELIVERY_ISSUES] | None = Field(  # type: ignore[valid-type]
        None,
        description="What is wrong; required for a delivered item (a refund case within the after-sales "
        "window after delivery). colour, size_error and performance are outside the inspection scope: "
        "refused (409 outside_inspection_scope).",
    )


class ResolveBody(Body):
    """How staff close an open after-sales case."""

    model_config = example(
        {"resolution": "refund", "refund_fen": 1850, "note": "Stain confirmed on the photos."}
    )

    resolution: Literal["refund", "return", "exchange", "reject"] = Field(
        description="refund: credit the wallet; return: the goods go back to the merchant (optional refund); "
        "exchange: the goods go back and the item to purchasing for the replacement, whose price "
        "difference is settled like any purchase (refund_fen 0); reject: close with no change."
    )
    refund_fen: Fen = Field(
        0,
        description="Credited to the wallet: at most what the item cost minus earlier refunds; 0 for reject.",
    )
    note: Text | None = None


class RemarkBody(Body):
    """The customer's note for an item (colour, size...): what apparel is inspected against."""

    model_config = example({"remark": "Size L please, not M"})

    remark: Annotated[str, Field(max_length=500)] | None = Field(
        description="The new note; null or empty removes it. Earlier versions stay in remark_history."
    )


class EvidencePhotoBody(Body):
    """The kind of evidence photo about to be uploaded (the presigned POST only accepts that type)."""

    model_config = example({"content_type": "image/jpeg"})

    content_type: Literal["image/jpeg", "image/png", "image/webp"]


class ForwardingBody(Body):
    """A parcel the customer bought elsewhere and sends to our warehouse themselves."""

    model_config = example(
        {"tracking_no": "SF1234567890123", "carrier": "SF", "description": "Ceramic tea set, 1 box"}
    )

    tracking_no: TrackingNo = Field(description="The courier's tracking number: the parcel is matched by it.")
    carrier: Carrier | None = None
    description: Text = Field(description="What is inside (it becomes the stored item's description).")


# --- staff ---------------------------------------------------------------------------------------------


@route(bp, "/staff/inbound", "POST", groups=WAREHOUSE, body=InboundBody, status=201, response=ScannedParcel)
@performs("item.receive", "declaration.match", "declaration.contest")
def scan_inbound(req: Req):
    """Scan a domestic parcel in: matched to expected items or a forwarding declaration, else exceptional."""
    b = req.body
    parcel, created = warehouse.receive(b.tracking_no, b.carrier, b.weight_g, req.user.user_id)
    if created:
        return ScannedParcel.of(parcel)
    # a repeated scan: the same parcel, 200, through the same model as the 201
    again = ScannedParcel.of(parcel, already_received=True)
    return json_response(serialize_response(ScannedParcel, again, "POST /staff/inbound"), status=200)


@route(bp, "/staff/parcels", groups=WAREHOUSE, query=("status", "limit", "cursor"), response=ParcelPage)
def parcel_queue(req: Req) -> ParcelPage:
    """Exceptional parcels waiting to be identified, oldest first."""
    status = req.query.get("status", ParcelStatus.EXCEPTIONAL)
    if status != ParcelStatus.EXCEPTIONAL:
        raise ValidationError("status must be exceptional.")
    parcels, cursor = queue_page(Parcel, status, page_limit(req), decode_cursor(req))
    return ParcelPage.of(parcels, encode_cursor(cursor))


@route(bp, "/staff/parcels/{parcel_id}/assign", "POST", groups=WAREHOUSE, body=AssignBody, response=ParcelOut)
@performs("parcel.assign", "item.receive", "declaration.assign", "declaration.assign_elsewhere")
def assign_parcel(req: Req, parcel_id: str) -> ParcelOut:
    """Resolve an exceptional parcel: to expected items, or to the customer who identified it."""
    b = req.body
    user_id = b.user_id
    if b.customer_email is not None:
        from chalicelib import users

        user_id = users.user_id_by_email(b.customer_email)
        if user_id is None:
            raise ValidationError("No customer has that email address.")
    return ParcelOut.of(warehouse.assign(parcel_id, req.user.user_id, b.item_ids, user_id, b.description))


@route(bp, "/staff/parcels/{parcel_id}/void", "POST", groups=WAREHOUSE, body=VoidBody, response=ParcelOut)
@performs("parcel.void")
def void_parcel(req: Req, parcel_id: str) -> ParcelOut:
    """Undo a wrong scan: an exceptional parcel with nothing attached, within PARCEL_VOID_MINUTES of it."""
    return ParcelOut.of(warehouse.void(parcel_id, req.user.user_id, req.body.reason))


@route(bp, "/staff/items/{item_id}/inspection", "POST", groups=WAREHOUSE, body=InspectionBody, response=Item)
@performs(
    "item.inspect_pass", "item.inspect_issue", "item.inspect_for_confirmation", "item.mark_not_transportable"
)
def inspect_item(req: Req, item_id: str) -> Item:
    """Record the appearance inspection, weight and size; pass stores the item for 90 days (electronics:
    only with an arrival photo, and the customer confirms first); an issue waits on the customer."""
    return Item.of(warehouse.inspect(item_id, req.user.user_id, req.body.model_dump()))


@route(
    bp, "/staff/after-sales", groups=CASE_STAFF, query=("limit", "cursor"), response=StaffAfterSalesCasePage
)
def case_queue(req: Req) -> StaffAfterSalesCasePage:
    """Open after-sales cases, oldest first."""
    from chalicelib import aftersales

    cases, last = aftersales.queue(page_limit(req), decode_cursor(req))
    return StaffAfterSalesCasePage.of(cases, encode_cursor(last))


@route(
    bp,
    "/staff/after-sales/{case_id}/resolve",
    "POST",
    groups=CASE_STAFF,
    body=ResolveBody,
    money=True,
    response=ResolvedAfterSalesCase,
)
@performs("case.resolve", "item.return", "item.exchange")
def resolve_case(req: Req, case_id: str) -> tuple:
    """Resolve a case: refund to the wallet, return the goods to the merchant, exchange them, or reject."""
    from chalicelib import aftersales

    b = req.body
    # the case and its item as committed: ResolvedAfterSalesCase.of_result renders them
    return aftersales.resolve(case_id, req.user.user_id, b.resolution, b.refund_fen, b.note)


# --- customers ------------------------------------------------------------------------------------------


@route(bp, "/warehouse/items", query=("status", "limit", "cursor"), response=ItemPage)
def stored_items(req: Req) -> ItemPage:
    """The caller's goods in our warehouse with their storage deadline and days left; with
    `?status=awaiting_feedback`, those waiting on the caller's decision after inspection (soonest first)."""
    from chalicelib import feedback

    status = req.query.get("status")
    if status not in (None, AWAITING_FEEDBACK):
        raise ValidationError(f"status is {AWAITING_FEEDBACK} or absent.")
    listing = feedback.awaiting_items if status else warehouse.stored_items
    items, last = listing(req.user.user_id, page_limit(req), decode_cursor(req))
    return ItemPage.of(items, encode_cursor(last))


@route(bp, "/items/{item_id}", response=Item)
def get_item(req: Req, item_id: str) -> Item:
    """One of the caller's items."""
    return Item.of(warehouse.own_item(req.user.user_id, item_id))


@route(bp, "/items/{item_id}", "PATCH", body=RemarkBody, response=Item)
def change_remark(req: Req, item_id: str) -> Item:
    """Change the item's remark (apparel is inspected against the latest) until it is received; 409 after."""
    from chalicelib import feedback

    return Item.of(feedback.change_remark(req.user.user_id, item_id, req.body.remark))


@route(bp, "/items/{item_id}/accept", "POST", response=Item)
@performs("item.accept_issue")
def accept_item(req: Req, item_id: str) -> Item:
    """Accept an item whose inspection found an issue: it is stored, its 90 days start now."""
    from chalicelib import feedback

    return Item.of(feedback.decide(req.user.user_id, item_id, "accept_issue"))


@route(bp, "/items/{item_id}/confirm", "POST", response=Item)
@performs("item.confirm")
def confirm_item(req: Req, item_id: str) -> Item:
    """Confirm electronics from their arrival photos: stored, its 90 days start now."""
    from chalicelib import feedback

    return Item.of(feedback.decide(req.user.user_id, item_id, "confirm"))


@route(bp, "/after-sales", "POST", body=CaseBody, status=201, response=AfterSalesCase)
def open_case(req: Req) -> AfterSalesCase:
    """Open an after-sales case (return, exchange or refund) for an item, or a refund case for a
    delivered one within the after-sales window."""
    from chalicelib import aftersales

    b = req.body
    return AfterSalesCase.of(aftersales.open_case(req.user.user_id, b.item_id, b.type, b.reason, b.issue))


@route(bp, "/after-sales/{case_id}/photos", "POST", body=EvidencePhotoBody, status=201, response=PhotoUpload)
def request_case_photo(req: Req, case_id: str) -> dict:
    """A presigned POST for one evidence photo of your open case (JPEG, PNG or WebP, at most 10 MB)."""
    from chalicelib import aftersales

    return aftersales.request_evidence(req.user.user_id, case_id, req.body.content_type)


@route(bp, "/after-sales", query=("limit", "cursor"), response=AfterSalesCasePage)
def list_cases(req: Req) -> AfterSalesCasePage:
    """The caller's after-sales cases, newest first."""
    from chalicelib import aftersales

    cases, last = aftersales.list_own(req.user.user_id, page_limit(req), decode_cursor(req))
    return AfterSalesCasePage.of(cases, encode_cursor(last))


@route(bp, "/forwarding", "POST", body=ForwardingBody, status=201, response=ForwardingDeclaration)
def declare_forwarding(req: Req) -> ForwardingDeclaration:
    """Declare a parcel you bought yourself; it is matched to you when it arrives."""
    b = req.body
    declared = warehouse.declare_forwarding(req.user.user_id, b.tracking_no, b.carrier, b.description)
    return ForwardingDeclaration.of(declared)


@route(bp, "/forwarding", query=("limit", "cursor"), response=ForwardingDeclarationPage)
def list_forwarding(req: Req) -> ForwardingDeclarationPage:
    """The caller's forwarding declarations."""
    declarations, last = warehouse.list_declarations(req.user.user_id, page_limit(req), decode_cursor(req))
    return ForwardingDeclarationPage.of(declarations, encode_cursor(last))
