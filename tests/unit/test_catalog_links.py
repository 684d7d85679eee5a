"""Pasted product links: every supported form parses to (platform, item id); anything else is refused."""

from __future__ import annotations

import pytest

from chalicelib.catalog.links import SourceLink, UnsupportedLink, canonical_url, parse_link

SUPPORTED = [
    # 1688
    ("https://detail.1688.com/offer/623418795512.html", "1688", "623418795512"),
    ("http://detail.1688.com/offer/623418795512.html", "1688", "623418795512"),
    (
        "https://detail.1688.com/offer/623418795512.html?spm=a26352.13672862.offerlist&sk=consign",
        "1688",
        "623418795512",
    ),
    ("https://DETAIL.1688.COM/offer/623418795512.html#tab", "1688", "623418795512"),
    ("https://m.1688.com/offer/623418795512.html", "1688", "623418795512"),
    ("https://detail.m.1688.com/page/index.html?offerId=623418795512&spm=x", "1688", "623418795512"),
    ("detail.1688.com/offer/623418795512.html", "1688", "623418795512"),
    ("  https://detail.1688.com/offer/623418795512.html \n", "1688", "623418795512"),
    ("//detail.1688.com/offer/623418795512.htm", "1688", "623418795512"),
    # Taobao
    ("https://item.taobao.com/item.htm?id=712883650214", "taobao", "712883650214"),
    ("https://item.taobao.com/item.htm?spm=a1z10.1-c.w4004.1&id=712883650214&ns=1", "taobao", "712883650214"),
    ("https://h5.m.taobao.com/awp/core/detail.htm?id=712883650214", "taobao", "712883650214"),
    ("https://m.intl.taobao.com/detail/detail.html?id=712883650214", "taobao", "712883650214"),
    ("https://world.taobao.com/item/712883650214.htm", "taobao", "712883650214"),
    ("https://a.m.taobao.com/i712883650214.htm", "taobao", "712883650214"),
    ("https://item.taobao.com/item.htm?id=712883650214&id=712883650214", "taobao", "712883650214"),
    # Tmall
    ("https://detail.tmall.com/item.htm?id=690125534409", "tmall", "690125534409"),
    ("https://detail.tmall.com/item.htm?abbucket=4&id=690125534409&skuId=5012345", "tmall", "690125534409"),
    ("https://detail.m.tmall.com/item.htm?id=690125534409", "tmall", "690125534409"),
    ("https://chaoshi.detail.tmall.com/item.htm?id=690125534409", "tmall", "690125534409"),
    ("https://detail.tmall.hk/hk/item.htm?id=690125534409", "tmall", "690125534409"),
    # Weidian
    ("https://weidian.com/item.html?itemID=4419682733", "weidian", "4419682733"),
    ("https://weidian.com/item.html?itemID=4419682733&wfr=wx", "weidian", "4419682733"),
    ("https://shop1590287744.v.weidian.com/item.html?itemId=4419682733", "weidian", "4419682733"),
    ("https://m.weidian.com/item.html?itemid=4419682733", "weidian", "4419682733"),
    ("https://world.tmall.com/item/690125534409.htm", "tmall", "690125534409"),
    # mobile app share links: tracking parameters around the id
    (
        "https://item.taobao.com/item.htm?ut_sk=1.ZGVtbw_21380790_1700000000000.Copy.1&id=712883650214"
        "&sourceType=item&price=39.9&suid=5F1D&shareUniqueId=2345&un=abc&share_crt_v=1&spm=a2159r.13376460.0.0",
        "taobao",
        "712883650214",
    ),
    (
        "https://m.1688.com/offer/623418795512.html?src=desktop&sk=consign&__pageId__=123&cosite=wx",
        "1688",
        "623418795512",
    ),
    # share TEXT: what the apps' share button copies, the link somewhere inside
    (
        "【淘宝】https://item.taobao.com/item.htm?id=712883650214&sourceType=item 「夏季纯棉短袖T恤男宽松」"
        "点击链接直接打开 或者 淘宝搜索直接打开",
        "taobao",
        "712883650214",
    ),
    (
        "【天猫】限时优惠 https://detail.tmall.com/item.htm?id=690125534409&skuId=5012345，「充电宝」",
        "tmall",
        "690125534409",
    ),
    ("【1688】https://detail.1688.com/offer/623418795512.html 义乌小商品 手机壳", "1688", "623418795512"),
    ("https://detail.1688.com/offer/623418795512.html with trailing words", "1688", "623418795512"),
    ("看看这个 https://weidian.com/item.html?itemID=4419682733。", "weidian", "4419682733"),
    (
        "https://item.taobao.com/item.htm?id=712883650214 and again https://item.taobao.com/item.htm?id=712883650214",
        "taobao",
        "712883650214",
    ),
]


