"""Shipping lines, packages (customers) and packing/shipping (staff group `warehouse`)."""

from __future__ import annotations

from typing import Annotated

from chalice import Blueprint

from chalicelib import packages
from chalicelib.errors import ValidationError
from chalicelib.lifecycle import PackageStatus
from chalicelib.responses.packages import (
    PackageDetail,
    PackagePage,
    PackageQuote,
    PackageReview,
    StaffPackage,
    StaffPackagePage,
)
from chalicelib.responses.settlement import PackPreview, SettlementDecision
from chalicelib.responses.shipping import PackageServiceCatalog, ShippingLinePage
from chalicelib.rules.customs import HS_CODE
from chalicelib.schemas import Body, Fen, Id, PackageDims, TrackingNo, example
from chalicelib.typed import Field
from chalicelib.web import Req, decode_cursor, encode_cursor, page_limit, performs, route

bp = Blueprint(__name__)

WAREHOUSE = ("warehouse",)
ItemIds = Annotated[list[Id], Field(min_length=1, max_length=packages.MAX_ITEMS_PER_PACKAGE)]
Country = Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")]
ServiceName = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z_]+$")]
Services = Annotated[list[ServiceName], Field(max_length=10)]


def _text(max_length: int, min_length: int = 1):
    return Annotated[str, Field(min_length=min_length, max_length=max_length)]


ADDRESS = {
    "name": "Alice Martin",
    "phone": "+33 6 12 34 56 78",
    "country": "FR",
    "state": "Île-de-France",
    "city": "Paris",
    "postal_code": "75011",
    "line1": "12 rue Oberkampf",
    "line2": "Bâtiment B, 3e étage",
}
ITEMS = ["itm_01JD3Q8Y6Z5N7B2K4M9P0R1S2T", "itm_01JD3Q8Y70A1B2C3D4E5F6G7H8"]  # stored items of the caller


