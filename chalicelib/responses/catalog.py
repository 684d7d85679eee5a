"""Responses of the catalog routes: product search, image search, pasted links and product detail."""

from typing import Literal

from chalicelib.responses.base import Fen, Out
from chalicelib.typed import ConfigDict, Field

ProductSource = Literal["1688", "taobao", "tmall", "weidian"]


class ProductSummary(Out):
    """A product as a list shows it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "product_id": "prd_1688_672318455",
                    "source": "1688",
                    "title": "Women's linen shirt, loose fit",
                    "price_fen": 3900,
                    "image_url": "https://img.example.com/products/prd_1688_672318455/main.jpg",
                    "shop_name": "杭州衣尚服饰有限公司",
                }
            ]
        }
    )

    product_id: str
    source: ProductSource = Field(description="The marketplace the product is bought on.")
    title: str
    price_fen: Fen = Field(description="The lowest SKU price.")
    image_url: str | None = Field(description="The main picture (absolute URL); null when there is none.")
    shop_name: str


_SUMMARY = ProductSummary.model_config["json_schema_extra"]["examples"][0]


class ProductPage(Out):
    """A page of products; pass `next_cursor` back as `cursor` for the next (null: the last page)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_SUMMARY], "next_cursor": "eyJrIjoiLi4uIn0"}]}
    )

    items: list[ProductSummary]
    next_cursor: str | None


class ImageMatch(ProductSummary):
    """A product whose picture looks like the posted image."""

    model_config = ConfigDict(json_schema_extra={"examples": [{**_SUMMARY, "distance": 3}]})

    distance: int = Field(
        description="Perceptual-hash distance: 0 is the same picture, larger is less alike."
    )


class ImageMatchPage(Out):
    """The products most like the posted image, most similar first (one page: `next_cursor` is null)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [{**_SUMMARY, "distance": 3}], "next_cursor": None}]}
    )

    items: list[ImageMatch]
    next_cursor: str | None


class ProductShop(Out):
    """The shop that sells the product."""

    shop_id: str
    name: str


class ProductSku(Out):
    """One buyable variant of a product."""

    sku_id: str
    props: dict[str, str] = Field(description="What distinguishes the variant (colour, size...).")
    price_fen: Fen
    stock: int


class ProductDetail(Out):
    """A product with its pictures, shop and SKUs (prices and stock)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "product_id": "prd_1688_672318455",
                    "source": "1688",
                    "source_url": "https://detail.1688.com/offer/672318455.html",
                    "title": "Women's linen shirt, loose fit",
                    "title_zh": "女士亚麻衬衫 宽松",
                    "category": "apparel",
                    "images": ["https://img.example.com/products/prd_1688_672318455/main.jpg"],
                    "shop": {"shop_id": "shp_1688_b2b22085716", "name": "杭州衣尚服饰有限公司"},
                    "skus": [
                        {
                            "sku_id": "prd_1688_672318455-white-l",
                            "props": {"colour": "white", "size": "L"},
                            "price_fen": 3900,
                            "stock": 120,
                        }
                    ],
                    "price_fen": 3900,
                    "min_quantity": 1,
                    "domestic_shipping_fen": 800,
                    "weight_g": 250,
                    "attributes": [],
                    "battery": False,
                }
            ]
        }
    )

    product_id: str
    source: ProductSource
    source_url: str = Field(description="The product's page on its marketplace.")
    title: str
    title_zh: str | None = Field(description="The original Chinese title.")
    category: Literal["apparel", "electronics", "general"]
    images: list[str] = Field(description="Absolute URLs; the first is the main picture.")
    shop: ProductShop
    skus: list[ProductSku]
    price_fen: Fen = Field(description="The lowest SKU price.")
    min_quantity: int
    domestic_shipping_fen: Fen = Field(description="What the shop charges per order to reach our warehouse.")
    weight_g: int = Field(description="Estimated weight per unit, for shipping quotes before weighing.")
    attributes: list[str] = Field(description="Transport flags: battery, liquid, powder, magnet, blade.")
    battery: bool = Field(description="Carries a lithium battery (some shipping lines refuse it).")


class ResolvedProduct(ProductDetail):
    """The product behind a pasted link, and the variant the link named."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **ProductDetail.model_config["json_schema_extra"]["examples"][0],
                    "selected_sku_id": "prd_1688_672318455-white-l",
                }
            ]
        }
    )

    selected_sku_id: str | None = Field(
        description="The SKU the pasted link named (a Taobao / Tmall `skuId`) when the product has it; "
        "null otherwise (the customer picks the variant)."
    )
