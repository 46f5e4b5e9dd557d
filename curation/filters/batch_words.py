"""The words of a batch of texts as byte ranges of one UTF-8 buffer, the form the compiled
filter statistics read (no Python string per word)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import polars as pl

from curation.core.arrow_strings import gather_bytes, string_buffers, strings


@dataclass(frozen=True)
class BatchWords:
    """Word ``k`` is ``data[lo[k]:hi[k]]`` (UTF-8) of text ``doc[k]``; texts ascending, each
    text's words in order. ``source`` names the byte store ``data`` is a view of where
    another call may reuse its ranges (a chunk table and its generation), else ``None``."""

    data: np.ndarray  # uint8
    lo: np.ndarray  # int64
    hi: np.ndarray  # int64
    doc: np.ndarray  # uint32
    source: Hashable | None = None

    def __post_init__(self) -> None:  # the compiled readers do not check their bounds
        if len(self.hi) and (self.hi.max() > len(self.data) or self.lo.min() < 0):
            raise ValueError("word ranges outside their byte buffer")

    def doc_offsets(self, n_docs: int) -> np.ndarray:
        """int64 ``n_docs + 1``: the words of text ``d`` are ``[offsets[d], offsets[d + 1])``."""
        return np.searchsorted(self.doc, np.arange(n_docs + 1)).astype(np.int64)

    def pieces(self) -> pl.Series:
        """The words as a string series."""
        return strings(*gather_bytes(self.data, self.lo, self.hi)).rename("piece")

    def frame(self) -> pl.DataFrame:
        """Rows ``doc, piece, pos`` (``pos`` the word's index in its text)."""
        starts = np.searchsorted(self.doc, self.doc, side="left")
        return pl.DataFrame({"doc": self.doc, "piece": self.pieces(),
                             "pos": (np.arange(len(self.doc)) - starts).astype(np.uint32)})

    @classmethod
    def of(cls, doc: np.ndarray | pl.Series, pieces: pl.Series) -> BatchWords:
        """From each word's text index and the words as strings."""
        data, offsets = string_buffers(pieces)
        return cls(data, offsets[:-1].astype(np.int64), offsets[1:].astype(np.int64),
                   np.asarray(doc, dtype=np.uint32))
