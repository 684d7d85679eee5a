"""Share short links (m.tb.cn, e.tb.cn, qr.1688.com) resolved to the product they name.

Phone users paste the apps' share texts, whose only link is often a short one. Resolving it takes one
GET to the short-link host itself (a fixed list: links.SHORT_LINK_HOSTS), through the marketplace's
adapter plumbing (catalog/remote.py: the same timeouts, retries and breaker; catalog/budget.py: one
unit of the quota), and never follows where it points: the answer is only read.

- Taobao's hosts (m.tb.cn, e.tb.cn, s.tb.cn, tb.cn) answer a small HTML page whose script holds the
  target, `var url = 'https://item.taobao.com/item.htm?id=<id>&...'` (a redirect's Location is read
  the same way);
- qr.1688.com answers a redirect whose Location is the offer page.

The target must itself parse as a product link of the same marketplace (links.parse_link); anything
else, and any failure (a timeout, an open breaker, an expired link), keeps the clear 400 that says how
to paste the full link. Only marketplaces switched on to their API adapter resolve short links; with
the demo catalog they are refused as before (no network).

SHORT_LINK_BASE_URL (tests and local runs only) sends the request to `<base>/<host><path>` instead.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from chalicelib import config
from chalicelib.catalog import budget, composite, links, remote
from chalicelib.logs import get_logger

log = get_logger("catalog.shortlinks")

# short-link host -> the marketplace (breaker, quota) whose link it stands for
MARKETPLACE_OF = {
    "m.tb.cn": "taobao",
    "e.tb.cn": "taobao",
    "s.tb.cn": "taobao",
    "tb.cn": "taobao",
    "qr.1688.com": "1688",
}
_VAR_URL = re.compile(r"""var\s+url\s*=\s*['"](https?://[^'"\s]{1,2048})['"]""")
_ANY_URL = re.compile(r"""https?://[A-Za-z0-9\-._~:/?#\[\]@!$&%+,;=]{1,2048}""")


def resolvable(short: links.ShortLink) -> bool:
    """True when the short link's marketplace is switched on to its API adapter."""
    marketplace = MARKETPLACE_OF.get(short.host)
    return (
        marketplace is not None and config.get(composite.SWITCHES[marketplace][0]).strip().lower() != "demo"
    )


def _request_url(url: str) -> str:
    base = config.get("SHORT_LINK_BASE_URL").rstrip("/")
    if not base:
        return url
    parts = urlsplit(url)
    return f"{base}/{parts.hostname}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def _classify(page: remote.WebPage) -> str:
    return remote.OK if page.status < 400 else remote.REFUSED  # 404: an expired or unknown short link


def _candidates(page: remote.WebPage) -> list[str]:
    found = [page.location] if page.location else []
    found += _VAR_URL.findall(page.text)
    found += _ANY_URL.findall(page.text)
    return found


def resolve(short: links.ShortLink) -> links.SourceLink:
    """The product link behind `short`; UnsupportedLink (the clear 400) when it cannot be told.
    BudgetExceeded (429) when the caller is over the marketplace quota."""
    marketplace = MARKETPLACE_OF.get(short.host)
    if marketplace is None or not resolvable(short):
        raise short
    budget.spend(marketplace)
    try:
        page = remote.call(marketplace, "GET", _request_url(short.url), classify=_classify, page=True)
    except remote.SourceUnavailable:
        log.info("short link not resolved", extra={"host": short.host})
        raise short from None
    for candidate in _candidates(page):
        try:
            link = links.parse_link(candidate)
        except links.UnsupportedLink:
            continue
        if link.id_space == links.ID_SPACE["1688" if marketplace == "1688" else "taobao"]:
            return link
    log.info("short link page names no product", extra={"host": short.host, "status": page.status})
    raise short
