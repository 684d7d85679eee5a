"""Catalog: the product-source interface and the embedded catalog (demo data: infra/local/demo_catalog.py).

Other areas price and describe products through these two functions only:

    from chalicelib.catalog import find_sku, get_product

    product = get_product(product_id)          # Product | None
    sku = find_sku(product, sku_id)            # Sku | None; sku.price_fen is integer fen
"""

from __future__ import annotations

from chalicelib.catalog.configured import get_source
from chalicelib.catalog.source import Product, Shop, Sku


def get_product(product_id: str) -> Product | None:
    """The product with this id from the configured source, or None."""
    if not isinstance(product_id, str):
        return None
    return get_source().get(product_id)


def find_sku(product: Product | None, sku_id: str) -> Sku | None:
    """The SKU of `product` with this id, or None (also for no product)."""
    if product is None or not isinstance(sku_id, str):
        return None
    return next((sku for sku in product.skus if sku.sku_id == sku_id), None)


__all__ = ["Product", "Shop", "Sku", "find_sku", "get_product"]
