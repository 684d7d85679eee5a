"""Product detail from marketplace APIs, cached in DynamoDB (models.catalog.ProductCacheModel).

- fresh for PRODUCT_CACHE_MINUTES (default 10): the same link pasted by many customers costs one
  marketplace call in that time;
- kept for PRODUCT_CACHE_STALE_HOURS (default 24) after it was fetched, and served (stale) only when
  the marketplace cannot answer; DynamoDB's TTL deletes it afterwards;
- "gone" answers (delisted, no such item) are cached as well, so a dead link is not asked again
  while fresh;
- quotes and orders ask for a copy at most REPRICE_MAX_AGE_SECONDS old (default 60): they re-price
  against the marketplace, not against what a customer saw minutes ago.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import timedelta

from chalicelib import clock
from chalicelib.catalog import remote
from chalicelib.catalog.source import Product, Shop, Sku


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
