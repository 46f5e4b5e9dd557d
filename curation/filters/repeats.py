"""Gopher's line statistics of each text, compiled: repeated lines and paragraphs
(datatrove's ``find_duplicates`` over ``re.split(r"\\n{k,}", text)``) and bullet and
ellipsis lines, for every text of a batch in one pass over its bytes.

A piece is compared with the earlier pieces of its text through a 64-bit hash of its bytes
(``hash_bytes``, 8 bytes a step) and then byte by byte, so the counts are exact. Lengths are
in characters.
"""

from __future__ import annotations

import numba
import numpy as np
import polars as pl

from curation.core.arrow_strings import hash_bytes, same_items, string_buffers, utf8_at
from curation.filters.chunk_table import SPACE


@numba.njit(cache=True, inline="always")
def _chars(data, lo, hi):
    n = 0
    for p in range(lo, hi):
        n += (data[p] & 0xC0) != 0x80
    return n


@numba.njit(cache=True)
def _stripped(data, lo, hi, space):
    """``[lo, hi)`` without Python whitespace at either end (``space``: per code point)."""
    while lo < hi:
        c, size = utf8_at(data, lo)
        if c >= len(space) or not space[c]:
            break
        lo += size
    while hi > lo:
        p = hi - 1
        while (data[p] & 0xC0) == 0x80:
            p -= 1
        c, _ = utf8_at(data, p)
        if c >= len(space) or not space[c]:
            break
        hi = p
    return lo, hi


@numba.njit(cache=True)
def _repeats(data, offsets, space, min_breaks, strip):
    n_docs = len(offsets) - 1
    out = np.zeros((n_docs, 3), dtype=np.int64)  # see repeated_pieces
    size = 16
    keys = np.zeros(size, dtype=np.uint64)
    starts = np.zeros(size, dtype=np.int64)
    ends = np.zeros(size, dtype=np.int64)
    piece_lo = np.empty(0, dtype=np.int64)
    piece_hi = np.empty(0, dtype=np.int64)
    for d in range(n_docs):
        lo, hi = offsets[d], offsets[d + 1]
        if strip:
            lo, hi = _stripped(data, lo, hi, space)
        # the pieces: cut at runs of at least min_breaks newlines
        n = 0
        bound = (hi - lo) // 2 + 2
        if len(piece_lo) < bound:
            piece_lo = np.empty(2 * bound, dtype=np.int64)
            piece_hi = np.empty(2 * bound, dtype=np.int64)
        start, p = lo, lo
        while p < hi:
            if data[p] != 10:
                p += 1
                continue
            q = p
            while q < hi and data[q] == 10:
                q += 1
            if q - p >= min_breaks:
                piece_lo[n], piece_hi[n] = start, p
                n += 1
                start = q
            p = q
        piece_lo[n], piece_hi[n] = start, hi
        n += 1
        out[d, 0] = n
        while size < 2 * n:
            size *= 2
            keys = np.zeros(size, dtype=np.uint64)
            starts = np.zeros(size, dtype=np.int64)
            ends = np.zeros(size, dtype=np.int64)
        used = np.empty(n, dtype=np.int64)
        n_used = 0
        mask = size - 1
        for k in range(n):
            a, b = piece_lo[k], piece_hi[k]
            h = hash_bytes(data, a, b)
            h = h if h != 0 else np.uint64(1)
            i = np.int64((h * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)) & mask
            found = False
            while keys[i] != 0:
                if keys[i] == h and ends[i] - starts[i] == b - a and same_items(
                        data, starts[i], data, a, b - a):
                    found = True
                    break
                i = (i + 1) & mask
            if found:
                out[d, 1] += 1
                out[d, 2] += _chars(data, a, b)
            else:
                keys[i], starts[i], ends[i] = h, a, b
                used[n_used] = i
                n_used += 1
        for k in range(n_used):
            keys[used[k]] = 0
    return out


def repeated_pieces(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Gopher's lines and paragraphs: per text, int64 columns pieces, pieces equal to an
    earlier piece of the text and their total length, for the lines
    (``re.split(r"\\n+", text)``) and for the paragraphs (``re.split(r"\\n{2,}",
    text.strip())``). An empty text is one empty piece."""
    data, offsets = string_buffers(texts)
    return (_repeats(data, offsets, SPACE, 1, False), _repeats(data, offsets, SPACE, 2, True))


@numba.njit(cache=True)
def _marked_lines(data, offsets, space):
    n_docs = len(offsets) - 1
    out = np.zeros((n_docs, 3), dtype=np.int64)  # see marked_lines
    for d in range(n_docs):
        p, end = offsets[d], offsets[d + 1]
        while p < end:
            start = p  # one line: up to its break (\r\n counts as one)
            brk, after = end, end
            while p < end:
                c, size = utf8_at(data, p)
                if (c == 0x0A or c == 0x0B or c == 0x0C or c == 0x0D or c == 0x1C or c == 0x1D
                        or c == 0x1E or c == 0x85 or c == 0x2028 or c == 0x2029):
                    brk = p
                    after = p + size
                    if c == 0x0D and after < end and data[after] == 0x0A:
                        after += 1
                    break
                p += size
            out[d, 0] += 1
            lo, hi = _stripped(data, start, brk, space)
            if hi > lo:
                first, _ = utf8_at(data, lo)
                out[d, 1] += first == 0x2022 or first == 0x2D  # "•" or "-"
                if hi - lo >= 3:  # "..." or "…" (E2 80 A6)
                    a, b, c = data[hi - 3], data[hi - 2], data[hi - 1]
                    out[d, 2] += (a == b == c == 0x2E) or (a == 0xE2 and b == 0x80 and c == 0xA6)
            p = after
    return out


def marked_lines(texts: pl.Series) -> np.ndarray:
    """Gopher's bullet and ellipsis lines: per text, int64 columns lines (``splitlines()``),
    lines starting with ``•`` or ``-`` and lines ending with ``...`` or ``…`` (Python's
    whitespace stripped)."""
    data, offsets = string_buffers(texts)
    return _marked_lines(data, offsets, SPACE)
