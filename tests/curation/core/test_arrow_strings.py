"""String columns as byte buffers and back."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from curation.core.arrow_strings import gather_bytes, string_buffers, strings

TEXTS = ["", "héllo", "中文", "😀 x", "plain"]


def test_round_trip_of_polars_and_arrow_columns():
    for column in (pl.Series(TEXTS), pa.array(TEXTS), pa.array(TEXTS, pa.large_string()),
                   pa.array(TEXTS, pa.string_view()), pa.chunked_array([TEXTS[:2], TEXTS[2:]])):
        assert strings(*string_buffers(column)).to_list() == TEXTS


def test_buffers_of_every_layout():
    def read(array):
        data, offsets = string_buffers(array)
        assert data.dtype == np.uint8 and offsets.dtype == np.int64
        assert len(offsets) == len(array) + 1
        return [bytes(data[offsets[i]:offsets[i + 1]]).decode() for i in range(len(array))]

    values = ["ab", "", "中文", None, "😀x"]
    for array_type in (pa.string(), pa.large_string(), pa.string_view()):
        array = pa.array(values, array_type)
        assert read(array) == ["ab", "", "中文", "", "😀x"]
        assert read(array.slice(2, 2)) == ["中文", ""]
        assert read(array.slice(5)) == []
        assert read(pa.chunked_array([array.slice(0, 2), array.slice(2)])) == read(array)
        assert read(pa.array([], array_type)) == []
        assert read(pa.array(["", ""], array_type)) == ["", ""]
        assert read(pa.chunked_array([], array_type)) == []
    data, offsets = string_buffers(pa.array([], pa.large_string()))
    assert len(data) == 0 and offsets.tolist() == [0]
    # a null whose slot holds bytes (allowed by Arrow) reads as empty
    with_bytes = pa.LargeStringArray.from_buffers(
        3, pa.py_buffer(np.array([0, 2, 4, 5], dtype=np.int64).tobytes()), pa.py_buffer(b"abxyc"),
        pa.py_buffer(np.packbits([1, 0, 1], bitorder="little").tobytes()))
    assert read(with_bytes) == ["ab", "", "c"]


def test_gather_bytes_is_slicing():
    data, offsets = string_buffers(pl.Series(TEXTS))
    lo, hi = offsets[[4, 1, 0]], offsets[[5, 2, 1]]
    out = strings(*gather_bytes(data, lo, hi)).to_list()
    assert out == ["plain", "héllo", ""]
    assert gather_bytes(data, np.zeros(0, np.int64), np.zeros(0, np.int64))[1].tolist() == [0]
