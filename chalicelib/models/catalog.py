"""Catalog tables: products, the keyword index (word -> product ids) and the image-hash index.

Access patterns (docs/data-model.md, "Catalog"):
- product by id: GetItem / BatchGetItem on `products`.
- product by pasted link: Query `products` GSI `by-source-ref` (source_ref = "<id space>#<item id>").
- featured products: Query the sparse GSI `featured` (only featured products carry its keys).
- keyword search: Query `product-words` by word (sorted by product id), membership checks by GetItem.
- image search: Query `product-image-hashes` for one index name: a few shard items hold every hash.
"""

from __future__ import annotations

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import table_meta


class SkuAttribute(MapAttribute):
    sku_id = UnicodeAttribute()
    props = MapAttribute(default=dict)  # {"color": "...", "size": "..."}: free-form strings
    price_fen = NumberAttribute()
    stock = NumberAttribute(default=0)


class SourceRefIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-source-ref"
        projection = AllProjection()

    source_ref = UnicodeAttribute(hash_key=True)


class FeaturedIndex(GlobalSecondaryIndex):
    """Sparse: only featured products have `featured_group`; ordered by `featured_rank`."""

    class Meta:
        index_name = "featured"
        projection = AllProjection()

    featured_group = UnicodeAttribute(hash_key=True)
    featured_rank = NumberAttribute(range_key=True)


class ProductModel(Model):
    Meta = table_meta("products")

    product_id = UnicodeAttribute(hash_key=True)
    source = UnicodeAttribute()  # 1688, taobao, tmall, weidian
    source_item_id = UnicodeAttribute()
    source_ref = UnicodeAttribute()  # "<id space>#<item id>": Tmall shares Taobao's id space
    source_url = UnicodeAttribute()
    title = UnicodeAttribute()
    title_zh = UnicodeAttribute(null=True)
    category = UnicodeAttribute()  # apparel, electronics, general
    images = ListAttribute(of=UnicodeAttribute, default=list)  # S3 keys, in display order
    shop_id = UnicodeAttribute()
    shop_name = UnicodeAttribute()
    skus = ListAttribute(of=SkuAttribute, default=list)
    price_fen = NumberAttribute()  # the lowest SKU price, kept for summaries
    min_quantity = NumberAttribute(default=1)
    domestic_shipping_fen = NumberAttribute(default=0)
    weight_g = NumberAttribute(default=0)
    attributes = ListAttribute(of=UnicodeAttribute, default=list)  # transport flags: battery, liquid...
    featured_group = UnicodeAttribute(null=True)
    featured_rank = NumberAttribute(null=True)

    by_source_ref = SourceRefIndex()
    featured = FeaturedIndex()


class ProductWordModel(Model):
    """The inverted index: one item per (term, product)."""

    Meta = table_meta("product-words")

    word = UnicodeAttribute(hash_key=True)
    product_id = UnicodeAttribute(range_key=True)


class ImageHashShardModel(Model):
    """All perceptual hashes of an index in a few shard items: {product_id: [hex dHash, ...]}."""

    Meta = table_meta("product-image-hashes")

    index_name = UnicodeAttribute(hash_key=True)  # "dhash64"
    shard = NumberAttribute(range_key=True)
    entries = MapAttribute(default=dict)


class ProductCacheModel(Model):
    """Product detail fetched from a marketplace API (catalog/cache.py): GetItem / PutItem by our id.

    Served while `fresh_until` is ahead (PRODUCT_CACHE_MINUTES); kept until `expires_at`
    (PRODUCT_CACHE_STALE_HOURS) to be served while the marketplace is down; DynamoDB's TTL deletes it
    after that. `body` is the product as JSON, or absent for an offer the marketplace says is gone.
    """

    Meta = table_meta("product-cache")

    product_id = UnicodeAttribute(hash_key=True)  # 1688-<offerId>, taobao-<num_iid>
    body = UnicodeAttribute(null=True)
    fetched_at = UnicodeAttribute()
    fresh_until = NumberAttribute()  # epoch seconds
    expires_at = TTLAttribute()


class SourceBudgetModel(Model):
    """Uncached marketplace calls counted per client and in total per hour (catalog/budget.py): one
    conditional UpdateItem (ADD calls 1 while below the limit) per call; DynamoDB's TTL deletes a
    window's counters after it ends."""

    Meta = table_meta("source-budget")

    budget_key = UnicodeAttribute(hash_key=True)  # client#<ip>#<hour> or total#<hour>
    calls = NumberAttribute(default=0)
    expires_at = TTLAttribute()


MODELS: list[type] = [
    ProductModel,
    ProductWordModel,
    ImageHashShardModel,
    ProductCacheModel,
    SourceBudgetModel,
]
