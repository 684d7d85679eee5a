"""The product source that routes each marketplace to its configured adapter.

    PRODUCT_SOURCE_1688   = demo | alibaba    (1688 offers: chalicelib/catalog/alibaba.py)
    PRODUCT_SOURCE_TAOBAO = demo | onebound   (Taobao and Tmall items: chalicelib/catalog/taobao.py)

`demo` (the default, for `make run` and the tests) is the embedded DynamoDB catalog; Weidian is
always the demo catalog. Products from an adapter have ids that name the marketplace and its item id
(`1688-<offerId>`, `taobao-<num_iid>`), so `get(product_id)` (cart, orders) reaches the same
adapter as the link did. Adapter products and search pages go through the DynamoDB cache
(catalog/cache.py): fresh copies are served without a call, and a stale copy is served when the
marketplace is unavailable or the caller is over the marketplace quota (stale-while-error); with
neither, the caller gets 503 source_unavailable, or 429 too_many_requests from the quota
(catalog/budget.py: every uncached call spends one unit of it first, and a refusal never reaches the
marketplace or its breaker). An adapter switched on
without credentials is 503 source_unavailable too: it is never called without them, and demo data
is never passed off as the marketplace's.
"""

from __future__ import annotations

from chalicelib import config
from chalicelib.catalog import budget, cache, credentials, remote
from chalicelib.catalog.links import ID_SPACE
from chalicelib.catalog.source import ImageMatch, Page, Product, ProductSource
from chalicelib.catalog.switches import SWITCHES
from chalicelib.logs import get_logger

log = get_logger("catalog.composite")


def adapter_for(id_space: str):
    """The adapter serving `id_space` (1688, taobao), None for the demo catalog; 503 when switched on
    without credentials, 500-worthy config error for an unknown switch value."""
    switch = SWITCHES.get(id_space)
    if switch is None:
        return None
    name, adapter = switch
    value = (config.get(name) or "demo").strip().lower()
    if value == "demo":
        return None
    if value != adapter:
        raise ValueError(f"{name}={value!r}: use demo or {adapter}")
    found = credentials.get(adapter)
    if found is None:
        raise remote.SourceUnavailable(
            f"The {id_space} source is switched on but has no credentials; it is not available."
        )
    if adapter == "alibaba":
        from chalicelib.catalog.alibaba import AlibabaClient, AlibabaSource

        return AlibabaSource(
            AlibabaClient(
                found["ALIBABA_APP_KEY"], found["ALIBABA_APP_SECRET"], found["ALIBABA_ACCESS_TOKEN"]
            )
        )
    from chalicelib.catalog.taobao import OneboundClient, TaobaoSource

    return TaobaoSource(OneboundClient(found["ONEBOUND_KEY"], found["ONEBOUND_SECRET"]))


def _split(product_id: str) -> tuple[str, str] | None:
    """(id space, marketplace item id) of an adapter product id, None for other (demo) ids."""
    for id_space, prefix in (("1688", "1688-"), ("taobao", "taobao-")):
        if product_id.startswith(prefix):
            item_id = product_id[len(prefix) :]
            return (id_space, item_id) if item_id.isdigit() and 5 <= len(item_id) <= 20 else None
    return None


