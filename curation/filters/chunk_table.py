"""A run's distinct chunks and their tokens in flat arrays, and the compiled scan that cuts a
batch of texts into chunks and reads their tokens back.

A chunk is a maximal run of characters that are not Python whitespace (``str.isspace``, as
spaCy cuts a text). Each is known by a 64-bit FNV-1a hash of its UTF-8 bytes: two distinct
chunks of a run share one with probability about ``chunks**2 / 2**65`` (1e-7 at two million).
The table is open addressing with linear probing (``keys``, 0 for an empty slot, at most
half full) from a hash to an entry; an entry is a range of the token store (``first``,
``count``), whose tokens are strings in one byte buffer (``token_bytes``; a batch's words
are byte ranges of it, which growth keeps valid, and ``generation`` counts the restarts).
Only the chunks a batch has not seen before are split, by ``split_ranges`` (byte ranges in,
token ranges out: the compiled loop) where it decides them all, else by ``split`` (a function
of a string series returning ``id, token`` rows), so over a run each distinct chunk is split
once. Past ``max_chunks`` entries the table starts again empty: memory stays bounded and
results never change.
"""

from __future__ import annotations

import numba
import numpy as np
import polars as pl

from curation.core.arrow_strings import (
    FNV_OFFSET,
    fnv,
    gather_bytes,
    string_buffers,
    strings,
    utf8_at,
)
from curation.filters.batch_words import BatchWords

SPACE = np.array([chr(c).isspace() for c in range(0x3001)], dtype=np.bool_)  # none above


@numba.njit(cache=True)
def _count(data, offsets, space):
    """The number of chunks of every text (as ``_scan`` finds them), branching on bytes'
    kinds only (a continuation byte is as its character's first byte)."""
    n = 0
    for d in range(len(offsets) - 1):
        prev = True  # a space before the text
        for p in range(offsets[d], offsets[d + 1]):
            b = data[p]
            if b < 0x80:
                sp = space[b]
            elif b < 0xC0:
                sp = prev
            else:
                c, _ = utf8_at(data, p)
                sp = c < len(space) and space[c]
            n += prev and not sp
            prev = sp
    return n


@numba.njit(cache=True)
def _scan(data, offsets, space, doc, lo, hi, key):
    """Chunks of every text, in order: each one's text index, byte range and hash (never 0)
    into the arrays (``_count`` long)."""
    n = 0
    for d in range(len(offsets) - 1):
        p, end = offsets[d], offsets[d + 1]
        start = -1
        h = FNV_OFFSET
        while p < end:
            c, size = utf8_at(data, p)
            if c < len(space) and space[c]:
                if start >= 0:
                    doc[n], lo[n], hi[n] = d, start, p
                    key[n] = h if h != 0 else np.uint64(1)
                    n += 1
                    start = -1
            else:
                if start < 0:
                    start = p
                    h = FNV_OFFSET
                h = fnv(h, data, p, p + size)
            p += size
        if start >= 0:
            doc[n], lo[n], hi[n] = d, start, end
            key[n] = h if h != 0 else np.uint64(1)
            n += 1


@numba.njit(cache=True)
def _slot(keys, h):
    """The slot of ``h`` in the table, or the empty slot where it would go."""
    mask = len(keys) - 1
    x = h ^ (h >> np.uint64(31))
    x *= np.uint64(0x9E3779B97F4A7C15)
    i = np.int64(x >> np.uint64(20)) & mask
    while keys[i] != 0 and keys[i] != h:
        i = (i + 1) & mask
    return i


@numba.njit(cache=True)
def _lookup(keys, entries, hashes):
    """The entry of each hash, -1 where it is not in the table."""
    out = np.empty(len(hashes), dtype=np.int64)
    for j in range(len(hashes)):
        i = _slot(keys, hashes[j])
        out[j] = entries[i] if keys[i] != 0 else -1
    return out


@numba.njit(cache=True)
def _insert(keys, entries, hashes, values):
    """Put ``hashes`` (not in the table) in it, with their entries ``values``."""
    for j in range(len(hashes)):
        i = _slot(keys, hashes[j])
        keys[i] = hashes[j]
        entries[i] = values[j]


@numba.njit(cache=True)
def _first_of_each(hashes):
    """Indices of the first occurrence of each distinct hash, in order of appearance."""
    size = 1 << max(4, int(np.ceil(np.log2(2 * len(hashes) + 1))))
    keys = np.zeros(size, dtype=np.uint64)
    out = np.empty(len(hashes), dtype=np.int64)
    n = 0
    for j in range(len(hashes)):
        i = _slot(keys, hashes[j])
        if keys[i] == 0:
            keys[i] = hashes[j]
            out[n] = j
            n += 1
    return out[:n]


def _grown(array: np.ndarray, size: int) -> np.ndarray:
    """``array`` with room for at least ``size`` items (capacity doubles)."""
    if size <= len(array):
        return array
    out = np.empty(max(size, 2 * len(array)), dtype=array.dtype)
    out[: len(array)] = array
    return out


