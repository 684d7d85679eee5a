"""The 1688 cross-border ("XunYuanTong", 跨境寻源通) open-platform adapter.

Four APIs of the namespace `com.alibaba.fenxiao.crossborder`, version 1, over the open platform's
signed requests (POST, form-encoded, to `<base>/param2/1/com.alibaba.fenxiao.crossborder/<api>/<appKey>`):

- product.search.queryProductDetail  `offerDetailParam` {offerId, country}   -> one product
- product.search.keywordQuery        `offerQueryParam` {keyword, beginPage, pageSize, country}
- product.image.upload + product.search.imageQuery  `uploadImageParam` {imageBase64} -> imageId
  (an image of at most UPLOAD_MAX_BYTES: larger ones are re-encoded smaller first);
  `offerQueryParam` {imageId, beginPage, pageSize, country}
- product.freight.estimate           `productFreightQueryParamsNew` {offerId, toProvinceCode,
  toCityCode, toCountryCode (the DISTRICT code, not a country), totalNum, logisticsSkuNumModels
  (required: [] for an offer without SKUs)}: the shop's freight to our warehouse
tests/fixtures/sources/SOURCES.md names the documentation and clients each shape comes from.

Signing: `_aop_signature` = uppercase hex HMAC-SHA1, keyed with the app secret, over the URL path
("param2/1/<namespace>/<api>/<appKey>") followed by every other parameter as key+value, sorted by
key. `access_token` (the authorised 1688 buyer account) is one of the signed parameters.

Answers: a business envelope `{"result": {"success", "code", "message", "result": ...}}`, or the
gateway's `{"error_code", "error_message", "request_id"}` (bad signature or token, throttling
`gw.QosAppFrequencyLimit` / `gw.QosApiFrequencyLimit`: retried with backoff by remote.call).

Mapping traps (docs/sources.md):
- titles: `subjectTrans` (translated, what customers read) and `subject` (Chinese, title_zh);
  SKU attributes likewise (`attributeNameTrans`/`valueTrans`, falling back to the Chinese ones);
- prices: `productSaleInfo.quoteType` says how the offer is priced: 1 per SKU (each SKU's `price`);
  0 (no SKUs) and 2 (SKUs, priced by quantity) by `productSaleInfo.priceRangeList`, where the first
  range (the smallest `startQuantity`, which is the minimum order quantity) has the highest unit price.
  A SKU without its own price takes that range price too; `consignPrice` is documented as deprecated
  and never read. We charge that price: never less than the
  shop will ask for the quantities customers buy, and the purchase step's price-difference rule
  handles the rest. The minimum order is `minOrderQuantity`, else that first `startQuantity`;
- stock: `amountOnSale` per SKU (per offer when it has no SKUs); 0 is sold out, shown with stock 0;
- weight: `productShippingInfo.weight` is in KILOGRAMS for the offer, while each SKU's entry in
  `skuShippingInfoList` gives `weight` in GRAMS: we keep grams, the heaviest SKU's when known;
- status: only `published` offers are for sale; any other status (deleted, expired, member expired,
  auto expired, auditing...) is a delisted offer, like a `success: false` answer: no product.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from chalicelib import config
from chalicelib.catalog import remote
from chalicelib.catalog.links import canonical_url
from chalicelib.catalog.source import InvalidCursor, Page, Product, Shop, Sku, Summary
from chalicelib.logs import get_logger

log = get_logger("catalog.alibaba")

NAMESPACE = "com.alibaba.fenxiao.crossborder"
MARKETPLACE = "1688"
PREFIX = "1688-"  # our product ids for 1688 offers: 1688-<offerId>
DEFAULT_BASE_URL = "https://gw.open.1688.com/openapi"
THROTTLE_CODES = ("gw.QosAppFrequencyLimit", "gw.QosApiFrequencyLimit", "isv.app-call-limited")
FOR_SALE = "published"
MAX_PAGE_SIZE = 50
UPLOAD_MAX_BYTES = 3 * 1024 * 1024  # the upload takes up to 3 MB (tests/fixtures/sources/SOURCES.md)
UPLOAD_MAX_SIDE = 1600  # a re-encoded image's longest side: plenty for a visual search
PER_SKU, NO_SKU_BY_QUANTITY, SKUS_BY_QUANTITY = 1, 0, 2  # productSaleInfo.quoteType
UNKNOWN_SHOP = "1688 seller"  # a hit without a shop name (filled from the product cache when known)


def url_path(api: str, app_key: str) -> str:
    return f"param2/1/{NAMESPACE}/{api}/{app_key}"


def signature(path: str, params: dict[str, str], secret: str) -> str:
    """The open platform's `_aop_signature` over `path` and the (other) parameters."""
    message = path + "".join(f"{k}{params[k]}" for k in sorted(params))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha1).hexdigest().upper()


