"""Catalog: search by keyword, pasted link or image; product detail. All routes are public."""

from chalice import Blueprint

from chalicelib.catalog import imagehash, links, text
from chalicelib.catalog.configured import get_source
from chalicelib.catalog.source import InvalidCursor
from chalicelib.errors import NotFound, ValidationError
from chalicelib.responses.catalog import ImageMatchPage, ProductDetail, ProductPage, ResolvedProduct
from chalicelib.schemas import Body, example
from chalicelib.typed import Field
from chalicelib.web import Req, decode_cursor, encode_cursor, page_limit, route

bp = Blueprint(__name__)

MAX_QUERY_CHARS = 200
# imagehash.MAX_IMAGE_BYTES base64-encoded, with slack for MIME line breaks and a data: URL prefix
MAX_IMAGE_BASE64_CHARS = imagehash.MAX_IMAGE_BYTES * 4 // 3 * 103 // 100 + 256


class ResolveBody(Body):
    """A product page link pasted from 1688, Taobao, Tmall or Weidian (desktop or mobile page)."""

    model_config = example({"url": "https://detail.1688.com/offer/623418795512.html"})

    url: str = Field(
        min_length=1,
        max_length=links.MAX_URL_CHARS,
        description="The page's URL, or the app's share text, as copied; other query parameters and "
        "fragments are ignored. Short share links (m.tb.cn, e.tb.cn, qr.1688.com) are opened when that "
        "marketplace's API is switched on; one that cannot be opened is a 400 unsupported_link.",
    )


class ImageSearchBody(Body):
    """A picture to search the catalog with (JPEG, PNG or WebP, at most 4 MB)."""

    model_config = example(
        {
            "image_base64": "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAGUlEQVR4nGM8"
            "ISfHQApgIkn1qIZRDUNKAwBPHwEkcYw1mAAAAABJRU5ErkJggg=="
        }
    )

    image_base64: str = Field(
        min_length=1,
        max_length=MAX_IMAGE_BASE64_CHARS,
        description="The image file's bytes in base64 (a `data:image/...;base64,` URL is accepted too).",
    )


def _bad_cursor() -> ValidationError:
    return ValidationError("cursor is not one this API returned.")


@route(
    bp,
    "/products/search",
    "GET",
    public=True,
    query=("q", "limit", "cursor"),
    currency=True,
    response=ProductPage,
)
def search_products(req: Req) -> dict:
    """Search products by keyword (all words must match); featured products without `q`."""
    limit = page_limit(req)
    cursor = decode_cursor(req)
    query = (req.query.get("q") or "").strip()
    if len(query) > MAX_QUERY_CHARS:
        raise ValidationError(f"q must be at most {MAX_QUERY_CHARS} characters.")
    source = get_source()
    try:
        if query:
            page = source.search(text.query_terms(query), limit, cursor)
        else:
            page = source.featured(limit, cursor)
    except InvalidCursor:
        raise _bad_cursor() from None
    return {"items": [p.summary() for p in page.items], "next_cursor": encode_cursor(page.next_cursor)}


@route(
    bp, "/products/resolve", "POST", public=True, body=ResolveBody, currency=True, response=ResolvedProduct
)
def resolve_link(req: Req) -> dict:
    """The product behind a pasted 1688 / Taobao / Tmall / Weidian link (and the variant it names)."""
    try:
        try:
            link = links.parse_link(req.body.url)
        except links.ShortLink as short:
            # imported here: it loads the marketplace adapters and requests, which a search never needs
            from chalicelib.catalog import shortlinks

            link = shortlinks.resolve(short)  # one request to the short-link host, or the same 400
    except links.UnsupportedLink as exc:
        raise ValidationError(str(exc), code="unsupported_link") from None
    product = get_source().by_source_ref(link.source, link.item_id)
    if product is None:
        raise NotFound(f"We do not have that {link.source} product (item {link.item_id}) yet.")
    known = {s.sku_id for s in product.skus}
    return {**product.detail(), "selected_sku_id": link.sku_id if link.sku_id in known else None}


@route(
    bp,
    "/products/image-search",
    "POST",
    public=True,
    body=ImageSearchBody,
    query=("limit",),
    max_body_bytes=MAX_IMAGE_BASE64_CHARS + 1024,
    currency=True,
    response=ImageMatchPage,
)
def image_search(req: Req) -> dict:
    """Products whose pictures look like the posted image, most similar first.

    JPEG, PNG or WebP of at most 4 MB and IMAGE_SEARCH_MAX_PIXELS decoded pixels (4,000,000 by
    default; JPEGs decode at up to 1/8 scale, so phone photos fit); anything else is a 400.
    """
    limit = page_limit(req)
    try:
        data = imagehash.decode_base64(req.body.image_base64)
        matches = get_source().image_candidates(data, limit)
    except imagehash.NotAnImage as exc:
        raise ValidationError(str(exc)) from None
    items = [{**m.product.summary(), "distance": m.distance} for m in matches]
    return {"items": items, "next_cursor": None}


@route(bp, "/products/{product_id}", "GET", public=True, currency=True, response=ProductDetail)
def get_product(req: Req, product_id: str) -> dict:
    """Product detail: pictures, shop, SKUs with prices and stock."""
    product = get_source().get(product_id)
    if product is None:
        raise NotFound("No such product.")
    return product.detail()
