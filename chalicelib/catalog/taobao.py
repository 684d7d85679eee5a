"""The Taobao / Tmall adapter, through onebound's `item_get` reseller gateway.

    GET <base>/taobao/item_get/?key=<key>&secret=<secret>&num_iid=<item id>&lang=en

(ONEBOUND_BASE_URL, default https://api-gw.onebound.cn). One API for both marketplaces: Tmall items
live in Taobao's id space and come back with `tmall: true`.

Answers: `{"item": {...}, "error": "", "error_code": "0000", "reason": "", ...}`. A non-empty `error`
with another `error_code` is a failure: "2000" (no such item: deleted or delisted) is a definite
answer (no product); "4013" / "4016" and texts about frequency or quota are throttling (retried
with backoff by remote.call); anything else (bad key, expired account) fails the call.

Mapping traps (docs/sources.md):
- `title` is the translated title when asked `lang=en`; the Chinese one is kept when given
  (`title_cn`) as title_zh;
- SKUs: `skus.sku[]` with `price` (yuan text), `quantity` (stock) and `properties_name`
  ("pid:vid:Name:Value;pid:vid:Name:Value"), whose names and values may contain ':' in the value;
  an item without SKUs is one SKU at `price` with stock `num`;
- prices: `price` is what a buyer pays now (a promotion when one runs), `orginal_price` (sic) the
  list price: we charge `price`;
- stock: `num` / `quantity`; 0 everywhere is sold out (kept, stock 0);
- delisted: `approve_status` other than "onsale" (e.g. "instock": taken off the shelf) or error 2000;
- weight: `item_weight` in KILOGRAMS (often empty);
- freight: the text field `freight` ("快递: 免运费" is free shipping, "快递: 8.00" eight yuan) wins;
  else a positive `post_fee` / `express_fee` / `ems_fee` in yuan; else `post_fee` 0 is free; only
  with none of these the default. Free shipping also comes as `post_fee` 0 or "" beside that text.
- errors: only throttling is retried; a definite refusal (bad key, an item-level error) is 503 for
  that request without counting towards the breaker: only outages (timeouts, 5xx) open it.
"""

from __future__ import annotations

import re
from typing import Any

from chalicelib import config
from chalicelib.catalog import remote
from chalicelib.catalog.links import canonical_url
from chalicelib.catalog.source import Product, Shop, Sku
from chalicelib.logs import get_logger

log = get_logger("catalog.taobao")

MARKETPLACE = "taobao"
PREFIX = "taobao-"  # our product ids for Taobao and Tmall items: taobao-<num_iid>
DEFAULT_BASE_URL = "https://api-gw.onebound.cn"
OK_CODE = "0000"
GONE_CODES = ("2000",)
THROTTLE_CODES = ("4013", "4016")
FREE_SHIPPING_WORDS = ("免运费", "包邮", "卖家承担运费", "free shipping")
_AMOUNT = re.compile(r"(?<![\d.])(\d{1,6}(?:\.\d{1,2})?)(?![\d.])")


def _classify(body: Any) -> str:
    if not isinstance(body, dict):
        return remote.FAILED
    code = str(body.get("error_code") or OK_CODE)
    error = str(body.get("error") or "") + " " + str(body.get("reason") or "")
    if code == OK_CODE and isinstance(body.get("item"), dict):
        return remote.OK
    if code in GONE_CODES:
        return remote.OK  # a definite answer: no such item
    if code in THROTTLE_CODES or any(w in error.lower() for w in ("frequen", "limit", "quota")):
        return remote.THROTTLED
    return remote.REFUSED  # a definite answer about this call, not an outage: the breaker is not told


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