class Address(Body):
    """Where the package goes abroad (surrounding spaces are trimmed)."""

    model_config = example(ADDRESS, str_strip_whitespace=True)

    name: _text(100)
    phone: Annotated[str, Field(min_length=5, max_length=32, pattern=r"^\+?[0-9][0-9 ()-]{3,30}[0-9]$")]
    country: Country
    state: _text(100)
    city: _text(100)
    postal_code: Annotated[str, Field(min_length=2, max_length=12, pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]*$")]
    line1: _text(200)
    line2: _text(200, 0) | None = None


class QuoteBody(Body):
    """Stored items to ship together, and where: what each shipping line would charge."""

    model_config = example({"item_ids": ITEMS, "country": "FR", "services": ["insurance"]})

    item_ids: ItemIds = Field(description="The caller's items in storage (`GET /warehouse/items`).")
    country: Country = Field(description="ISO 3166-1 alpha-2 destination country.")
    services: Services = Field(
        default_factory=list, description="Value-added services (`GET /package-services`)."
    )
    declared_value_fen: Fen | None = Field(
        None, description="The value declared to customs; default: what the items cost."
    )


HsCode = Annotated[str, Field(pattern=HS_CODE, description="6, 8 or 10 digits of the HS tariff code.")]


class CustomsLineBody(Body):
    """One line of the customs declaration: what it is in English, how many, and the value of one, in fen
    or in the customer's currency (converted at the rate the answer shows)."""

    model_config = example(
        {
            "description_en": "Cotton T-shirt, men's, black",
            "quantity": 2,
            "unit_value_fen": 2500,
            "hs_code": "610910",
            "origin": "CN",
        },
        str_strip_whitespace=True,
    )

    description_en: Annotated[str, Field(min_length=3, max_length=100, pattern=r"^[ -~]+$")]
    quantity: Annotated[int, Field(ge=1, le=9999)]
    unit_value_fen: Fen | None = Field(None, description="The value of one, in fen.")
    unit_value_minor: Annotated[int, Field(ge=0, le=10**10)] | None = Field(
        None, description="The value of one in the customer's currency's minor units (instead of fen)."
    )
    hs_code: HsCode | None = None
    origin: Country = Field("CN", description="ISO 3166-1 alpha-2 country of origin (bought in China: CN).")
    item_id: Id | None = Field(None, description="The package's item the line declares, if one.")


class CustomsBody(Body):
    """The customs declaration: its lines (prefilled from the items when omitted) and the tax ids the
    destination's rules ask for (`GET /policies`)."""

    model_config = example(
        {"lines": [CustomsLineBody.model_config["json_schema_extra"]["examples"][0]]},
        str_strip_whitespace=True,
    )

    lines: Annotated[list[CustomsLineBody], Field(min_length=1, max_length=50)] | None = Field(
        None, description="Omitted: one line per item (its title, quantity and price paid)."
    )
    recipient_tax_id: Annotated[str, Field(min_length=5, max_length=20)] | None = Field(
        None, description="Where the destination requires one: Brazil the CPF, Korea the PCCC."
    )
    ioss_number: Annotated[str, Field(min_length=12, max_length=12)] | None = Field(
        None, description="EU parcels worth up to EUR 150: the IOSS number VAT was paid under."
    )


class PackageBody(Body):
    """Consolidate stored items into one package to ship abroad on a shipping line."""

    model_config = example(
        {
            "item_ids": ITEMS,
            "address": ADDRESS,
            "line_id": "ems",
            "services": ["insurance"],
            # to France up to EUR 150: declared under IOSS (docs/customs.md); lines omitted: from the items
            "customs": {"ioss_number": "IM2500000017"},
        }
    )

    item_ids: ItemIds = Field(description="The caller's items in storage (`GET /warehouse/items`).")
    address: Address
    line_id: Id = Field(description="A line serving the address's country (`GET /shipping-lines?country=`).")
    services: Services = Field(
        default_factory=list, description="Value-added services (`GET /package-services`)."
    )
    declared_value_fen: Fen | None = Field(
        None,
        description="The value declared to customs: the customs lines' total (a different value is a 400 "
        "customs_refused); default: that total.",
    )
    customs: CustomsBody | None = Field(
        None, description="The customs declaration lines and tax ids; omitted: prefilled from the items."
    )


class PackBody(Body):
    """The packed package as weighed and measured: its final shipping price follows from them."""

    model_config = example({"weight_g": 2350, "dims_cm": {"l": 40, "w": 30, "h": 20}})

    weight_g: Annotated[int, Field(ge=1, le=300_000, description="Gross weight in grams.")]
    dims_cm: PackageDims


class ShipBody(Body):
    """The package handed to the international carrier."""

    model_config = example({"carrier": "EMS", "tracking_no": "EE123456789CN"})

    carrier: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9 .&-]*$")]
    tracking_no: TrackingNo = Field(description="The carrier's tracking number (customers track with it).")


class RepackBody(Body):
    """What to change in a rehearsed parcel before it ships."""

    model_config = example(
        {"note": "Please remove the shoe boxes and add bubble wrap around the mug."},
        str_strip_whitespace=True,
    )

    note: Annotated[str, Field(min_length=1, max_length=500, description="For the packers, in plain words.")]


class ReviewBody(Body):
    """The customer's review of a received package."""

    model_config = example({"rating": 5, "comment": "Well packed, arrived in 9 days."})

    rating: Annotated[int, Field(ge=1, le=5, description="1 (bad) to 5 (excellent).")]
    comment: _text(2000, 0)


# --- public ----------------------------------------------------------------------------------------------


@route(bp, "/shipping-lines", public=True, query=("country",), response=ShippingLinePage)
def shipping_lines(req: Req) -> dict:
    """International shipping lines and their rates, optionally only those serving `?country=`."""
    country = req.query.get("country")
    if country is not None and not (len(country) == 2 and country.isascii() and country.isalpha()):
        raise ValidationError("country must be an ISO 3166-1 alpha-2 code such as US.")
    return {"items": packages.shipping_lines(country.upper() if country else None), "next_cursor": None}


@route(bp, "/package-services", response=PackageServiceCatalog)
def package_services(req: Req) -> dict:
    """Value-added services, their prices and the package service fee rule."""
    return packages.catalog()


# --- customers -------------------------------------------------------------------------------------------


@route(bp, "/packages/quote", "POST", body=QuoteBody, currency=True, response=PackageQuote)
def quote_package(req: Req) -> dict:
    """Every line that may carry these stored items to a country, with chargeable weight and charges."""
    b = req.body
    return packages.quote(req.user.user_id, b.item_ids, b.country, b.services, b.declared_value_fen)