def _classify(body: Any) -> str:
    if not isinstance(body, dict):
        return remote.FAILED
    code = str(body.get("error_code") or body.get("errorCode") or "")
    if code:
        return remote.THROTTLED if code in THROTTLE_CODES or "FrequencyLimit" in code else remote.FAILED
    return remote.OK if isinstance(body.get("result"), dict) else remote.FAILED


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


class AlibabaClient:
    """Signed calls to the 1688 open platform (credentials from chalicelib.catalog.credentials)."""

    def __init__(self, app_key: str, app_secret: str, access_token: str, base_url: str | None = None):
        self.app_key, self.app_secret, self.access_token = app_key, app_secret, access_token
        self.base_url = (base_url or config.get("ALIBABA_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")

    def call(self, api: str, **params: Any) -> dict:
        """The business result of `api` (the inner `result`), or raises remote.SourceUnavailable."""
        form = {
            k: v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for k, v in params.items()
        }
        form["access_token"] = self.access_token
        path = url_path(api, self.app_key)
        form["_aop_signature"] = signature(path, form, self.app_secret)
        body = remote.call(MARKETPLACE, "POST", f"{self.base_url}/{path}", data=form, classify=_classify)
        return body["result"]

    # --- the four APIs ---------------------------------------------------------------------

    def product_detail(self, offer_id: str) -> dict | None:
        envelope = self.call(
            "product.search.queryProductDetail", offerDetailParam={"offerId": int(offer_id), "country": "en"}
        )
        if not envelope.get("success") or not isinstance(envelope.get("result"), dict):
            log.info("offer not available", extra={"offer_id": offer_id, "code": envelope.get("code")})
            return None
        return envelope["result"]

    def keyword_query(self, keyword: str, page: int, page_size: int) -> dict:
        envelope = self.call(
            "product.search.keywordQuery",
            offerQueryParam={"keyword": keyword, "beginPage": page, "pageSize": page_size, "country": "en"},
        )
        return (envelope.get("result") or {}) if envelope.get("success") else {}

    def image_query(self, image: bytes, page_size: int) -> dict:
        uploaded = self.call(
            "product.image.upload",
            uploadImageParam={"imageBase64": base64.b64encode(fit_for_upload(image)).decode()},
        )
        image_id = uploaded.get("result") if uploaded.get("success") else None
        if not image_id:
            return {}
        envelope = self.call(
            "product.search.imageQuery",
            offerQueryParam={
                "imageId": str(image_id),
                "beginPage": 1,
                "pageSize": page_size,
                "country": "en",
            },
        )
        return (envelope.get("result") or {}) if envelope.get("success") else {}

    def freight_fen(self, offer: dict) -> int | None:
        """The shop's freight for one unit to our warehouse (WAREHOUSE_PROVINCE_CODE, _CITY_CODE and
        _DISTRICT_CODE: the API's `toCountryCode` is the district)."""
        skus = offer.get("productSkuInfos") or []
        query = {
            "offerId": offer.get("offerId"),
            "toProvinceCode": config.get("WAREHOUSE_PROVINCE_CODE"),
            "toCityCode": config.get("WAREHOUSE_CITY_CODE"),
            "toCountryCode": config.get("WAREHOUSE_DISTRICT_CODE"),
            "totalNum": 1,
            # required by the documentation; an offer without SKUs sends it empty
            "logisticsSkuNumModels": [{"skuId": str(skus[0].get("skuId")), "number": 1}] if skus else [],
        }
        envelope = self.call("product.freight.estimate", productFreightQueryParamsNew=query)
        result = envelope.get("result") if envelope.get("success") else None
        if not isinstance(result, dict):
            return None
        if result.get("freePostage") is True:
            return 0
        return remote.fen(result.get("freight"))


def fit_for_upload(image: bytes) -> bytes:
    """`image` as is when it fits UPLOAD_MAX_BYTES, else re-encoded as a JPEG of at most UPLOAD_MAX_SIDE
    pixels a side (smaller and lower quality until it fits). The route already checked it decodes."""
    if len(image) <= UPLOAD_MAX_BYTES:
        return image
    import io

    from PIL import Image

    with Image.open(io.BytesIO(image)) as img:
        img.draft("RGB", (UPLOAD_MAX_SIDE, UPLOAD_MAX_SIDE))
        picture = img.convert("RGB")
    side, quality = UPLOAD_MAX_SIDE, 85
    while True:
        picture.thumbnail((side, side))
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=quality, optimize=True)
        if out.tell() <= UPLOAD_MAX_BYTES or side <= 200:
            return out.getvalue()
        side, quality = side * 3 // 4, max(50, quality - 10)