class OneboundClient:
    def __init__(self, key: str, secret: str, base_url: str | None = None):
        self.key, self.secret = key, secret
        self.base_url = (base_url or config.get("ONEBOUND_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")

    def item_get(self, num_iid: str) -> dict | None:
        body = remote.call(
            MARKETPLACE,
            "GET",
            f"{self.base_url}/taobao/item_get/",
            params={"key": self.key, "secret": self.secret, "num_iid": num_iid, "lang": "en"},
            classify=_classify,
        )
        if str(body.get("error_code") or OK_CODE) != OK_CODE:
            log.info("item not available", extra={"num_iid": num_iid, "code": body.get("error_code")})
            return None
        return body["item"]


def _props(properties_name: str) -> dict[str, str]:
    """{"Color": "Black"} from "1627207:28341:Color:Black;20509:28314:Size:S"."""
    props = {}
    for part in properties_name.split(";"):
        pieces = part.split(":", 3)
        if len(pieces) == 4 and pieces[2].strip() and pieces[3].strip():
            props[pieces[2].strip()] = pieces[3].strip()
    return props


def _freight_fen(item: dict) -> int | None:
    """The shop's freight in fen (see the module docstring), None when the answer does not say."""
    text = _text(item.get("freight"))
    if any(word in text.lower() for word in FREE_SHIPPING_WORDS):
        return 0
    amounts = [remote.fen(m) for m in _AMOUNT.findall(text)]
    if amounts and amounts[0] is not None:
        return amounts[0]
    for field in ("post_fee", "express_fee", "ems_fee"):
        amount = remote.fen(item.get(field))
        if amount:
            return amount
    return 0 if remote.fen(item.get("post_fee")) == 0 else None


def to_product(item: dict) -> Product | None:
    """Our product for an item_get answer; None when it is delisted or has no usable price."""
    num_iid = str(item.get("num_iid") or "")
    status = _text(item.get("approve_status"))
    if not num_iid.isdigit() or status not in ("", "onsale"):
        return None
    skus = []
    for sku in (item.get("skus") or {}).get("sku") or []:
        price = remote.price_fen(sku.get("price"))
        if price is None or not sku.get("sku_id"):
            continue
        skus.append(
            Sku(
                str(sku["sku_id"]),
                _props(_text(sku.get("properties_name"))),
                price,
                remote.whole(sku.get("quantity")),
            )
        )
    if not skus:
        price = remote.price_fen(item.get("price"))
        if price is None:
            return None
        skus.append(Sku(num_iid, {}, price, remote.whole(item.get("num"))))
    source = "tmall" if item.get("tmall") in (True, "true", 1, "1") else "taobao"
    seller = item.get("seller_info") or {}
    images = [remote.absolute_url(i.get("url")) for i in item.get("item_imgs") or [] if isinstance(i, dict)]
    main = remote.absolute_url(item.get("pic_url"))
    pictures = tuple(dict.fromkeys(u for u in [main, *images] if u))
    freight = _freight_fen(item)
    if freight is None:
        freight = remote.setting_int("SOURCE_DEFAULT_DOMESTIC_SHIPPING_FEN", 1000)
    return Product(
        product_id=PREFIX + num_iid,
        source=source,
        source_item_id=num_iid,
        source_url=canonical_url(source, num_iid),
        title=_text(item.get("title")) or f"{source} item {num_iid}",
        title_zh=_text(item.get("title_cn")) or None,
        category="general",
        shop=Shop(
            str(item.get("shop_id") or item.get("seller_id") or f"taobao-shop-{num_iid}"),
            _text(seller.get("shop_name")) or _text(item.get("nick")) or "Taobao shop",
        ),
        skus=tuple(skus),
        images=pictures,
        min_quantity=max(1, remote.whole(item.get("min_num"), 1, remote.MAX_QUANTITY)),
        domestic_shipping_fen=freight,
        weight_g=remote.grams_from_kg(item.get("item_weight")),
    )


class TaobaoSource:
    marketplace = MARKETPLACE
    prefix = PREFIX

    def __init__(self, client: OneboundClient):
        self.client = client

    def fetch(self, num_iid: str) -> Product | None:
        item = self.client.item_get(num_iid)
        return to_product(item) if item is not None else None
