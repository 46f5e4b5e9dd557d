"""Where bad input goes: raised as an ``InputError``, or quarantined to a file and counted."""

from __future__ import annotations

from collections import Counter
from typing import Literal

import orjson

from curation.core import fs
from curation.core.errors import InputError

OnError = Literal["raise", "quarantine"]
RAW_KEEP_BYTES = 64 * 1024  # raw content kept per quarantined record; the rest is cut


class Quarantine:
    """Collects bad records of one task; in ``raise`` mode the first one raises.

    Records stream to a temporary JSONL file that becomes visible at ``path`` on ``commit()``
    (one JSON object per line: location, reason, message, raw, raw_bytes).
    """

    def __init__(self, mode: OnError, path: str | None):
        if mode not in ("raise", "quarantine"):
            raise ValueError(f"on_error must be 'raise' or 'quarantine', not {mode!r}")
        self.mode = mode
        self.path = path
        self.counts: Counter[str] = Counter()
        self._out = None
        self._ctx = None

    def bad(
        self,
        location: str,
        reason: str,
        message: str,
        raw: bytes | str | None = None,
        rows: int = 1,
    ) -> None:
        """Report ``rows`` bad records at ``location`` (e.g. ``file:line 12``)."""
        if self.mode == "raise" or self.path is None:
            raise InputError(location, reason, message)
        self.counts[reason] += rows
        if self._out is None:
            self._ctx = fs.atomic_output(self.path)
            self._out = self._ctx.__enter__()
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogatepass")
        raw = raw or b""
        record = {
            "location": location,
            "reason": reason,
            "message": message,
            "rows": rows,
            "raw": raw[:RAW_KEEP_BYTES].decode("utf-8", "replace"),
            "raw_bytes": len(raw),
        }
        self._out.write(orjson.dumps(record) + b"\n")

    def commit(self) -> list[str]:
        """Publish the quarantine file (if anything was quarantined); returns its path(s)."""
        if self._ctx is None:
            return []
        self._ctx.__exit__(None, None, None)
        self._ctx = self._out = None
        return [self.path]

    def abort(self) -> None:
        if self._ctx is not None:
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)
            self._ctx = self._out = None