# --- mapping -------------------------------------------------------------------------------


def _ranges(offer: dict) -> list[tuple[int, int]]:
    """(startQuantity, unit price fen) of the offer's quantity price ranges, smallest quantity first."""
    sale = offer.get("productSaleInfo") or {}
    ranges = []
    for entry in sale.get("priceRangeList") or []:
        price = remote.price_fen(entry.get("price"))
        if price is not None:
            ranges.append((max(1, remote.whole(entry.get("startQuantity"), 1, remote.MAX_QUANTITY)), price))
    return sorted(ranges)


def _props(sku: dict) -> dict[str, str]:
    props = {}
    for attribute in sku.get("skuAttributes") or []:
        name = _text(attribute.get("attributeNameTrans")) or _text(attribute.get("attributeName"))
        value = _text(attribute.get("valueTrans")) or _text(attribute.get("value"))
        if name and value:
            props[name] = value
    return props


def _weight_g(offer: dict) -> int:
    shipping = offer.get("productShippingInfo") or {}
    per_sku = [
        remote.whole(s.get("weight"), 0, remote.MAX_WEIGHT_G)
        for s in shipping.get("skuShippingInfoList") or []
    ]
    per_sku = [g for g in per_sku if g > 0]
    if per_sku:
        return max(per_sku)  # grams per SKU
    return remote.grams_from_kg(shipping.get("weight") or shipping.get("unitWeight"))  # kilograms