class ChunkTable:
    """Tokens of the distinct chunks of a run (see the module docstring)."""

    def __init__(self, split, max_chunks: int = 2_000_000, split_ranges=None):
        self.split = split  # string series -> id, token rows
        self.split_ranges = split_ranges  # (data, lo, hi) -> chunk, token lo, hi, undecided
        self.max_chunks = max_chunks
        self.clear()

    def clear(self) -> None:
        self.generation = getattr(self, "generation", -1) + 1  # ranges of words stay valid
        self.keys = np.zeros(1 << 16, dtype=np.uint64)
        self.entries = np.zeros(1 << 16, dtype=np.int64)
        self.first = np.zeros(0, dtype=np.int64)  # per entry: its first token
        self.count = np.zeros(0, dtype=np.int64)  # per entry: its number of tokens
        self.n_entries = 0
        self.token_offsets = np.zeros(1, dtype=np.int64)  # n_tokens + 1, into token_bytes
        self.token_bytes = np.zeros(0, dtype=np.uint8)
        self.n_tokens = 0

    def _add(self, hashes: np.ndarray, data: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        """Split the chunks ``data[lo[k]:hi[k]]`` (one per hash, none in the table) and store
        their tokens: by ``split_ranges``, and by ``split`` those it leaves undecided (all
        of them without ``split_ranges``)."""
        n = len(lo)
        if self.split_ranges is None:
            empty = np.zeros(0, dtype=np.int64)
            chunk, tok_lo, tok_hi, undecided = empty, empty, empty, np.ones(n, dtype=bool)
        else:
            chunk, tok_lo, tok_hi, undecided = self.split_ranges(data, lo, hi)
        if undecided.any():  # their tokens after the decided ones, then all in chunk order
            rest = np.flatnonzero(undecided)
            tokens = self.split(strings(*gather_bytes(data, lo[rest], hi[rest])))
            rest_data, rest_offsets = string_buffers(tokens["token"])
            data = np.concatenate([data, rest_data])
            chunk = np.concatenate([chunk, rest[tokens["id"].to_numpy()]])
            tok_lo = np.concatenate([tok_lo, rest_offsets[:-1] + len(data) - len(rest_data)])
            tok_hi = np.concatenate([tok_hi, rest_offsets[1:] + len(data) - len(rest_data)])
            order = np.argsort(chunk, kind="stable")
            chunk, tok_lo, tok_hi = chunk[order], tok_lo[order], tok_hi[order]
        count = np.bincount(chunk, minlength=n).astype(np.int64)
        data, offsets = gather_bytes(data, tok_lo, tok_hi)
        t, used = len(offsets) - 1, self.token_offsets[self.n_tokens]
        self.first = _grown(self.first, self.n_entries + n)
        self.count = _grown(self.count, self.n_entries + n)
        self.first[self.n_entries: self.n_entries + n] = self.n_tokens + np.cumsum(count) - count
        self.count[self.n_entries: self.n_entries + n] = count
        self.token_offsets = _grown(self.token_offsets, self.n_tokens + t + 1)
        self.token_offsets[self.n_tokens + 1: self.n_tokens + t + 1] = used + offsets[1:]
        self.token_bytes = _grown(self.token_bytes, used + len(data))
        self.token_bytes[used: used + len(data)] = data
        while 2 * (self.n_entries + n) > len(self.keys):
            self._rehash()
        _insert(self.keys, self.entries, hashes, np.arange(self.n_entries, self.n_entries + n))
        self.n_entries += n
        self.n_tokens += t

    def _rehash(self) -> None:
        full = self.keys != 0
        keys, entries = self.keys[full], self.entries[full]
        self.keys = np.zeros(2 * len(self.keys), dtype=np.uint64)
        self.entries = np.zeros(len(self.keys), dtype=np.int64)
        _insert(self.keys, self.entries, keys, entries)

    def words(self, texts: pl.Series) -> BatchWords:
        """Every token of every text, in text order, as ranges of the token store."""
        data, offsets = string_buffers(texts)
        n = _count(data, offsets, SPACE)
        doc = np.empty(n, dtype=np.uint32)
        lo, hi = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
        key = np.empty(n, dtype=np.uint64)
        _scan(data, offsets, SPACE, doc, lo, hi, key)
        entry = _lookup(self.keys, self.entries, key)
        missing = np.flatnonzero(entry < 0)
        if len(missing):
            where = missing[_first_of_each(key[missing])]
            if self.n_entries + len(where) > self.max_chunks:
                self.clear()
                missing = np.arange(n)
                where = _first_of_each(key)
            self._add(key[where], data, lo[where], hi[where])
            entry[missing] = _lookup(self.keys, self.entries, key[missing])
        word_doc, word_lo, word_hi = _emit(entry, doc, self.first, self.count, self.token_offsets)
        return BatchWords(self.token_bytes, word_lo, word_hi, word_doc,
                          source=(id(self), self.generation))

    def tokenize(self, texts: pl.Series) -> pl.DataFrame:
        """Every token of every text as rows ``doc, token`` in text order (``doc`` the text's
        index)."""
        words = self.words(texts)
        return pl.DataFrame({"doc": words.doc, "token": words.pieces()})


@numba.njit(cache=True)
def _emit(entry, doc, first, count, token_offsets):
    """The tokens of chunks ``entry`` (of texts ``doc``), in order: text, byte range."""
    total = 0
    for j in range(len(entry)):
        total += count[entry[j]]
    word_doc = np.empty(total, dtype=np.uint32)
    lo = np.empty(total, dtype=np.int64)
    hi = np.empty(total, dtype=np.int64)
    k = 0
    for j in range(len(entry)):
        e = entry[j]
        for t in range(first[e], first[e] + count[e]):
            word_doc[k], lo[k], hi[k] = doc[j], token_offsets[t], token_offsets[t + 1]
            k += 1
    return word_doc, lo, hi
