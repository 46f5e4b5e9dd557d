"""Per-document word statistics of Gopher's quality rules, compiled: one pass over the words'
UTF-8 bytes instead of a regex pass per statistic.

Characters are classified by two tables over all code points: datatrove's punctuation set and
Python's ``str.isalpha`` (Unicode letters, what ``\\p{L}`` matches). Lengths are in characters.
"""

from __future__ import annotations

import functools

import numba
import numpy as np
import polars as pl
from datatrove.utils.text import PUNCTUATION_SET

from curation.core.arrow_strings import same_items, string_buffers, utf8_at
from curation.filters.batch_words import BatchWords

UNICODE = 0x110000
PUNCTUATION, LETTER = 1, 2  # bits of the character table


@functools.cache
def char_table() -> np.ndarray:
    """uint8 per code point: ``PUNCTUATION`` if in datatrove's set, ``LETTER`` if alphabetic."""
    table = np.fromiter((chr(c).isalpha() for c in range(UNICODE)), dtype=bool,
                        count=UNICODE).astype(np.uint8) * LETTER
    table[[ord(c) for c in PUNCTUATION_SET]] |= PUNCTUATION
    return table


@numba.njit(cache=True)
def _stats(data, word_lo, word_hi, doc_offsets, table, stop_data, stop_offsets):
    n_docs = len(doc_offsets) - 1
    n_stop = len(stop_offsets) - 1
    out = np.zeros((n_docs, 5), dtype=np.int64)  # see word_stats
    seen = np.zeros(max(n_stop, 1), dtype=np.bool_)
    may_stop = np.zeros(256, dtype=np.bool_)  # by first byte: can a word be a stop word?
    for s in range(n_stop):
        if stop_offsets[s + 1] > stop_offsets[s]:
            may_stop[stop_data[stop_offsets[s]]] = True
    for d in range(n_docs):
        seen[:] = False
        n_words, n_non_symbol, non_symbol_chars, n_alpha, n_stop_seen = 0, 0, 0, 0, 0
        for w in range(doc_offsets[d], doc_offsets[d + 1]):
            lo, hi = word_lo[w], word_hi[w]
            length, symbols_only, letters = 0, True, False
            p = lo
            while p < hi:
                c, size = utf8_at(data, p)
                kind = table[c]
                symbols_only &= (kind & PUNCTUATION) != 0
                letters |= (kind & LETTER) != 0
                length += 1
                p += size
            n_words += 1
            if not symbols_only:
                n_non_symbol += 1
                non_symbol_chars += length
            n_alpha += letters
            if hi > lo and may_stop[data[lo]]:
                for s in range(n_stop):
                    a, b = stop_offsets[s], stop_offsets[s + 1]
                    if not seen[s] and b - a == hi - lo and same_items(stop_data, a, data, lo,
                                                                       b - a):
                        seen[s] = True
                        n_stop_seen += 1
        out[d, 0], out[d, 1], out[d, 2] = n_words, n_non_symbol, non_symbol_chars
        out[d, 3], out[d, 4] = n_alpha, n_stop_seen
    return out


def word_stats(words: BatchWords, n_docs: int, stop_words: tuple[str, ...]) -> np.ndarray:
    """Per document ``0..n_docs-1`` of ``words``: int64 columns words, words with a character
    outside datatrove's punctuation, those words' total length, words with a letter,
    distinct ``stop_words``."""
    stop_data, stop_offsets = string_buffers(pl.Series(sorted(set(stop_words)), dtype=pl.String))
    return _stats(words.data, words.lo, words.hi, words.doc_offsets(n_docs), char_table(),
                  stop_data, stop_offsets)
