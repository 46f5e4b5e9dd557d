"""Document length bounds, in Unicode characters of the text."""

from __future__ import annotations

import warnings

import pyarrow as pa
import pyarrow.compute as pc

from curation.core.stage import Filter


class DocumentLength(Filter):
    """Drops documents shorter than ``min_chars`` (reason ``too_short``) or longer than
    ``max_chars`` (reason ``too_long``); ``None`` disables a bound."""

    version = 2  # 2: a null text has no characters

    def __init__(self, min_chars: int | None = 100, max_chars: int | None = None, **options):
        super().__init__(**options)
        if min_chars is not None and max_chars is not None and min_chars > max_chars:
            raise ValueError(f"min_chars={min_chars} is above max_chars={max_chars}")
        self.min_chars, self.max_chars = min_chars, max_chars

    def reasons(self, batch: pa.Table) -> pa.Array:
        n = pc.fill_null(pc.utf8_length(batch.column("text")), 0)  # a null text is empty
        reason = pa.nulls(len(n), pa.string())
        if self.max_chars is not None:
            reason = pc.if_else(pc.greater(n, self.max_chars), "too_long", reason)
        if self.min_chars is not None:
            reason = pc.if_else(pc.less(n, self.min_chars), "too_short", reason)
        return reason.combine_chunks() if isinstance(reason, pa.ChunkedArray) else reason


class LengthFilter(DocumentLength):
    """The former name of ``DocumentLength``, deprecated. It keeps its node name
    (``length_filter``) and fingerprint, so that pipelines written with it resume their work
    dirs unchanged."""

    def __init__(self, *args, **kwargs):
        warnings.warn("LengthFilter is now DocumentLength", DeprecationWarning, stacklevel=3)
        super().__init__(*args, **kwargs)
