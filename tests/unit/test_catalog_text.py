"""Keyword tokenising: titles and queries produce the same terms, case-insensitively, also for Chinese."""

from __future__ import annotations

import pytest

from chalicelib.catalog.text import MAX_QUERY_TERMS, index_terms, query_terms, stem


def test_latin_titles_index_lowercased_words():
    terms = index_terms("Wireless Bluetooth Earbuds with Charging Case")
    assert {"wireless", "bluetooth", "earbud", "charging", "case"} <= terms
    assert "with" not in terms  # stop word


@pytest.mark.parametrize("query", ["earbuds", "EARBUDS", "Earbud", "ｅａｒｂｕｄｓ"])
def test_queries_match_case_and_width_insensitively(query):
    assert set(query_terms(query)) <= index_terms("Wireless Bluetooth Earbuds")


def test_hyphenated_and_apostrophe_words():
    terms = index_terms("Women's Oversized Cotton T-Shirt, USB-C")
    assert {"women", "shirt", "tshirt", "usb", "usbc"} <= terms
    assert "t" not in terms and "c" not in terms
    for query in ("t-shirt", "T-SHIRT", "tshirt", "shirt", "women's", "womens", "usb-c"):
        assert set(query_terms(query)) <= terms, query


def test_numbers_and_units_are_terms():
    terms = index_terms("20000mAh Power Bank", "Makeup Brush Set 12 Pieces")
    assert {"20000mah", "12", "power", "bank", "piece"} <= terms


def test_chinese_titles_are_indexed_by_characters_and_bigrams():
    terms = index_terms("20000毫安快充充电宝移动电源")
    assert {"充电", "电宝", "移动", "宝", "电"} <= terms
    assert query_terms("充电宝") == ["充电", "电宝"]
    assert query_terms("宝") == ["宝"]
    assert set(query_terms("充电宝")) <= terms
    assert set(query_terms("移动电源")) <= terms
    assert not set(query_terms("蓝牙耳机")) <= terms


def test_mixed_script_query():
    terms = index_terms("Women's Oversized Cotton T-Shirt", "女式纯棉宽松短袖T恤")
    assert set(query_terms("纯棉T恤")) <= terms
    assert set(query_terms("cotton 短袖")) <= terms


def test_query_terms_are_deduplicated_and_capped():
    assert query_terms("shirt SHIRT shirts") == ["shirt"]
    assert len(query_terms(" ".join(f"word{n}" for n in range(30)))) == MAX_QUERY_TERMS


@pytest.mark.parametrize("query", ["", "   ", "the", "a and of", "!!! ??? ---", "x"])
def test_queries_without_terms(query):
    assert query_terms(query) == []


def test_overlong_words_are_neither_indexed_nor_queried():
    word = "a" * 41
    assert word not in index_terms(word)
    assert query_terms(word) == []


@pytest.mark.parametrize(
    ("word", "expected"),
    [("earbuds", "earbud"), ("shoes", "shoe"), ("glass", "glass"), ("bus", "bus"), ("chassis", "chassis")],
)
def test_stem(word, expected):
    assert stem(word) == expected


def test_punctuation_and_symbols_split_words():
    assert {"silk", "scarf", "53x53cm"} <= index_terms("Silk/Scarf (53x53cm)!")
