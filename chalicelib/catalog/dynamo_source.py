"""The embedded product source: products, keyword index and image hashes in DynamoDB.

Reads are GetItem / BatchGetItem / Query only, never Scan:
- keyword search walks one term's posting list (Query on `product-words`, sorted by product id) and
  keeps the products that also have every other term (BatchGetItem on the (term, product) keys);
- featured products are a Query on the sparse `featured` GSI;
- image search reads the few shard items of the hash index (one Query) and ranks every hash in memory.

Writes (`put_product`, `write_image_index`) are used by seeding and would be used by a catalog import.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote

from chalicelib import config
from chalicelib.catalog import imagehash
from chalicelib.catalog.links import ID_SPACE, canonical_url
from chalicelib.catalog.source import ImageMatch, InvalidCursor, Page, Product, Shop, Sku, Summary
from chalicelib.catalog.text import index_terms

PRODUCT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
FEATURED_GROUP = "featured"
HASH_INDEX = "dhash64"
HASH_SHARDS = 4  # ~4,000 products fit one 400 KB item; raise with the catalog (a re-seed rebuilds)
MAX_EXAMINED = 1000  # posting-list entries one keyword request may walk before it returns a cursor
# what a list shows of a product (Summary), read without its SKUs and details: `price_fen` is the stored
# lowest SKU price (put_products keeps it), the first of `images` the main picture
SUMMARY_ATTRIBUTES = ("source", "title", "price_fen", "images", "shop_name")


def image_url(key: str) -> str:
    """A URL a browser can GET for a catalog picture stored in the photo bucket under `key`.

    CATALOG_IMAGE_BASE_URL (a CloudFront distribution in front of the bucket's public `catalog/`
    prefix) wins; locally the moto endpoint serves the object path-style; otherwise the bucket's
    virtual-hosted https URL (needs a bucket policy that makes `catalog/*` publicly readable).
    """
    path = quote(key)
    base = config.get("CATALOG_IMAGE_BASE_URL")
    if base:
        return f"{base.rstrip('/')}/{path}"
    bucket = config.get("PHOTO_BUCKET")
    endpoint = config.endpoint_url()
    if endpoint:
        return f"{endpoint.rstrip('/')}/{bucket}/{path}"
    return f"https://{bucket}.s3.{config.region()}.amazonaws.com/{path}"


def source_ref(source: str, item_id: str) -> str:
    return f"{ID_SPACE[source]}#{item_id}"


def _to_product(item) -> Product:
    return Product(
        product_id=item.product_id,
        source=item.source,
        source_item_id=item.source_item_id,
        source_url=item.source_url or canonical_url(item.source, item.source_item_id),
        title=item.title,
        title_zh=item.title_zh,
        category=item.category,
        images=tuple(image_url(k) for k in item.images or []),
        shop=Shop(shop_id=item.shop_id, name=item.shop_name),
        skus=tuple(
            Sku(
                sku_id=s.sku_id,
                props={str(k): str(v) for k, v in (s.props.as_dict() if s.props else {}).items()},
                price_fen=int(s.price_fen),
                stock=int(s.stock or 0),
            )
            for s in item.skus or []
        ),
        min_quantity=int(item.min_quantity or 1),
        domestic_shipping_fen=int(item.domestic_shipping_fen or 0),
        weight_g=int(item.weight_g or 0),
        attributes=tuple(item.attributes or []),
    )


def _to_summary(item) -> Summary:
    return Summary(
        product_id=item.product_id,
        source=item.source,
        title=item.title,
        price_fen=int(item.price_fen),
        image_url=image_url(item.images[0]) if item.images else None,
        shop_name=item.shop_name,
    )


def _cursor_product_id(cursor: dict, key: str) -> str:
    value = cursor.get(key)
    if set(cursor) != {key} or not isinstance(value, str) or not PRODUCT_ID.fullmatch(value):
        raise InvalidCursor("cursor is not one this API returned.")
    return value


def _shard_of(product_id: str) -> int:
    return hashlib.sha256(product_id.encode()).digest()[0] % HASH_SHARDS


class DynamoProductSource:
    """ProductSource over the catalog tables (see chalicelib/models/catalog.py)."""

    # --- reads ------------------------------------------------------------------------------

    def get(self, product_id: str) -> Product | None:
        from chalicelib.models.catalog import ProductModel

        if not isinstance(product_id, str) or not PRODUCT_ID.fullmatch(product_id):
            return None
        try:
            return _to_product(ProductModel.get(product_id))
        except ProductModel.DoesNotExist:
            return None

    def get_many(self, product_ids: list[str]) -> list[Product]:
        from chalicelib import db
        from chalicelib.models.catalog import ProductModel

        wanted = list(dict.fromkeys(p for p in product_ids if PRODUCT_ID.fullmatch(p)))
        if not wanted:
            return []
        if len(wanted) > db.MAX_BATCH_KEYS:
            found = {item.product_id: item for item in ProductModel.batch_get(wanted)}
        else:  # one request, which carries the request's riders (the caller's currency, chalicelib/db.py)
            rows = db.batch_read([(ProductModel, (p,)) for p in wanted], consistent=False)
            found = {item.product_id: item for item in rows.values()}
        return [_to_product(found[p]) for p in wanted if p in found]

    def summaries(self, product_ids: list[str]) -> list[Summary]:
        """What a list shows of the known products among `product_ids`, in that order: `get_many` reading
        only SUMMARY_ATTRIBUTES (a search page carries no SKUs, a fraction of each item to fetch and
        decode)."""
        from chalicelib import db
        from chalicelib.models.catalog import ProductModel

        wanted = list(dict.fromkeys(p for p in product_ids if PRODUCT_ID.fullmatch(p)))
        if not wanted:
            return []
        if len(wanted) > db.MAX_BATCH_KEYS:
            names = ["product_id", *SUMMARY_ATTRIBUTES]
            found = {
                item.product_id: item for item in ProductModel.batch_get(wanted, attributes_to_get=names)
            }
        else:  # one request, which carries the request's riders (the caller's currency, chalicelib/db.py)
            rows = db.batch_read(
                [(ProductModel, (p,)) for p in wanted], consistent=False, only=SUMMARY_ATTRIBUTES
            )
            found = {item.product_id: item for item in rows.values()}
        return [_to_summary(found[p]) for p in wanted if p in found]

    def by_source_ref(self, source: str, source_item_id: str) -> Product | None:
        from chalicelib.models.catalog import ProductModel

        if source not in ID_SPACE:
            return None
        for item in ProductModel.by_source_ref.query(source_ref(source, source_item_id), limit=1):
            return _to_product(item)
        return None

    def featured(self, limit: int, cursor: dict | None) -> Page:
        from chalicelib.models.catalog import ProductModel

        condition = None
        if cursor is not None:
            rank = cursor.get("rank")
            if set(cursor) != {"rank"} or type(rank) is not int or not 0 <= rank < 10**9:
                raise InvalidCursor("cursor is not one this API returned.")
            condition = ProductModel.featured_rank > rank
        items = list(
            ProductModel.featured.query(
                FEATURED_GROUP, range_key_condition=condition, limit=limit + 1, page_size=limit + 1
            )
        )
        next_cursor = {"rank": int(items[limit - 1].featured_rank)} if len(items) > limit else None
        return Page(items=[_to_product(i) for i in items[:limit]], next_cursor=next_cursor)

    def search(self, words: list[str], limit: int, cursor: dict | None) -> Page:
        from chalicelib.models.catalog import ProductWordModel

        after = _cursor_product_id(cursor, "after") if cursor is not None else None
        terms = list(dict.fromkeys(w for w in words if w))
        if not terms:
            return Page(items=[])
        # walk the posting list of the most selective-looking term (longest; ties by text, so the
        # choice, and therefore the cursor, is stable for a query); check the others by key
        driver = max(terms, key=lambda w: (len(w), w))
        others = [w for w in terms if w != driver]
        matches: list[str] = []
        examined = 0
        exhausted = False
        while len(matches) <= limit and examined < MAX_EXAMINED:
            batch = min(100, max(limit + 1 - len(matches), 25))
            condition = ProductWordModel.product_id > after if after else None
            ids = [
                row.product_id
                for row in ProductWordModel.query(
                    driver, range_key_condition=condition, limit=batch, page_size=batch
                )
            ]
            examined += len(ids)
            if ids and others:
                keys = [(w, p) for p in ids for w in others]
                present = {(r.word, r.product_id) for r in ProductWordModel.batch_get(keys)}
                ids_kept = [p for p in ids if all((w, p) in present for w in others)]
            else:
                ids_kept = ids
            matches.extend(ids_kept)
            if ids:
                after = ids[-1]
            if len(ids) < batch:
                exhausted = True
                break
        if len(matches) > limit:
            page_ids, next_cursor = matches[:limit], {"after": matches[limit - 1]}
        elif not exhausted:  # walked MAX_EXAMINED entries: let the client continue from there
            page_ids, next_cursor = matches, {"after": after}
        else:
            page_ids, next_cursor = matches, None
        return Page(items=self.summaries(page_ids), next_cursor=next_cursor)

    def image_candidates(self, image: bytes, limit: int) -> list[ImageMatch]:
        from chalicelib.models.catalog import ImageHashShardModel

        wanted = imagehash.dhash(image)
        scored: list[tuple[int, str]] = []
        for shard in ImageHashShardModel.query(HASH_INDEX):
            for product_id, hashes in (shard.entries.as_dict() if shard.entries else {}).items():
                if not hashes:
                    continue
                best = min(imagehash.distance(wanted, imagehash.from_hex(h)) for h in hashes)
                scored.append((best, product_id))
        scored.sort()
        top = scored[:limit]
        products = {p.product_id: p for p in self.get_many([pid for _, pid in top])}
        return [ImageMatch(products[pid], dist) for dist, pid in top if pid in products]

    # --- writes (seeding, catalog import) ---------------------------------------------------

    def put_product(self, item) -> None:
        """Save one ProductModel and bring its keyword index entries in line with it (idempotent)."""
        self.put_products([item])

    def put_products(self, items: list) -> None:
        """Save ProductModels and their keyword index entries in bulk (BatchGet, then BatchWrite).

        Index entries of a product's previous text that its new text lacks are deleted, so
        re-titling never leaves a stale hit; writing the same product again changes nothing.
        """
        from chalicelib.models.catalog import ProductModel, ProductWordModel

        def terms(product) -> set[str]:
            return index_terms(product.title, product.title_zh or "", product.category)

        previous = ProductModel.batch_get(
            [i.product_id for i in items], attributes_to_get=["product_id", "title", "title_zh", "category"]
        )
        old = {p.product_id: terms(p) for p in previous}
        with ProductModel.batch_write() as products, ProductWordModel.batch_write() as words:
            for item in items:
                item.source_ref = source_ref(item.source, item.source_item_id)
                item.price_fen = min(int(s.price_fen) for s in item.skus)
                products.save(item)
                new_terms, old_terms = terms(item), old.get(item.product_id, set())
                for term in sorted(new_terms - old_terms):
                    words.save(ProductWordModel(term, item.product_id))
                for term in sorted(old_terms - new_terms):
                    words.delete(ProductWordModel(term, item.product_id))

    def write_image_index(self, hashes: dict[str, list[int]]) -> None:
        """Replace the whole hash index with `hashes` ({product_id: [dHash, ...]})."""
        from chalicelib.models.catalog import ImageHashShardModel

        shards: dict[int, dict[str, list[str]]] = {n: {} for n in range(HASH_SHARDS)}
        for product_id, values in hashes.items():
            shards[_shard_of(product_id)][product_id] = [imagehash.to_hex(v) for v in values]
        for number, entries in shards.items():
            ImageHashShardModel(HASH_INDEX, number, entries=entries).save()
