"""Exact deduplication by a 128-bit content hash (xxh3-128), as a global stage.

scan:   hash each text (optionally normalised), route (hash, shard, row, created, id) to the
        partition ``hash mod partitions``;
reduce: per partition, group by hash and keep one representative per group: the newest
        ``created`` (missing dates count as oldest), ties to the smallest ``id``
        (``keep="oldest"`` and ``keep="smallest_id"`` are the alternatives);
apply:  drop the others (reason ``exact_duplicate``) or, with ``mode="mark"``, keep every row and
        set ``exact_dup_of`` to the representative's id.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

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

DUP_OF = "exact_dup_of"


# Python's whitespace (str.isspace; what utf8_trim_whitespace strips), not RE2's ASCII-only \s
SPACE_RUN = (r"[\t-\r\x1c-\x20\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}"
              r"\x{205f}\x{3000}]+")


def normalise_whitespace_case(text: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Lowercase, and collapse runs of whitespace to one space, stripped at both ends (the
    whitespace of Python's ``str.split()``)."""
    lowered = pc.utf8_lower(text)
    return pc.utf8_trim(pc.replace_substring_regex(lowered, SPACE_RUN, " "), " ")


class ExactDedup(GlobalStage):
    requires = ("id", "text", "created")
    version = 2  # 2: normalise=True collapses Unicode whitespace inside texts too

    def __init__(
        self,
        normalise: bool = False,
        keep: Literal["newest", "oldest", "smallest_id"] = "newest",
        mode: Literal["drop", "mark"] = "drop",
        partitions: int = 16,
        name: str | None = None,
    ):
        check_keep(keep)
        if mode not in ("drop", "mark"):
            raise ValueError(f"mode must be 'drop' or 'mark', not {mode!r}")
        if partitions < 1:
            raise ValueError("partitions must be >= 1")
        self.normalise, self.keep, self.mode = normalise, keep, mode
        self.partitions, self.name = partitions, name

    def output_columns(self) -> dict[str, pa.DataType]:
        return {DUP_OF: pa.string()} if self.mode == "mark" else {}

    def scan(self, shard: int, batches: Iterator[pa.Table]) -> Iterator[tuple[int, pa.Table]]:
        pieces, offset = [], 0
        for batch in batches:
            text = batch.column("text").combine_chunks()
            h = xxh3_128_column(normalise_whitespace_case(text) if self.normalise else text)
            pieces.append(
                pa.table(
                    {
                        "h_hi": h[:, 0],
                        "h_lo": h[:, 1],
                        "shard": pa.array(np.full(len(h), shard, np.int32)),
                        "row": pa.array(np.arange(offset, offset + len(h), dtype=np.int64)),
                        "created": batch.column("created"),
                        "id": batch.column("id"),
                    }
                )
            )
            offset += len(h)
        yield from by_partition(pieces, lambda t: t.column("h_lo").to_numpy(), self.partitions)

    def reduce(self, partition: int, tables: Iterator[pa.Table]) -> Iterator[tuple[int, pa.Table]]:
        df = partition_frame(tables)
        if df is not None:
            yield from duplicate_decisions(df, ["h_hi", "h_lo"], self.keep, DUP_OF)

    def apply(
        self, batch: pa.Table, offset: int, decisions: pa.Table | None, ctx: BatchContext
    ) -> pa.Table:
        return apply_duplicates(batch, offset, decisions, ctx, DUP_OF, self.mode,
                                "exact_duplicate")
