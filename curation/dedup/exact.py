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

from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from curation.dedup.keyed import KeyedDedup

DUP_OF = "exact_dup_of"


# Python's whitespace (str.isspace; what utf8_trim_whitespace strips), not RE2's ASCII-only \s
SPACE_RUN = (r"[\t-\r\x1c-\x20\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}"
              r"\x{205f}\x{3000}]+")


def normalise_whitespace_case(text: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Lowercase, and collapse runs of whitespace to one space, stripped at both ends (the
    whitespace of Python's ``str.split()``)."""
    lowered = pc.utf8_lower(text)
    return pc.utf8_trim(pc.replace_substring_regex(lowered, SPACE_RUN, " "), " ")


class ExactDedup(KeyedDedup):
    """One document per text (``normalise=True``: per lower-cased text with whitespace runs
    collapsed); see the module docstring and ``KeyedDedup``."""

    requires = ("id", "text", "created")
    version = 2  # 2: normalise=True collapses Unicode whitespace inside texts too
    dup_of, reason = DUP_OF, "exact_duplicate"

    def __init__(
        self,
        normalise: bool = False,
        keep: Literal["newest", "oldest", "smallest_id"] = "newest",
        mode: Literal["drop", "mark"] = "drop",
        partitions: int = 16,
        name: str | None = None,
    ):
        super().__init__(keep, mode, partitions, name)
        self.normalise = normalise

    def keys(self, batch: pa.Table) -> pa.Array:
        text = batch.column("text").combine_chunks()
        return normalise_whitespace_case(text) if self.normalise else text
