"""Hashes over Arrow string columns and over configs, without a Python decode per row."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import xxhash


def _value_buffers(arr: pa.Array) -> tuple[np.ndarray, memoryview]:
    """Offsets (int64, len n+1) and the data buffer of a (large_)string/binary array."""
    if isinstance(arr, pa.ChunkedArray):
        arr = pa.concat_arrays(arr.chunks) if arr.num_chunks != 1 else arr.chunk(0)
    offset_type = (
        np.int64
        if pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
        else np.int32
    )
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=offset_type)[arr.offset : arr.offset + len(arr) + 1]
    data = memoryview(data_buf) if data_buf is not None else memoryview(b"")
    return offsets.astype(np.int64), data


def xxh3_128_column(arr: pa.Array) -> np.ndarray:
    """xxh3-128 of each value's UTF-8 bytes, as an ``(n, 2)`` uint64 array (high, low).

    Null values hash like the empty string; callers that care must mask them.
    """
    offsets, data = _value_buffers(arr)
    out = np.empty((len(offsets) - 1, 2), dtype=np.uint64)
    digest = xxhash.xxh3_128_intdigest
    mask64 = (1 << 64) - 1
    for i in range(len(out)):
        h = digest(data[offsets[i] : offsets[i + 1]])
        out[i, 0] = h >> 64
        out[i, 1] = h & mask64
    return out


def xxh3_64_column(arr: pa.Array, seed: int = 0) -> np.ndarray:
    """xxh3-64 of each value's UTF-8 bytes, as a uint64 array."""
    offsets, data = _value_buffers(arr)
    digest = xxhash.xxh3_64_intdigest
    return np.fromiter(
        (digest(data[offsets[i] : offsets[i + 1]], seed) for i in range(len(offsets) - 1)),
        dtype=np.uint64,
        count=len(offsets) - 1,
    )


def fingerprint(obj: Any) -> str:
    """A stable 128-bit hex fingerprint of a JSON-able object (dict keys sorted)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return xxhash.xxh3_128_hexdigest(blob.encode())


def file_checksum(path: str, filesystem=None) -> str:
    """xxh3-128 hex of a file's bytes, streamed in 4 MiB blocks."""
    from curation.core.fs import open_input

    h = xxhash.xxh3_128()
    with open_input(path, filesystem) as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser (a bijection that spreads every input bit)."""
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))
