"""Counters a stage keeps per task, merged across tasks in task order.

Besides documents, bytes, drops and quarantines, a stage can count events of its own by name
in ``counts`` (``BatchContext.count``: PII spans masked by kind, documents without a URL...);
they are summed over tasks like the rest and written to ``stats.json`` under ``counts``."""

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
    """Documents and text bytes in and out, drops and quarantines by reason, seconds spent,
    and the stage's own event counts by name."""

    docs_in: int = 0
    docs_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    dropped: Counter = field(default_factory=Counter)
    quarantined: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    tokens_out: int = 0  # tokens written, for stages that tokenize
    counts: Counter = field(default_factory=Counter)  # the stage's own events, by name

    def merge(self, other: StageStats) -> None:
        self.docs_in += other.docs_in
        self.docs_out += other.docs_out
        self.bytes_in += other.bytes_in
        self.bytes_out += other.bytes_out
        self.dropped.update(other.dropped)
        self.quarantined.update(other.quarantined)
        self.seconds += other.seconds
        self.tokens_out += other.tokens_out
        self.counts.update(other.counts)

    @property
    def docs_per_s(self) -> float:
        """Documents in per second of task time (0 when no time was recorded)."""
        return self.docs_in / self.seconds if self.seconds else 0.0

    @property
    def mb_per_s(self) -> float:
        """MB (10**6 bytes) of text in per second of task time (0 when no time was recorded)."""
        return self.bytes_in / 1e6 / self.seconds if self.seconds else 0.0

    def summary(self) -> dict:
        """``to_dict()`` with the rates (``docs_per_s``, ``mb_per_s``): for reports."""
        return self.to_dict() | {"docs_per_s": round(self.docs_per_s, 3),
                                 "mb_per_s": round(self.mb_per_s, 3)}

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
            "counts": dict(sorted(self.counts.items())),
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
            Counter(d.get("counts", {})),
        )
