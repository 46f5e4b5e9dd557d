"""Arrow string columns as numpy byte buffers and back, for compiled loops over text.

A column is its UTF-8 bytes (``uint8``) and ``n + 1`` int64 offsets: string ``i`` is
``data[offsets[i]:offsets[i + 1]]``.
"""

from __future__ import annotations

import numba
import numpy as np
import polars as pl
import pyarrow as pa


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


def string_buffers(strings: pl.Series | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A string column's UTF-8 bytes and int64 offsets (``n + 1``), as numpy arrays."""
    array = strings.to_arrow() if isinstance(strings, pl.Series) else strings
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    array = array.cast(pa.large_string())
    _, offsets, data = array.buffers()
    if offsets is None:
        return np.zeros(0, dtype=np.uint8), np.zeros(1, dtype=np.int64)
    offsets = np.frombuffer(offsets, dtype=np.int64, count=len(array) + 1,
                            offset=array.offset * 8)
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    return data, offsets


def strings(data: np.ndarray, offsets: np.ndarray) -> pl.Series:
    """A polars string series from UTF-8 bytes and int64 offsets."""
    array = pa.LargeStringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets),
                                             pa.py_buffer(data))
    return pl.Series("token", array, dtype=pl.String)