@route(bp, "/packages", "POST", body=PackageBody, status=201, currency=True, response=PackageDetail)
@performs("item.package")
def create_package(req: Req) -> PackageDetail:
    """Submit a package of stored items: they become in_package and their storage clock stops."""
    b = req.body
    address = b.address.model_dump()
    created = packages.create(
        req.user.user_id,
        b.item_ids,
        address,
        b.line_id,
        b.services,
        b.declared_value_fen,
        customs_sent=b.customs.model_dump() if b.customs else None,
    )
    return PackageDetail.of_result(created)


@route(bp, "/packages", query=("limit", "cursor"), currency=True, response=PackagePage)
def list_packages(req: Req) -> PackagePage:
    """The caller's packages, newest first."""
    listed, last = packages.list_packages(req.user.user_id, page_limit(req), decode_cursor(req))
    return PackagePage.of(listed, encode_cursor(last))


@route(bp, "/packages/{package_id}", currency=True, response=PackageDetail)
def get_package(req: Req, package_id: str) -> PackageDetail:
    """One of the caller's packages with its items, tracking once shipped, and review."""
    return PackageDetail.of_result(packages.get_package(req.user.user_id, package_id))


class PackagePayBody(Body):
    """How to pay a package: from the wallet (the default, also with no body) or through a provider."""

    model_config = example({"channel": "card"})

    channel: Annotated[
        str,
        Field(
            min_length=1,
            max_length=32,
            description="`balance` (the wallet) or an external channel of `GET /payment-channels`.",
        ),
    ] = "balance"


@route(
    bp,
    "/packages/{package_id}/pay",
    "POST",
    body=PackagePayBody,
    body_optional=True,
    money=True,
    currency=True,
    response=PackageDetail,
)
@performs("package.pay")
def pay_package(req: Req, package_id: str) -> packages.PackageResult:
    """Pay the package from the wallet (it joins the packing queue), or through an external channel: the
    answer's `payment` is what the storefront completes, and the package is paid once the provider
    confirms it (the same as `POST /packages/{package_id}/checkout`)."""
    if req.body.channel == "balance":  # what committed: PackageDetail.of_result renders it
        return packages.pay(req.user.user_id, package_id)
    from chalicelib import payments
    from chalicelib.rules.charges import channels

    channel = payments.external_channel(req.body.channel)
    if channel is None:
        raise ValidationError(f"channel must be one of: {', '.join(channels())}.")

    def answer(package, items, payment) -> packages.PackageResult:  # the package and its payment to complete
        return packages.PackageResult(package, items, payment=payment)

    # what committed (with the Idempotency-Key's record): PackageDetail.of_result renders it
    return payments.checkout_package(req.user.user_id, package_id, channel, answer, with_items=True)


@route(bp, "/packages/{package_id}/pay-difference", "POST", money=True, response=PackageDetail)
@performs("package.pay_difference", "settlement.pay_difference")
def pay_package_difference(req: Req, package_id: str) -> packages.PackageResult:
    """Pay a higher final charge after packing from the wallet."""
    return packages.pay_difference(req.user.user_id, package_id)


@route(bp, "/packages/{package_id}/return-to-storage", "POST", money=True, response=PackageDetail)
@performs("package.return_to_storage", "item.unpackage", "settlement.decline_difference")
def return_package_to_storage(req: Req, package_id: str) -> packages.PackageResult:
    """Decline a packing difference or a rehearsed parcel: unpacked, items back to storage with their
    deadlines (at least the grace period), what was paid refunded (less a rehearsal already done)."""
    return packages.return_to_storage(req.user.user_id, package_id)


@route(bp, "/packages/{package_id}/confirm-packing", "POST", money=True, response=PackageDetail)
@performs("package.confirm_packing")
def confirm_packing(req: Req, package_id: str) -> packages.PackageResult:
    """Confirm a rehearsed parcel at its exact final charge: the difference is charged from the wallet
    (402 when short) or refunded to it, and the package is shipped."""
    return packages.confirm_packing(req.user.user_id, package_id)


