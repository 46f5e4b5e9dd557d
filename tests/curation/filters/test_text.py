"""Text pieces of a batch against Python's own splits on random texts built from separators,
NULs (the split's mark) and letters, and the words kept between calls."""

from __future__ import annotations

import random

import polars as pl
import pytest

from curation.filters.text import split_lines, word_buffers

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


@pytest.mark.parametrize("language", ["en", "fr", "zh"])
def test_words_kept_between_calls_never_change_a_result(language):
    """The latest call's words are reused for the texts seen again (a subset, the same texts
    in another order, new texts beside old ones, a new text twice, the chunk table restarting
    between calls): always the words of a first call on those texts alone."""
    from curation.filters import text, words

    texts = ["alpha beta, gamma.", "", "x y z", "don't (stop)", "中文 words 😀", "new one here",
             "twice, twice"]
    words.reset_cache()
    text._FAST_WORDS.clear()
    fresh = {t: word_buffers(pl.Series([t]), language=language).frame()["piece"].to_list()
             for t in texts}
    calls = [[0, 2, 3], [1, 0], [3, 2, 0, 5], [4], [4, 1, 0], [6, 6, 2], [6]]
    text._FAST_WORDS.clear()
    for k, call in enumerate(calls):
        if k == 3 and language == "en":
            words._CACHES["en"].clear()  # the chunk table restarts
        got = word_buffers(pl.Series([texts[i] for i in call]), language=language).frame()
        assert [got.filter(pl.col("doc") == j)["piece"].to_list() for j in range(len(call))] \
            == [fresh[texts[i]] for i in call]


def test_words_kept_between_calls_stay_bounded():
    """Where a call's words come from two stores, only that call's bytes are kept."""
    from curation.filters import text

    text._FAST_WORDS.clear()
    page = "some words that repeat, in a page of text. " * 50
    for k in range(30):
        word_buffers(pl.Series([page, f"new text number {k}"]), language="fr")
    assert len(text._FAST_WORDS["fr"]._data) <= 2 * len(page.encode())
