"""Which marketplaces an API adapter serves instead of the demo catalog (chalicelib/catalog/composite.py).

Apart from the composite so that choosing the source (chalicelib/catalog/configured.py) does not import
the composite, its cache, quota and breaker while every switch says `demo`.
"""

from __future__ import annotations

from chalicelib import config

# {id space: (its switch variable, the adapter's name)}
SWITCHES = {"1688": ("PRODUCT_SOURCE_1688", "alibaba"), "taobao": ("PRODUCT_SOURCE_TAOBAO", "onebound")}


def current() -> tuple[str, ...]:
    """The configured source per id space, e.g. ("demo", "demo")."""
    return tuple((config.get(name) or "demo").strip().lower() for name, _ in SWITCHES.values())