@pytest.mark.parametrize(("url", "source", "item_id"), SUPPORTED)
def test_supported_links_parse(url, source, item_id):
    link = parse_link(url)
    assert link == SourceLink(source=source, item_id=item_id, sku_id=link.sku_id)


@pytest.mark.parametrize("source", ["1688", "taobao", "tmall", "weidian"])
def test_canonical_urls_round_trip(source):
    url = canonical_url(source, "6123456789")
    link = parse_link(url)
    assert (link.source, link.item_id) == (source, "6123456789")
    assert link.canonical_url == url


def test_tmall_and_taobao_share_one_id_space():
    assert parse_link("https://detail.tmall.com/item.htm?id=690125534409").id_space == "taobao"
    assert parse_link("https://item.taobao.com/item.htm?id=690125534409").id_space == "taobao"
    assert parse_link("https://detail.1688.com/offer/690125534409.html").id_space == "1688"
    assert parse_link("https://weidian.com/item.html?itemID=690125534409").id_space == "weidian"


UNSUPPORTED = [
    # other hosts and look-alikes
    "https://www.amazon.com/dp/B0C1234567",
    "https://www.jd.com/item/100012345678.html",
    "https://item.jd.com/100012345678.html",
    "https://detail.1688.com.evil.example/offer/623418795512.html",
    "https://evil1688.com/offer/623418795512.html",
    "https://nottaobao.com/item.htm?id=712883650214",
    "https://taobao.com.example.org/item.htm?id=712883650214",
    "https://fake-tmall.com/item.htm?id=690125534409",
    "https://weidian.com.cn/item.html?itemID=4419682733",
    "https://user:pw@item.taobao.com/item.htm?id=712883650214",
    "https://evil.example@item.taobao.com/item.htm?id=712883650214",
    "https://item.taobao.com:8443/item.htm?id=712883650214",
    "https://item.taobao.com:notaport/item.htm?id=712883650214",
    # supported hosts, no usable id
    "https://detail.1688.com/",
    "https://www.1688.com/",
    "https://detail.1688.com/offer/.html",
    "https://detail.1688.com/offer/abc.html",
    "https://detail.1688.com/offer/623418795512.html/extra",
    "https://item.taobao.com/item.htm",
    "https://item.taobao.com/item.htm?id=",
    "https://item.taobao.com/item.htm?id=abc",
    "https://item.taobao.com/item.htm?id=-712883650214",
    "https://item.taobao.com/item.htm?id=712883650214x",
    "https://item.taobao.com/item.htm?id=１２３４５６７",  # full-width digits
    "https://item.taobao.com/item.htm?id=123",
    "https://item.taobao.com/item.htm?id=123456789012345678901",
    "https://item.taobao.com/item.htm?id=712883650214&id=712883650215",
    "https://item.taobao.com/item.htm?itemID=712883650214",
    "https://shop123.taobao.com/",
    "https://detail.tmall.com/item.htm?skuId=5012345",
    "https://weidian.com/item.html?id=4419682733",
    "https://weidian.com/?userid=1590287744",
    "https://m.tb.cn/h.5xYzAbC",  # short share link: needs a network redirect
    "https://qr.1688.com/s/AbCdEf",
    "【淘宝】https://m.tb.cn/h.5xYzAbC?tk=AbCd CZ3457 「夏季纯棉短袖T恤」点击链接直接打开",
    "【淘宝】 「夏季纯棉短袖T恤」 no link at all",
    "two products https://item.taobao.com/item.htm?id=712883650214 https://detail.1688.com/offer/623418795512.html",
    "look: javascript:alert(1)//detail.1688.com/offer/623418795512.html",
    # not a (web) URL at all
    "",
    "   ",
    "hello world",
    "623418795512",
    "ftp://detail.1688.com/offer/623418795512.html",
    "javascript:alert(1)//detail.1688.com/offer/623418795512.html",
    "file:///etc/passwd",
    "https://",
    "https://[::1/offer/1.html",
    "https://detail.1688.com/offer/" + "1" * 3000 + ".html",
]


