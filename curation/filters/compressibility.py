"""Compressibility bounds: zlib-compressed size over UTF-8 size of the text.

Very repetitive text (boilerplate, spam, repeated lines) compresses far below ordinary prose
(about 0.35-0.45 at level 6); random strings, base64 and binary junk barely compress. The
ratio includes zlib's 6 bytes of header and checksum, so very short texts read as less
compressible than they are. Compression is per document (zlib releases nothing to vectorise);
everything around it is over the whole batch.
"""

from __future__ import annotations

import zlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.core.stage import Filter
from curation.filters.text import first_reason


def compression_ratios(texts: pa.Array, level: int = 6) -> np.ndarray:
    """Compressed / raw UTF-8 bytes per text; NaN for the empty (or null) text."""
    raw = [t.encode() if t else b"" for t in texts.to_pylist()]
    out = np.full(len(raw), np.nan)
    for i, data in enumerate(raw):
        if data:
            out[i] = len(zlib.compress(data, level)) / len(data)
    return out


class Compressibility(Filter):
    """Drops texts whose compression ratio is below ``min_ratio`` (``too_compressible``) or
    above ``max_ratio`` (``incompressible``); ``None`` disables a bound. Empty texts are kept
    (``DocumentLength`` is the stage for them)."""

    def __init__(self, min_ratio: float | None = 0.2, max_ratio: float | None = 0.9,
                 level: int = 6, **options):
        super().__init__(**options)
        if min_ratio is not None and max_ratio is not None and min_ratio > max_ratio:
            raise ValueError(f"min_ratio={min_ratio} is above max_ratio={max_ratio}")
        if not 0 <= level <= 9:
            raise ValueError(f"zlib level must be in 0..9, not {level}")
        self.min_ratio, self.max_ratio, self.level = min_ratio, max_ratio, level

    def reasons(self, batch: pa.Table) -> pa.Array:
        text = batch.column("text")
        r = compression_ratios(text.combine_chunks() if isinstance(text, pa.ChunkedArray)
                               else text, self.level)
        checks = []
        with np.errstate(invalid="ignore"):
            if self.min_ratio is not None:
                checks.append(("too_compressible", r < self.min_ratio))
            if self.max_ratio is not None:
                checks.append(("incompressible", r > self.max_ratio))
        return first_reason(len(r), checks) if checks else pc.cast(
            pa.nulls(len(r)), pa.string())
