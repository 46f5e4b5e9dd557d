"""What the dedup stages share between their phases: routing a shard's keyed rows to
partitions (scan), reading a partition's pieces (reduce), and picking out the decisions about
one batch of a shard (apply). Decision tables carry ``row``, the row's index in its shard."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import polars as pl
import pyarrow as pa


def by_partition(pieces: list[pa.Table], key: Callable[[pa.Table], np.ndarray],
                 partitions: int) -> Iterator[tuple[int, pa.Table]]:
    """The rows of ``pieces`` (a shard's scan output) grouped by partition ``key(table) %
    partitions`` (``uint64`` keys, one per row), in increasing partition order."""
    if not pieces:
        return
    table = pa.concat_tables(pieces)
    parts = key(table) % np.uint64(partitions)
    for p in np.unique(parts).tolist():
        yield int(p), table.filter(pa.array(parts == p))


def partition_frame(tables: Iterator[pa.Table]) -> pl.DataFrame | None:
    """One partition's pieces from every shard (reduce's input) as one frame; None without
    any."""
    frames = [pl.from_arrow(t) for t in tables]
    return pl.concat(frames) if frames else None


def batch_decisions(decisions: pa.Table | None, offset: int,
                    n: int) -> tuple[np.ndarray, pa.Table]:
    """The decisions about the batch holding shard rows ``[offset, offset + n)``: each one's
    row index within the batch, and the decision rows themselves (both empty when none)."""
    if decisions is None or not decisions.num_rows:
        empty = decisions.slice(0, 0) if decisions is not None else pa.table({})
        return np.zeros(0, np.int64), empty
    rows = decisions.column("row").to_numpy()
    inside = (rows >= offset) & (rows < offset + n)
    return rows[inside] - offset, decisions.filter(pa.array(inside))
