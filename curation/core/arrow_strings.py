"""Arrow string columns as numpy byte buffers and back, for compiled loops over text.

A column is its UTF-8 bytes (``uint8``) and ``n + 1`` int64 offsets: string ``i`` is
``data[offsets[i]:offsets[i + 1]]``.
"""

from __future__ import annotations

import numba
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

FNV_OFFSET = np.uint64(0xCBF29CE484222325)


@numba.njit(cache=True, inline="always")
def utf8_at(data, p):
    """The code point whose UTF-8 encoding starts at ``data[p]``, and its length in bytes."""
    b = data[p]
    if b < 0x80:
        return np.int64(b), 1
    if b < 0xE0:
        c, size = np.int64(b & 0x1F), 2
    elif b < 0xF0:
        c, size = np.int64(b & 0x0F), 3
    else:
        c, size = np.int64(b & 0x07), 4
    for k in range(1, size):
        c = (c << 6) | np.int64(data[p + k] & 0x3F)
    return c, size


@numba.njit(cache=True, inline="always")
def fnv(h, items, lo, hi):
    """FNV-1a (64 bits) of ``h`` extended by ``items[lo:hi]`` (bytes or code points); start
    from ``FNV_OFFSET``."""
    for i in range(lo, hi):
        h = (h ^ np.uint64(items[i])) * np.uint64(0x100000001B3)
    return h


@numba.njit(cache=True, inline="always")
def hash_bytes(data, lo, hi):
    """A 64-bit hash of the bytes ``data[lo:hi]``, read 8 at a time (little-endian words, the
    last one zero-padded, the length mixed in): for hash tables that compare the bytes of
    keys whose hashes match, not to tell strings apart by their hashes alone."""
    h = np.uint64(hi - lo) * np.uint64(0x9E3779B97F4A7C15)
    for p in range(lo, hi, 8):
        w = np.uint64(0)
        for k in range(min(8, hi - p)):
            w |= np.uint64(data[p + k]) << np.uint64(8 * k)
        h = (h ^ w) * np.uint64(0xFF51AFD7ED558CCD)
        h ^= h >> np.uint64(32)
    return h


@numba.njit(cache=True, inline="always")
def same_items(a, a_lo, b, b_lo, n):
    """Are ``a[a_lo:a_lo + n]`` and ``b[b_lo:b_lo + n]`` equal?"""
    for k in range(n):  # noqa: SIM110 (numba compiles the loop, not a generator)
        if a[a_lo + k] != b[b_lo + k]:
            return False
    return True


@numba.njit(cache=True)
def gather_bytes(data, lo, hi):
    """The byte ranges ``[lo, hi)`` of ``data`` concatenated: (bytes, int64 offsets)."""
    offsets = np.empty(len(lo) + 1, dtype=np.int64)
    offsets[0] = 0
    for k in range(len(lo)):
        offsets[k + 1] = offsets[k] + hi[k] - lo[k]
    out = np.empty(offsets[-1], dtype=np.uint8)
    at = 0
    for k in range(len(lo)):
        for b in range(lo[k], hi[k]):
            out[at] = data[b]
            at += 1
    return out, offsets


def string_buffers(array: pl.Series | pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes (``uint8``) and the offsets (``int64``, ``len(array) + 1`` of them, the
    first not necessarily 0) of a string column (polars, or Arrow ``string``,
    ``large_string`` or ``string_view``, chunked or not, sliced or not): string ``i`` is
    ``data[offsets[i]:offsets[i + 1]]``, a null is empty. Read-only numpy views of the
    array's buffers where it is a ``large_string`` array without nulls (else of a converted
    copy); zero strings give one offset and no bytes."""
    if isinstance(array, pl.Series):
        array = array.to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks else pa.array([], array.type)
    if array.type != pa.large_string():
        array = array.cast(pa.large_string())
    if array.null_count:  # a null's slot may hold bytes
        array = pc.fill_null(array, "")
    _, offsets_buf, data_buf = array.buffers()
    if offsets_buf is None:  # zero strings may come without buffers
        offsets = np.zeros(1, dtype=np.int64)
    else:
        offsets = np.frombuffer(offsets_buf, dtype=np.int64, count=array.offset + len(array) + 1)
        offsets = offsets[array.offset:]
    data = (np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None and data_buf.size
            else np.zeros(0, dtype=np.uint8))
    offsets.flags.writeable = data.flags.writeable = False  # one kernel signature
    return data, offsets


def strings(data: np.ndarray, offsets: np.ndarray) -> pl.Series:
    """A polars string series from UTF-8 bytes and int64 offsets."""
    array = pa.LargeStringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets),
                                             pa.py_buffer(data))
    return pl.Series("token", array, dtype=pl.String)