def to_product(offer: dict, domestic_shipping_fen: int) -> Product | None:
    """Our product for a 1688 offer; None when it is not for sale (delisted) or has no usable price."""
    offer_id = str(offer.get("offerId") or "")
    if not offer_id.isdigit() or _text(offer.get("status")) not in ("", FOR_SALE):
        return None
    ranges = _ranges(offer)
    range_price = ranges[0][1] if ranges else None
    sale = offer.get("productSaleInfo") or {}
    by_quantity = remote.whole(sale.get("quoteType"), PER_SKU) in (NO_SKU_BY_QUANTITY, SKUS_BY_QUANTITY)
    skus = []
    for sku in offer.get("productSkuInfos") or []:
        own = None if by_quantity and range_price is not None else remote.price_fen(sku.get("price"))
        price = own or range_price  # priced by quantity, or a SKU without its own price: the ranges
        if price is None or sku.get("skuId") is None:
            continue
        skus.append(Sku(str(sku["skuId"]), _props(sku), price, remote.whole(sku.get("amountOnSale"))))
    if not offer.get("productSkuInfos") and range_price is not None:
        skus.append(Sku(offer_id, {}, range_price, remote.whole(sale.get("amountOnSale"))))
    if not skus:
        return None
    images = tuple(
        u
        for u in (remote.absolute_url(i) for i in (offer.get("productImage") or {}).get("images") or [])
        if u
    )
    minimum = remote.whole(offer.get("minOrderQuantity"), 0, remote.MAX_QUANTITY) or (
        ranges[0][0] if ranges else 1
    )
    title_zh = _text(offer.get("subject")) or None
    seller = _text(offer.get("sellerOpenId")) or f"1688-seller-{offer_id}"
    return Product(
        product_id=PREFIX + offer_id,
        source=MARKETPLACE,
        source_item_id=offer_id,
        source_url=canonical_url(MARKETPLACE, offer_id),
        title=_text(offer.get("subjectTrans")) or title_zh or f"1688 offer {offer_id}",
        title_zh=title_zh,
        category="general",
        shop=Shop(
            seller, _text(offer.get("companyName")) or _text(offer.get("sellerLoginId")) or "1688 seller"
        ),
        skus=tuple(skus),
        images=images,
        min_quantity=max(1, minimum),
        domestic_shipping_fen=domestic_shipping_fen,
        weight_g=_weight_g(offer),
    )


def to_summary(hit: dict) -> Summary | None:
    offer_id = str(hit.get("offerId") or "")
    price = remote.price_fen((hit.get("priceInfo") or {}).get("price"))
    if not offer_id.isdigit() or price is None:
        return None
    return Summary(
        product_id=PREFIX + offer_id,
        source=MARKETPLACE,
        title=_text(hit.get("subjectTrans")) or _text(hit.get("subject")) or f"1688 offer {offer_id}",
        price_fen=price,
        image_url=remote.absolute_url(hit.get("imageUrl")),
        shop_name=_text(hit.get("companyName")) or UNKNOWN_SHOP,  # keyword hits carry no shop
    )


class AlibabaSource:
    """Fetches and maps 1688 offers (the cache and routing are CompositeSource's)."""

    marketplace = MARKETPLACE
    prefix = PREFIX

    def __init__(self, client: AlibabaClient):
        self.client = client

    def fetch(self, offer_id: str) -> Product | None:
        offer = self.client.product_detail(offer_id)
        if offer is None or _text(offer.get("status")) not in ("", FOR_SALE):
            return None  # delisted: no freight estimate for it
        try:
            freight = self.client.freight_fen(offer)
        except remote.SourceUnavailable:
            freight = None
        if freight is None:  # the estimate failed: a shop's usual domestic freight, never nothing
            freight = remote.setting_int("SOURCE_DEFAULT_DOMESTIC_SHIPPING_FEN", 1000)
        return to_product(offer, freight)

    def search(self, keyword: str, limit: int, cursor: dict | None) -> Page:
        page = _page_number(cursor)
        result = self.client.keyword_query(keyword, page, min(limit, MAX_PAGE_SIZE))
        return _page(result, page)

    def image_search(self, image: bytes, limit: int) -> list[Summary]:
        result = self.client.image_query(image, min(limit, MAX_PAGE_SIZE))
        return _page(result, 1).items


def _page_number(cursor: dict | None) -> int:
    if cursor is None:
        return 1
    page = cursor.get("page")
    if set(cursor) != {"page"} or type(page) is not int or not 2 <= page <= 1000:
        raise InvalidCursor("cursor is not one this API returned.")
    return page


def _page(result: dict, page: int) -> Page:
    hits = [s for s in (to_summary(h) for h in result.get("data") or [] if isinstance(h, dict)) if s]
    total_pages = remote.whole(result.get("totalPage"), 0, remote.MAX_PAGES)
    return Page(items=hits, next_cursor={"page": page + 1} if hits and page < total_pages else None)
