"""Pasted product links -> (platform, item id). Pure: no I/O, no network.

Recognised (http or https, any case in the host, query parameters in any order, fragments ignored):

- 1688:    https://detail.1688.com/offer/<id>.html, https://m.1688.com/offer/<id>.html,
           https://detail.m.1688.com/page/index.html?offerId=<id>
- Taobao:  https://item.taobao.com/item.htm?id=<id> and any *.taobao.com page with `id=<id>`
           (h5.m.taobao.com, m.intl.taobao.com, world.taobao.com/item/<id>.htm, a.m.taobao.com/i<id>.htm)
- Tmall:   https://detail.tmall.com/item.htm?id=<id> and any *.tmall.com / *.tmall.hk page with `id=<id>`
           (detail.m.tmall.com, chaoshi.detail.tmall.com); a Taobao or Tmall link's `skuId=` (the
           variant the customer had picked) is kept as `sku_id`
- Tmall:   also https://world.tmall.com/item/<id>.htm
- Weidian: https://weidian.com/item.html?itemID=<id> (also *.weidian.com, `itemId`/`itemid`)
- Share TEXT: what the apps' "share" button copies, a sentence with the link inside (Taobao's
  "【淘宝】... https://... 「title」点击链接直接打开", 1688's "【1688】..."): the http(s) links in it are
  tried in turn; it resolves when they name exactly one product.

Taobao and Tmall share one item-id space (a Tmall item opens under item.taobao.com too), so both
resolve through the id space "taobao". Anything else (another host, no id, several different ids,
credentials or a port in the URL, not a URL at all) is UnsupportedLink. Short share links (m.tb.cn,
qr.1688.com, k.youshop10.com...) carry no item id: they raise ShortLink (an UnsupportedLink whose
message says how to get the full link); catalog/shortlinks.py resolves the Taobao and 1688 ones over
the network, one request to the short-link host itself, never following where it points.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

MAX_URL_CHARS = 2048
_ITEM_ID = re.compile(r"[0-9]{5,20}")
_1688_PATH = re.compile(r"/offer/([0-9]+)\.html?")
_TAOBAO_PATHS = (re.compile(r"/item/([0-9]+)\.html?"), re.compile(r"/i([0-9]+)\.html?"))
_TMALL_PATH = re.compile(r"/item/([0-9]+)\.html?")
# an http(s) link inside share text: ASCII URL characters only, so it ends at CJK text and 「」【】
_LINK_IN_TEXT = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+", re.IGNORECASE)
_TRAILING = ".,;:!?)'"
# share-link shorteners: the item id is only behind a redirect
SHORT_LINK_HOSTS = ("m.tb.cn", "tb.cn", "e.tb.cn", "s.tb.cn", "qr.1688.com", "k.youshop10.com", "url.cn")

SOURCES = ("1688", "taobao", "tmall", "weidian")
ID_SPACE = {"1688": "1688", "taobao": "taobao", "tmall": "taobao", "weidian": "weidian"}


class UnsupportedLink(ValueError):
    """Not a product link from a platform we buy on."""


class ShortLink(UnsupportedLink):
    """A share short link (m.tb.cn, qr.1688.com...): the item id is behind a redirect. The message is
    the 400 to give when it cannot be resolved (catalog/shortlinks.py resolves it)."""

    def __init__(self, message: str, url: str, host: str):
        super().__init__(message)
        self.url, self.host = url, host


@dataclass(frozen=True)
class SourceLink:
    source: str  # the platform the link names: 1688, taobao, tmall, weidian
    item_id: str
    sku_id: str | None = None  # the variant a Taobao / Tmall link names (`skuId=`), if any

    @property
    def id_space(self) -> str:
        """Where the item id is unique: Tmall items live in Taobao's id space."""
        return ID_SPACE[self.source]

    @property
    def canonical_url(self) -> str:
        return canonical_url(self.source, self.item_id)


def canonical_url(source: str, item_id: str) -> str:
    """The desktop link for an item, as shown to customers and staff (and accepted by parse_link)."""
    if source == "1688":
        return f"https://detail.1688.com/offer/{item_id}.html"
    if source == "taobao":
        return f"https://item.taobao.com/item.htm?id={item_id}"
    if source == "tmall":
        return f"https://detail.tmall.com/item.htm?id={item_id}"
    if source == "weidian":
        return f"https://weidian.com/item.html?itemID={item_id}"
    raise ValueError(f"unknown source {source!r}")


