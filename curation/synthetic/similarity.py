"""Normalisation, shingles and Jaccard: the measure near duplicates are planted against.

Normalisation: lowercase; every character that is not a letter or a digit becomes a space;
whitespace runs collapse to one space and the ends are stripped; words are what is between
spaces. ``shingles(text, n)`` is the set of tuples of n consecutive words (a text of fewer than
n words gives the one tuple of all its words); ``jaccard(a, b) = |a & b| / |a | b|``.
"""

from __future__ import annotations

import re

SHINGLE = 5  # words per shingle

_NON_WORD = re.compile(r"[\W_]+")


def normalize(text: str) -> str:
    """Lowercase, non-alphanumerics to spaces, whitespace collapsed and stripped."""
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


def shingles(text: str, n: int = SHINGLE) -> set[tuple[str, ...]]:
    """The n-word shingles of the normalised text (all its words as one, if fewer than n)."""
    words = normalize(text).split()
    if len(words) < n:
        return {tuple(words)} if words else set()
    return set(zip(*(words[i:] for i in range(n)), strict=False))


def jaccard(a: set, b: set) -> float:
    """|a & b| / |a | b|; 1.0 for two empty sets."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)
