"""What the dedup stages share between their phases: routing a shard's keyed rows to
partitions (scan), reading a partition's pieces (reduce), the keep policy that picks one
document of a group (reduce), and picking out the decisions about one batch of a shard and
applying them (apply). Decision tables carry ``row``, the row's index in its shard."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from curation.core.stage import BatchContext

# the keep policies: sort columns and directions that put a group's keeper first (nulls last:
# a missing ``created`` counts as the oldest); ties to the smallest id
KEEP_ORDER = {
    "newest": (["created", "id"], [True, False]),
    "oldest": (["created", "id"], [False, False]),
    "smallest_id": (["id"], [False]),
}


def check_keep(keep: str) -> None:
    if keep not in KEEP_ORDER:
        raise ValueError(f"keep must be 'newest', 'oldest' or 'smallest_id', not {keep!r}")


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


def duplicate_decisions(df: pl.DataFrame, key: list[str], keep: str,
                        column: str) -> Iterator[tuple[int, pa.Table]]:
    """Reduce's decisions for one partition's rows (columns ``key``, ``shard``, ``row``,
    ``created``, ``id``): within each group of equal ``key``, the first row in the ``keep``
    policy's order is kept; every other row is a duplicate, with the keeper's id in ``column``.
    Yields ``(shard, table of row, column)`` in shard order, rows in order."""
    by, descending = KEEP_ORDER[keep]
    df = df.sort([*key, *by], descending=[False] * len(key) + descending, nulls_last=True,
                 maintain_order=True)
    df = df.with_columns(
        pl.col("id").first().over(key).alias("keeper"),
        pl.struct(key).is_first_distinct().alias("first"),
    ).filter(~pl.col("first"))
    for shard, group in df.sort(["shard", "row"]).group_by("shard", maintain_order=True):
        yield int(shard[0]), group.select(pl.col("row"), pl.col("keeper").alias(column)).to_arrow()


def apply_duplicates(batch: pa.Table, offset: int, decisions: pa.Table | None,
                     ctx: BatchContext, column: str, mode: str, reason: str) -> pa.Table:
    """Apply's side of ``duplicate_decisions`` to one batch: with ``mode="mark"`` every row kept
    and ``column`` set to the keeper's id (null for keepers and unique rows); else the
    duplicates dropped and counted under ``reason``."""
    n = batch.num_rows
    dup_of = pa.nulls(n, pa.string())
    at, mine = batch_decisions(decisions, offset, n)
    if len(at):
        values = np.full(n, None, dtype=object)
        values[at] = mine.column(column).to_numpy(zero_copy_only=False)
        dup_of = pa.array(values, pa.string())
    if mode == "mark":
        return batch.append_column(column, dup_of)
    is_dup = pc.is_valid(dup_of)
    if dup_of.null_count < n:
        ctx.drop(reason, batch.filter(is_dup))
    return batch.filter(pc.invert(is_dup))