def _host_is(host: str, *domains: str) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def _one_param(query: dict[str, list[str]], *names: str) -> str | None:
    """The single value of the first present parameter among `names` (None if absent or ambiguous)."""
    values: set[str] = set()
    for name in names:
        values.update(v.strip() for v in query.get(name, []))
    if len(values) != 1:
        return None
    return values.pop()


def parse_link(text: object) -> SourceLink:
    """The platform and item id of a pasted product link or share text; UnsupportedLink otherwise."""
    if not isinstance(text, str):
        raise UnsupportedLink("The link must be a string.")
    url = text.strip()
    if not url or len(url) > MAX_URL_CHARS:
        raise UnsupportedLink("That is not a product link.")
    if any(c.isspace() or ord(c) > 127 for c in url):
        return _parse_share_text(url)
    return _parse_url(url)


def _parse_share_text(text: str) -> SourceLink:
    """The one product named by the links inside a share text."""
    found: dict[tuple[str, str], SourceLink] = {}
    short: list[str] = []
    for match in _LINK_IN_TEXT.finditer(text):
        candidate = match.group(0).rstrip(_TRAILING)
        try:
            link = _parse_url(candidate)
        except ShortLink:
            short.append(candidate)
            continue
        except UnsupportedLink:
            continue
        found.setdefault((link.id_space, link.item_id), link)
    if len(found) == 1:
        return next(iter(found.values()))  # (the first link naming the product: its skuId kept)
    if len(found) > 1:
        raise UnsupportedLink("That text has links to several products; paste one product link at a time.")
    if short:
        return _parse_url(short[0])  # raises the short-link message
    raise UnsupportedLink("That is not a product link: no 1688, Taobao, Tmall or Weidian link in the text.")


def _parse_url(url: str) -> SourceLink:
    if "://" not in url and not url.startswith("//"):
        url = "https://" + url  # "detail.1688.com/offer/1.html" pasted without the scheme
    elif url.startswith("//"):
        url = "https:" + url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsupportedLink("That is not a valid link.") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise UnsupportedLink("Only http and https links are supported.")
    if parts.username is not None or parts.password is not None or port is not None:
        raise UnsupportedLink("That is not a product link from a supported platform.")
    host = (parts.hostname or "").rstrip(".").lower()
    if host in SHORT_LINK_HOSTS:
        raise ShortLink(
            f"That is a short share link ({host}) and does not contain the item number. Open it in a "
            "browser and paste the address of the product page it opens.",
            url,
            host,
        )
    query = parse_qs(parts.query, keep_blank_values=False)
    path = parts.path

    source: str | None = None
    item_id: str | None = None
    if _host_is(host, "1688.com"):
        source = "1688"
        match = _1688_PATH.fullmatch(path)
        item_id = match.group(1) if match else _one_param(query, "offerId", "offerid")
    elif _host_is(host, "tmall.com", "tmall.hk"):
        source = "tmall"
        item_id = _one_param(query, "id")
        match = _TMALL_PATH.fullmatch(path)
        if item_id is None and match:
            item_id = match.group(1)
    elif _host_is(host, "taobao.com"):
        source = "taobao"
        item_id = _one_param(query, "id")
        if item_id is None:
            for pattern in _TAOBAO_PATHS:
                match = pattern.fullmatch(path)
                if match:
                    item_id = match.group(1)
                    break
    elif _host_is(host, "weidian.com"):
        source = "weidian"
        item_id = _one_param(query, "itemID", "itemId", "itemid")

    if source is None:
        raise UnsupportedLink("Only 1688, Taobao, Tmall and Weidian product links are supported.")
    if item_id is None or not _ITEM_ID.fullmatch(item_id):
        raise UnsupportedLink(f"That {source} link does not name a product (no item id in it).")
    sku_id = _one_param(query, "skuId", "skuid", "sku_id") if source in ("taobao", "tmall") else None
    return SourceLink(
        source=source, item_id=item_id, sku_id=sku_id if sku_id and _ITEM_ID.fullmatch(sku_id) else None
    )
