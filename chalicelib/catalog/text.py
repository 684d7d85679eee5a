"""Keyword tokenising for the inverted index: the same rules for titles (indexing) and queries.

- Case-insensitive (Unicode NFKC, then casefold), so full-width letters and digits match too.
- Latin text splits on anything that is not a letter or digit; a hyphenated or dotted compound is
  also indexed joined ("T-Shirt" -> "shirt", "tshirt"); single letters and a few stop words are dropped;
  a light plural rule maps "earbuds" and "earbud" to the same term.
- Chinese (CJK) runs have no spaces: they are indexed as every character bigram plus every single
  character, and a query run becomes its bigrams (or the character itself when it is one character),
  so "充电宝" finds "20000毫安充电宝" and "宝" alone still finds it.
"""

from __future__ import annotations

import re
import unicodedata

MAX_TERM_CHARS = 40
MAX_QUERY_TERMS = 8
STOP_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "with"}
)

_CJK = (
    "\u3400-\u4dbf"  # extension A
    "\u4e00-\u9fff"  # unified ideographs
    "\uf900-\ufaff"  # compatibility ideographs
)
_RUN = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+(?:[-'.][^\W_{_CJK}]+)*")
_CJK_RUN = re.compile(rf"^[{_CJK}]+$")
_SPLIT = re.compile(r"[-'.]")


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def stem(word: str) -> str:
    """A deliberately small plural rule: 'earbuds' -> 'earbud', 'glasses'/'bus' stay as they are."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")) and word.isalpha():
        return word[:-1]
    return word


def _terms(words: list[str]) -> list[str]:
    """Drop single letters, stop words and over-long words; stem the rest."""
    return [
        stem(word)
        for word in words
        if (len(word) > 1 or word.isdigit()) and word not in STOP_WORDS and len(word) <= MAX_TERM_CHARS
    ]


def _latin_terms(chunk: str) -> list[str]:
    parts = [p for p in _SPLIT.split(chunk) if p]
    return _terms([*parts, "".join(parts)] if len(parts) > 1 else parts)


def index_terms(*texts: str) -> set[str]:
    """Every term a product with these texts (title, Chinese title, category) is findable by."""
    terms: set[str] = set()
    for text in texts:
        for chunk in _RUN.findall(normalise(text or "")):
            if _CJK_RUN.match(chunk):
                terms.update(chunk)
                terms.update(chunk[i : i + 2] for i in range(len(chunk) - 1))
            else:
                terms.update(_latin_terms(chunk))
    return terms


def query_terms(query: str) -> list[str]:
    """The terms a query needs (all must match), deduplicated in first-seen order, at most 8.

    Each returned term is one index_terms() would produce for a title containing the query text.
    """
    seen: dict[str, None] = {}
    for chunk in _RUN.findall(normalise(query or "")):
        if _CJK_RUN.match(chunk):
            grams = [chunk] if len(chunk) == 1 else [chunk[i : i + 2] for i in range(len(chunk) - 1)]
            for gram in grams:
                seen.setdefault(gram)
        else:
            parts = [p for p in _SPLIT.split(chunk) if p]
            # a compound in the query ("t-shirt") is looked up joined: titles index the joined form
            candidates = ["".join(parts)] if len(parts) > 1 else parts
            for term in _terms(candidates):
                seen.setdefault(term)
    return list(seen)[:MAX_QUERY_TERMS]
