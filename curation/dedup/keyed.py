"""Deduplication by a key per document (its text, its normalised URL...), as a global stage:
the shared body of ``ExactDedup`` and ``UrlDedup``.

scan:   ``keys(batch)`` gives each row's key string (null: the row has none and is never a
        duplicate); each key is hashed (xxh3-128) and (hash, shard, row, created, id) routed to
        the partition ``hash mod partitions``;
reduce: per partition, group by hash and keep one document per group by the ``keep`` policy
        (``curation.dedup.shards.duplicate_decisions``);
apply:  drop the others (reason ``reason``) or, with ``mode="mark"``, keep every row and set
        the ``dup_of`` column to the keeper's id.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.core.hashing import xxh3_128_column
from curation.core.stage import BatchContext, GlobalStage
from curation.dedup.shards import (
    apply_duplicates,
    by_partition,
    check_keep,
    duplicate_decisions,
    partition_frame,
)


class KeyedDedup(GlobalStage):
    """Keeps one document per key (see the module docstring). Subclasses give ``keys``, the
    ``dup_of`` column of mark mode and the drop ``reason``."""

    dup_of: ClassVar[str]
    reason: ClassVar[str]

    def __init__(self, keep: Literal["newest", "oldest", "smallest_id"] = "newest",
                 mode: Literal["drop", "mark"] = "drop", partitions: int = 16,
                 name: str | None = None):
        check_keep(keep)
        if mode not in ("drop", "mark"):
            raise ValueError(f"mode must be 'drop' or 'mark', not {mode!r}")
        if partitions < 1:
            raise ValueError("partitions must be >= 1")
        self.keep, self.mode, self.partitions, self.name = keep, mode, partitions, name

    @abstractmethod
    def keys(self, batch: pa.Table) -> pa.Array:
        """Each row's key (a string; null where the row has none)."""

    def output_columns(self) -> dict[str, pa.DataType]:
        return {self.dup_of: pa.string()} if self.mode == "mark" else {}

    def scan(self, shard: int, batches: Iterator[pa.Table]) -> Iterator[tuple[int, pa.Table]]:
        pieces, offset = [], 0
        for batch in batches:
            keys = self.keys(batch)
            has = pc.is_valid(keys)
            h = xxh3_128_column(keys.filter(has))
            rows = pa.array(np.arange(offset, offset + batch.num_rows, dtype=np.int64))
            pieces.append(pa.table({
                "h_hi": h[:, 0],
                "h_lo": h[:, 1],
                "shard": pa.array(np.full(len(h), shard, np.int32)),
                "row": rows.filter(has),
                "created": batch.column("created").filter(has),
                "id": batch.column("id").filter(has),
            }))
            offset += batch.num_rows
        yield from by_partition(pieces, lambda t: t.column("h_lo").to_numpy(), self.partitions)

    def reduce(self, partition: int, tables: Iterator[pa.Table]) -> Iterator[tuple[int, pa.Table]]:
        df = partition_frame(tables)
        if df is not None:
            yield from duplicate_decisions(df, ["h_hi", "h_lo"], self.keep, self.dup_of)

    def apply(
        self, batch: pa.Table, offset: int, decisions: pa.Table | None, ctx: BatchContext
    ) -> pa.Table:
        return apply_duplicates(batch, offset, decisions, ctx, self.dup_of, self.mode,
                                self.reason)
