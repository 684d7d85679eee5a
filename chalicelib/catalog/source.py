"""The product-source interface: where product data comes from.

The embedded default is `DynamoProductSource` (chalicelib/catalog/dynamo_source.py): the demo catalog
seeded into DynamoDB. A production source backed by the 1688 / Taobao open-platform APIs (or a
crawler feeding the same tables) implements this same Protocol and is installed with
`configured.set_source()`; nothing above this module (routes, orders pricing) changes.

Values here are plain frozen dataclasses: money is integer fen, image URLs are absolute.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Protocol, runtime_checkable

BATTERY = "battery"  # attributes flag: carries a lithium battery (shipping lines may refuse it)
TRANSPORT_FLAGS = ("battery", "liquid", "powder", "magnet", "blade")


class InvalidCursor(ValueError):
    """A cursor this source did not produce (tampered, or from another list)."""


@dataclass(frozen=True)
class Shop:
    shop_id: str
    name: str


@dataclass(frozen=True)
class Sku:
    sku_id: str
    props: dict[str, str]
    price_fen: int
    stock: int


@dataclass(frozen=True)
class Product:
    product_id: str
    source: str  # 1688, taobao, tmall, weidian
    source_item_id: str
    source_url: str
    title: str
    category: str  # apparel, electronics, general
    shop: Shop
    skus: tuple[Sku, ...]
    images: tuple[str, ...] = ()  # absolute URLs, images[0] is the main picture
    title_zh: str | None = None
    min_quantity: int = 1
    domestic_shipping_fen: int = 0  # per shop and order: what the shop charges to reach our warehouse
    weight_g: int = 0  # estimate per unit, for shipping quotes before the item is weighed
    attributes: tuple[str, ...] = field(default_factory=tuple)  # transport flags, see TRANSPORT_FLAGS

    @property
    def price_fen(self) -> int:
        """The lowest SKU price (what a list shows)."""
        return min((s.price_fen for s in self.skus), default=0)

    @property
    def battery(self) -> bool:
        return BATTERY in self.attributes

    def summary(self) -> dict:
        """What a list shows of the product (`Summary.summary`)."""
        image_url = self.images[0] if self.images else None
        return Summary(
            self.product_id, self.source, self.title, self.price_fen, image_url, self.shop.name
        ).summary()

    def detail(self) -> dict:
        return {
            "product_id": self.product_id,
            "source": self.source,
            "source_url": self.source_url,
            "title": self.title,
            "title_zh": self.title_zh,
            "category": self.category,
            "images": list(self.images),
            "shop": {"shop_id": self.shop.shop_id, "name": self.shop.name},
            "skus": [
                {"sku_id": s.sku_id, "props": dict(s.props), "price_fen": s.price_fen, "stock": s.stock}
                for s in self.skus
            ],
            "price_fen": self.price_fen,
            "min_quantity": self.min_quantity,
            "domestic_shipping_fen": self.domestic_shipping_fen,
            "weight_g": self.weight_g,
            "attributes": list(self.attributes),
            "battery": self.battery,
        }


@dataclass(frozen=True)
class Summary:
    """A search hit from a marketplace API: what a list shows, before the product's detail is fetched."""

    product_id: str
    source: str
    title: str
    price_fen: int
    image_url: str | None
    shop_name: str

    def summary(self) -> dict:
        """What a list shows of a product (a search result, a featured product): its fields, in order
        (a shallow copy: `asdict` copies recursively, for a hit of flat fields)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Page:
    items: list[Product | Summary]
    next_cursor: dict | None = None  # opaque to callers; the API encodes it with web.encode_cursor


@dataclass(frozen=True)
class ImageMatch:
    product: Product | Summary
    distance: int  # 0 = identical picture; larger = less similar


@runtime_checkable
class ProductSource(Protocol):
    def get(self, product_id: str) -> Product | None:
        """The product, or None when the id is unknown (or malformed)."""

    def get_many(self, product_ids: list[str]) -> list[Product]:
        """The known products among `product_ids`, in that order."""

    def by_source_ref(self, source: str, source_item_id: str) -> Product | None:
        """The product behind a platform's item id (`source` as parsed from a link)."""

    def search(self, words: list[str], limit: int, cursor: dict | None) -> Page:
        """Products whose text contains every one of `words` (already tokenised by catalog.text)."""

    def featured(self, limit: int, cursor: dict | None) -> Page:
        """What the storefront shows before anyone searches."""

    def image_candidates(self, image: bytes, limit: int) -> list[ImageMatch]:
        """Products whose pictures look like `image`, most similar first.

        Raises imagehash.NotAnImage when the bytes are not a readable image.
        """
