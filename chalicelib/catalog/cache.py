"""Product detail from marketplace APIs, cached in DynamoDB (models.catalog.ProductCacheModel).

- fresh for PRODUCT_CACHE_MINUTES (default 10): the same link pasted by many customers costs one
  marketplace call in that time;
- kept for PRODUCT_CACHE_STALE_HOURS (default 24) after it was fetched, and served (stale) only when
  the marketplace cannot answer; DynamoDB's TTL deletes it afterwards;
- "gone" answers (delisted, no such item) are cached as well, so a dead link is not asked again
  while fresh;
- quotes and orders ask for a copy at most REPRICE_MAX_AGE_SECONDS old (default 60): they re-price
  against the marketplace, not against what a customer saw minutes ago;
- marketplace search pages (keyword and image search) are cached the same way under `search#<digest>`
  / `image#<digest>` keys for SEARCH_CACHE_MINUTES (default 10): the same search by many visitors
  costs one marketplace call, and a stale page is served while the marketplace cannot answer.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import timedelta

from chalicelib import clock
from chalicelib.catalog import remote
from chalicelib.catalog.source import Page, Product, Shop, Sku, Summary


@dataclass(frozen=True)
class Entry:
    product: Product | None  # None: the marketplace said the item is gone
    fresh: bool
    age_seconds: float  # since it was fetched


def dumps(product: Product) -> str:
    return json.dumps(asdict(product), ensure_ascii=False, separators=(",", ":"))


def loads(text: str) -> Product:
    data = json.loads(text)
    data["shop"] = Shop(**data["shop"])
    data["skus"] = tuple(Sku(**s) for s in data["skus"])
    data["images"] = tuple(data.get("images") or ())
    data["attributes"] = tuple(data.get("attributes") or ())
    return Product(**data)


def read(product_id: str) -> Entry | None:
    from chalicelib.models.catalog import ProductCacheModel

    try:
        row = ProductCacheModel.get(product_id)
    except ProductCacheModel.DoesNotExist:
        return None
    now = clock.now()
    if row.expires_at is not None and row.expires_at <= now:  # TTL deletion lags: expired is absent
        return None
    age = (now - clock.parse_iso(row.fetched_at)).total_seconds()
    product = loads(row.body) if row.body else None
    return Entry(product, fresh=float(row.fresh_until) > now.timestamp(), age_seconds=age)


def write(product_id: str, product: Product | None) -> None:
    from chalicelib.models.catalog import ProductCacheModel

    now = clock.now()
    fresh = now + timedelta(minutes=remote.setting_float("PRODUCT_CACHE_MINUTES", 10))
    keep = now + timedelta(hours=remote.setting_float("PRODUCT_CACHE_STALE_HOURS", 24))
    ProductCacheModel(
        product_id,
        body=dumps(product) if product is not None else None,
        fetched_at=clock.iso(now),
        fresh_until=int(fresh.timestamp()),
        expires_at=max(keep, fresh),
    ).save()


def page_key(kind: str, *parts: object) -> str:
    """The cache key of a marketplace search page: `search#...` / `image#...` and a digest of what was
    asked (the keyword, image bytes, limit and cursor), so no caller text becomes a key as is."""
    import hashlib

    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else json.dumps(part, sort_keys=True).encode())
        digest.update(b"\x00")
    return f"{kind}#{digest.hexdigest()}"


def read_page(key: str) -> tuple[Page, bool] | None:
    """(the cached search page, fresh?) or None; served stale only when the marketplace cannot answer."""
    from chalicelib.models.catalog import ProductCacheModel

    try:
        row = ProductCacheModel.get(key)
    except ProductCacheModel.DoesNotExist:
        return None
    now = clock.now()
    if (row.expires_at is not None and row.expires_at <= now) or not row.body:
        return None
    data = json.loads(row.body)
    items = [Summary(**item) for item in data["items"]]
    return Page(items=items, next_cursor=data.get("next_cursor")), float(row.fresh_until) > now.timestamp()


def write_page(key: str, page: Page) -> None:
    from chalicelib.models.catalog import ProductCacheModel

    now = clock.now()
    fresh = now + timedelta(minutes=remote.setting_float("SEARCH_CACHE_MINUTES", 10))
    keep = now + timedelta(hours=remote.setting_float("PRODUCT_CACHE_STALE_HOURS", 24))
    body = {"items": [item.summary() for item in page.items], "next_cursor": page.next_cursor}
    ProductCacheModel(
        key,
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        fetched_at=clock.iso(now),
        fresh_until=int(fresh.timestamp()),
        expires_at=max(keep, fresh),
    ).save()


def shop_names(product_ids: list[str]) -> dict[str, str]:
    """{product id: shop name} of the cached products among `product_ids` (one BatchGetItem, at most 100
    ids): what a marketplace search hit lacks (1688's keyword search returns no shop)."""
    from chalicelib import db
    from chalicelib.models.catalog import ProductCacheModel

    wanted = list(dict.fromkeys(product_ids))[:100]
    if not wanted:
        return {}
    found = db.batch_read([(ProductCacheModel, (p,)) for p in wanted])
    names = {}
    for (_, (product_id,)), row in found.items():
        if row.body:
            name = (json.loads(row.body).get("shop") or {}).get("name")
            if isinstance(name, str) and name.strip():
                names[product_id] = name.strip()
    return names
