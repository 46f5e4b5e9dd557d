"""Counters a stage keeps per task, merged across tasks in task order."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from curation.core.schema import N_BYTES, TEXT


def text_bytes(table: pa.Table) -> int:
    """UTF-8 bytes of the ``text`` column; of the texts behind the tokens (``n_bytes``) once
    tokenization has replaced it; 0 if neither is there."""
    if table.num_rows == 0:
        return 0
    if TEXT in table.column_names:
        return int(pc.sum(pc.binary_length(table.column(TEXT))).as_py() or 0)
    if N_BYTES in table.column_names:
        return int(pc.sum(table.column(N_BYTES)).as_py() or 0)
    return 0


@dataclass
class StageStats:
    """Documents and text bytes in and out, drops and quarantines by reason, seconds spent."""

    docs_in: int = 0
    docs_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    dropped: Counter = field(default_factory=Counter)
    quarantined: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    tokens_out: int = 0  # tokens written, for stages that tokenize

    def merge(self, other: StageStats) -> None:
        self.docs_in += other.docs_in
        self.docs_out += other.docs_out
        self.bytes_in += other.bytes_in
        self.bytes_out += other.bytes_out
        self.dropped.update(other.dropped)
        self.quarantined.update(other.quarantined)
        self.seconds += other.seconds
        self.tokens_out += other.tokens_out

    def to_dict(self) -> dict:
        return {
            "docs_in": self.docs_in,
            "docs_out": self.docs_out,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "dropped": dict(sorted(self.dropped.items())),
            "quarantined": dict(sorted(self.quarantined.items())),
            "seconds": round(self.seconds, 6),
            "tokens_out": self.tokens_out,
        }

    @classmethod
    def from_dict(cls, d: dict) -> StageStats:
        return cls(
            d["docs_in"],
            d["docs_out"],
            d["bytes_in"],
            d["bytes_out"],
            Counter(d["dropped"]),
            Counter(d["quarantined"]),
            d["seconds"],
            d.get("tokens_out", 0),
        )