@pytest.mark.parametrize("url", UNSUPPORTED)
def test_unsupported_links_are_refused(url):
    with pytest.raises(UnsupportedLink):
        parse_link(url)


@pytest.mark.parametrize("value", [None, 123, b"https://item.taobao.com/item.htm?id=712883650214", ["x"]])
def test_non_strings_are_refused(value):
    with pytest.raises(UnsupportedLink):
        parse_link(value)


def test_unsupported_link_is_a_value_error_with_a_message():
    with pytest.raises(ValueError, match=r"\w"):
        parse_link("https://example.com/item?id=12345678")


def test_a_short_share_link_says_how_to_get_the_full_link():
    for text in (
        "https://m.tb.cn/h.5xYzAbC",
        "【淘宝】https://m.tb.cn/h.5xYzAbC?tk=AbCd 「T恤」点击链接直接打开",
    ):
        with pytest.raises(UnsupportedLink, match=r"short share link \(m\.tb\.cn\).*paste the address"):
            parse_link(text)


def test_share_text_naming_several_products_is_refused_with_a_reason():
    text = "https://item.taobao.com/item.htm?id=712883650214 https://item.taobao.com/item.htm?id=712883650215"
    with pytest.raises(UnsupportedLink, match="several products"):
        parse_link(text)


@pytest.mark.parametrize(
    ("url", "sku_id"),
    [
        ("https://detail.tmall.com/item.htm?abbucket=4&id=690125534409&skuId=5012398761002", "5012398761002"),
        ("https://item.taobao.com/item.htm?id=690125534409&skuid=5012398761002", "5012398761002"),
        (
            "【天猫】 https://detail.tmall.com/item.htm?id=690125534409&skuId=5012398761002 「充电宝」",
            "5012398761002",
        ),
        ("https://detail.tmall.com/item.htm?id=690125534409", None),
        ("https://detail.tmall.com/item.htm?id=690125534409&skuId=abc", None),
        ("https://detail.1688.com/offer/623418795512.html?skuId=5012345678901", None),  # not a 1688 parameter
    ],
)
def test_a_taobao_or_tmall_links_sku_id_is_kept(url, sku_id):
    assert parse_link(url).sku_id == sku_id


@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("https://m.tb.cn/h.gW3kLpQ?tk=Ab12Cd3", "m.tb.cn"),
        ("【淘宝】 https://e.tb.cn/h.RLiCrsU28uLGSKX?tk=ejKGgT8h0To 「包」点击链接直接打开", "e.tb.cn"),
        ("【1688】https://qr.1688.com/s/xYz12AbC 纯棉T恤", "qr.1688.com"),
    ],
)
def test_a_short_link_is_a_short_link_error_naming_its_host_and_url(text, host):
    from chalicelib.catalog.links import ShortLink

    with pytest.raises(ShortLink) as raised:
        parse_link(text)
    assert raised.value.host == host and raised.value.url.startswith(f"https://{host}/")
    assert isinstance(raised.value, UnsupportedLink)  # unresolved, it is still the clear 400
