"""Catalog: the product-source interface and the embedded demo catalog."""
