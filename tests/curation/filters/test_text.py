"""Text pieces of a batch against Python's own splits on random texts built from separators,
NULs (split_regex's mark) and letters."""

from __future__ import annotations

import random
import re

import polars as pl
import pytest

from curation.filters.text import split_lines, split_regex

ALPHABET = ["a", "b", " ", "\n", "\n", "\r", "\r\n", "\x0b", "\x1c", "\x85", "\u2028", "\x00"]


def _texts(seed: int, n: int = 400) -> list[str]:
    rng = random.Random(seed)
    texts = ["", "\n", "\n\n", "a\n", "\x00", "a\x00\n\nb"]
    return texts + ["".join(rng.choices(ALPHABET, k=rng.randint(0, 12))) for _ in range(n)]


def _pieces(df: pl.DataFrame, n: int) -> list[list[str]]:
    out: list[list[str]] = [[] for _ in range(n)]
    for doc, pos, piece in df.select("doc", "pos", "piece").iter_rows():
        assert pos == len(out[doc])
        out[doc].append(piece)
    return out


def test_split_lines_is_splitlines():
    texts = _texts(0)
    assert _pieces(split_lines(pl.Series(texts)), len(texts)) == [t.splitlines() for t in texts]


@pytest.mark.parametrize("pattern", [r"\n+", r"\n{2,}"])
def test_split_regex_is_re_split(pattern):
    texts = _texts(1)
    got = _pieces(split_regex(pl.Series(texts), pattern), len(texts))
    assert got == [re.split(pattern, t) for t in texts]
