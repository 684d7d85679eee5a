"""The product source in force: an installed one (a test double, a production client), else the one the
configuration names (the embedded DynamoDB catalog, or the composite routing marketplaces to their APIs).

Apart from the interface (chalicelib/catalog/source.py), which every source builds on: the interface
imports no source. One default per configuration, built on first use and kept for the container's life.
"""

from __future__ import annotations

from chalicelib.catalog import switches
from chalicelib.catalog.source import ProductSource

_source: ProductSource | None = None
_defaults: dict[tuple[str, ...], ProductSource] = {}


def get_source() -> ProductSource:
    """The installed source, else the configured one: the demo catalog, or (when PRODUCT_SOURCE_1688 /
    PRODUCT_SOURCE_TAOBAO switch a marketplace to its API) the composite that routes per marketplace."""
    if _source is not None:
        return _source
    key = switches.current()
    found = _defaults.get(key)
    if found is None:
        # imported on first use: the adapters bring `requests`, which a cold start without them never
        # loads; the composite (its cache, quota and breaker) only when a marketplace is switched on
        from chalicelib.catalog.dynamo_source import DynamoProductSource

        demo = DynamoProductSource()
        if set(key) == {"demo"}:
            found = _defaults[key] = demo
        else:
            from chalicelib.catalog.composite import CompositeSource

            found = _defaults[key] = CompositeSource(demo)
    return found


def set_source(source: ProductSource | None) -> None:
    """Install another source (production API client, a test double); None restores the default."""
    global _source
    _source = source
