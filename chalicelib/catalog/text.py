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

# CJK ideographs: extension A, unified ideographs, compatibility ideographs (inclusive ranges)
_CJK = (("\u3400", "\u4dbf"), ("\u4e00", "\u9fff"), ("\uf900", "\ufaff"))
_JOINERS = "-'."
_SPLIT = re.compile(r"[-'.]")


def _is_cjk(char: str) -> bool:
    return any(low <= char <= high for low, high in _CJK)


def _is_latin(char: str) -> bool:
    """A letter or digit outside the CJK ranges (what regular expressions call `[^\\W_]`, minus CJK)."""
    return char.isalnum() and not _is_cjk(char)


def _runs(text: str) -> list[str]:
    """The chunks of `text`, left to right: each maximal run of CJK characters, and each maximal run of
    other letters and digits, with runs joined across a single -, ' or . between two of them ("t-shirt",
    "3.5"); everything else separates.

    Scanned by hand rather than with a regular expression: a character class of the CJK ranges takes
    milliseconds to compile (the re module expands every range character by character), paid by every
    cold start that searches."""
    chunks = []
    position, end = 0, len(text)
    while position < end:
        char = text[position]
        if _is_cjk(char):
            stop = position + 1
            while stop < end and _is_cjk(text[stop]):
                stop += 1
        elif char.isalnum():
            stop = position + 1
            while True:
                while stop < end and _is_latin(text[stop]):
                    stop += 1
                if stop + 1 < end and text[stop] in _JOINERS and _is_latin(text[stop + 1]):
                    stop += 2
                    continue
                break
        else:
            position += 1
            continue
        chunks.append(text[position:stop])
        position = stop
    return chunks


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
        for chunk in _runs(normalise(text or "")):
            if _is_cjk(chunk[0]):
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
    for chunk in _runs(normalise(query or "")):
        if _is_cjk(chunk[0]):  # a chunk is all CJK or has none
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
