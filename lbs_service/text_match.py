"""Matching what a person types against a store's name, category and address.

Both sides are folded the same way: Unicode NFKC (full-width Latin and digits become their ASCII
forms, compatibility characters their plain ones) and case folding (so "CAFÉ", "café" and "ｃａｆé"
are one word; "İ" folds to "i"). A query is words separated by any space (a full-width one too); a store matches when
every word appears in its name, category or address. The one predicate serves both engines, so
they cannot disagree about a match.
"""

import functools
import unicodedata


def fold(text: str) -> str:
    # Case folding turns the Turkish capital İ into "i" + a combining dot: "İZMİR" must still match "izmir".
    return unicodedata.normalize("NFKC", text).casefold().replace("i\u0307", "i")


def words(query: str) -> list[str]:
    """The folded words of a query (possibly none: a query of spaces)."""
    return fold(query).split()


@functools.lru_cache(maxsize=200_000)
def searchable(name: str, category: str, address: str | None) -> str:
    """A store's folded text; fields are kept apart so a word cannot span two of them."""
    return "\n".join(fold(part) for part in (name, category, address or ""))


def matches(query_words: list[str], name: str, category: str, address: str | None) -> bool:
    text = searchable(name, category, address)
    return all(word in text for word in query_words)
