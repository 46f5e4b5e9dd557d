"""String columns as byte buffers and back."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from curation.filters.arrow_strings import gather_bytes, string_buffers, strings

TEXTS = ["", "héllo", "中文", "😀 x", "plain"]


def test_round_trip_of_polars_and_arrow_columns():
    for column in (pl.Series(TEXTS), pa.array(TEXTS), pa.array(TEXTS, pa.large_string()),
                   pa.array(TEXTS, pa.string_view()), pa.chunked_array([TEXTS[:2], TEXTS[2:]])):
        assert strings(*string_buffers(column)).to_list() == TEXTS


def test_sliced_and_empty_columns():
    assert strings(*string_buffers(pa.array(TEXTS)[2:4])).to_list() == TEXTS[2:4]
    data, offsets = string_buffers(pa.array([], pa.string()))
    assert len(data) == 0 and offsets.tolist() == [0]
    assert strings(data, offsets).to_list() == []


def test_gather_bytes_is_slicing():
    data, offsets = string_buffers(pl.Series(TEXTS))
    lo, hi = offsets[[4, 1, 0]], offsets[[5, 2, 1]]
    out = strings(*gather_bytes(data, lo, hi)).to_list()
    assert out == ["plain", "héllo", ""]
    assert gather_bytes(data, np.zeros(0, np.int64), np.zeros(0, np.int64))[1].tolist() == [0]