class CompositeSource:
    def __init__(self, demo: ProductSource):
        self.demo = demo

    def _remote(self, adapter, item_id: str, max_age_seconds: float | None = None) -> Product | None:
        product_id = adapter.prefix + item_id
        cached = cache.read(product_id)
        young = cached is not None and (max_age_seconds is None or cached.age_seconds <= max_age_seconds)
        if young and cached.fresh:
            return cached.product
        try:
            budget.spend(adapter.marketplace)
            product = adapter.fetch(item_id)
        except (remote.SourceUnavailable, budget.BudgetExceeded):
            if cached is not None:
                log.warning(
                    "serving a stale product: marketplace unavailable", extra={"product_id": product_id}
                )
                return cached.product
            raise
        cache.write(product_id, product)
        return product

    def get(self, product_id: str) -> Product | None:
        if not isinstance(product_id, str):
            return None
        split = _split(product_id)
        if split is None:
            return self.demo.get(product_id)
        adapter = adapter_for(split[0])
        return self._remote(adapter, split[1]) if adapter is not None else self.demo.get(product_id)

    def get_many(self, product_ids: list[str], max_age_seconds: float | None = None) -> list[Product]:
        """The known products among `product_ids`; adapter products no older than `max_age_seconds`
        when given (re-pricing), else as cached."""
        wanted = list(dict.fromkeys(p for p in product_ids if isinstance(p, str)))
        local = [p for p in wanted if _split(p) is None or adapter_for(_split(p)[0]) is None]
        found = {p.product_id: p for p in self.demo.get_many(local)} if local else {}
        for product_id in wanted:
            if product_id not in local:
                id_space, item_id = _split(product_id)
                product = self._remote(adapter_for(id_space), item_id, max_age_seconds)
                if product is not None:
                    found[product_id] = product
        return [found[p] for p in wanted if p in found]

    def get_current(self, product_ids: list[str]) -> list[Product]:
        """get_many for re-pricing: marketplace products fetched at most REPRICE_MAX_AGE_SECONDS ago."""
        return self.get_many(product_ids, remote.setting_float("REPRICE_MAX_AGE_SECONDS", 60))

    def by_source_ref(self, source: str, source_item_id: str) -> Product | None:
        adapter = adapter_for(ID_SPACE.get(source, ""))
        if adapter is None:
            return self.demo.by_source_ref(source, source_item_id)
        return self._remote(adapter, source_item_id)

    def _page(self, adapter, key: str, ask) -> Page:
        """A marketplace search page: cached, else asked (one unit of the quota), else stale."""
        cached = cache.read_page(key)
        if cached is not None and cached[1]:
            return cached[0]
        try:
            budget.spend(adapter.marketplace)
            page = ask()
        except (remote.SourceUnavailable, budget.BudgetExceeded):
            if cached is not None:
                log.warning("serving a stale search page", extra={"marketplace": adapter.marketplace})
                return cached[0]
            raise
        page = _with_shop_names(page)
        cache.write_page(key, page)
        return page

    def search(self, words: list[str], limit: int, cursor: dict | None) -> Page:
        adapter = adapter_for("1688")
        if adapter is None:
            return self.demo.search(words, limit, cursor)
        keyword = " ".join(words)
        key = cache.page_key("search", adapter.marketplace, keyword, limit, cursor)
        return self._page(adapter, key, lambda: adapter.search(keyword, limit, cursor))

    def featured(self, limit: int, cursor: dict | None) -> Page:
        return self.demo.featured(limit, cursor)

    def image_candidates(self, image: bytes, limit: int) -> list[ImageMatch]:
        adapter = adapter_for("1688")
        if adapter is None:
            return self.demo.image_candidates(image, limit)
        from chalicelib.catalog import imagehash

        imagehash.dhash(image)  # NotAnImage (400) before anything is sent to the marketplace
        key = cache.page_key("image", adapter.marketplace, image, limit)
        page = self._page(adapter, key, lambda: Page(items=adapter.image_search(image, limit)))
        return [ImageMatch(hit, rank) for rank, hit in enumerate(page.items)]  # ranked by the marketplace


def _with_shop_names(page: Page) -> Page:
    """Hits without a shop name (1688 keyword search has none) get the cached product's, when known."""
    from dataclasses import replace

    from chalicelib.catalog.alibaba import UNKNOWN_SHOP

    missing = [hit.product_id for hit in page.items if getattr(hit, "shop_name", None) == UNKNOWN_SHOP]
    names = cache.shop_names(missing) if missing else {}
    if not names:
        return page
    items = [replace(h, shop_name=names[h.product_id]) if h.product_id in names else h for h in page.items]
    return Page(items=items, next_cursor=page.next_cursor)