@route(bp, "/packages/{package_id}/repack", "POST", body=RepackBody, response=PackageDetail)
@performs("package.repack")
def repack_package(req: Req, package_id: str) -> PackageDetail:
    """Ask for a change to a rehearsed parcel (remove boxes, add protection...): back to the packers
    with the note."""
    return PackageDetail.of_result(packages.repack(req.user.user_id, package_id, req.body.note))


@route(bp, "/packages/{package_id}/cancel", "POST", money=True, currency=True, response=PackageDetail)
@performs("package.cancel", "item.unpackage")
def cancel_package(req: Req, package_id: str) -> packages.PackageResult:
    """Cancel before packing: items back to storage with their original deadline, payment refunded."""
    return packages.cancel(req.user.user_id, package_id)


@route(bp, "/packages/{package_id}/confirm-receipt", "POST", response=PackageDetail)
@performs("package.deliver", "item.deliver")
def confirm_receipt(req: Req, package_id: str) -> PackageDetail:
    """Confirm the package arrived: delivered."""
    return PackageDetail.of_result(packages.confirm_receipt(req.user.user_id, package_id))


@route(bp, "/packages/{package_id}/review", "POST", body=ReviewBody, status=201, response=PackageReview)
@performs("package.rate")
def review_package(req: Req, package_id: str) -> PackageReview:
    """Rate a delivered package (1-5) once."""
    return PackageReview.of(
        packages.add_review(req.user.user_id, package_id, req.body.rating, req.body.comment)
    )


# --- staff -----------------------------------------------------------------------------------------------


@route(
    bp, "/staff/packages", groups=WAREHOUSE, query=("status", "limit", "cursor"), response=StaffPackagePage
)
def package_queue(req: Req) -> StaffPackagePage:
    """Packages waiting for the warehouse: paid (to pack), packed (to ship), awaiting_payment (packed, the
    difference waits for the customer) or rehearsed (the customer confirms the rehearsed parcel)."""
    status = req.query.get("status", PackageStatus.PAID)
    if status not in packages.STAFF_QUEUES:
        raise ValidationError(f"status must be one of: {', '.join(packages.STAFF_QUEUES)}.")
    queued, last = packages.queue(status, page_limit(req), decode_cursor(req))
    return StaffPackagePage.of(queued, encode_cursor(last))


@route(bp, "/staff/packages/{package_id}", groups=WAREHOUSE, response=StaffPackage)
def staff_get_package(req: Req, package_id: str) -> StaffPackage:
    """Any package with its items (for packers)."""
    return StaffPackage.of_result(packages.staff_package(package_id))


@route(
    bp,
    "/staff/packages/{package_id}/pack",
    "POST",
    groups=WAREHOUSE,
    body=PackBody,
    money=True,
    response=StaffPackage,
)
@performs("package.pack", "package.pack_await_difference", "package.rehearse")
def pack_package(req: Req, package_id: str) -> packages.PackageResult:
    """Packed with the measured weight and size; the final charge is settled through the wallet."""
    b = req.body
    # what committed: StaffPackage.of_result renders it (once, for the answer and its idempotency record)
    return packages.pack(package_id, req.user.user_id, b.weight_g, b.dims_cm.model_dump())


@route(
    bp,
    "/staff/packages/{package_id}/pack-preview",
    "POST",
    groups=WAREHOUSE,
    body=PackBody,
    response=PackPreview,
)
def preview_pack(req: Req, package_id: str) -> PackPreview:
    """What packing at this weight and size would charge and settle now (the console's preview)."""
    b = req.body
    package, final, difference, decision = packages.preview_pack(
        package_id, b.weight_g, b.dims_cm.model_dump()
    )
    return PackPreview(
        package_id=package.package_id,
        price=final.as_json(),
        held_fen=final.total_fen - difference.amount_fen,
        decision=SettlementDecision.of(difference, decision),
        rehearsal=packages.rehearsed(package),
    )


@route(
    bp, "/staff/packages/{package_id}/ship", "POST", groups=WAREHOUSE, body=ShipBody, response=StaffPackage
)
@performs("package.ship", "item.ship")
def ship_package(req: Req, package_id: str) -> StaffPackage:
    """Shipped with the carrier's tracking number; the customer is emailed a tracking link."""
    b = req.body
    return StaffPackage.of_result(packages.ship(package_id, req.user.user_id, b.carrier, b.tracking_no))
