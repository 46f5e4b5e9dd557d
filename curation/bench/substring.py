"""Substring dedup on texts in memory: our suffix-array search (``removed_spans``: divsufsort,
kasai LCP, numpy grouping, UTF-8 snapping) vs a plain-Python reference that keeps the hash of
every ``min_bytes``-byte window seen so far in a set and marks each window seen before; both
over the input corpus in id order, one block, and both must remove the same bytes.

Reported: input text MB per second and the peak RSS increase of each, also per input byte
(``*_peak_bytes_per_input_byte``; the suffix and LCP arrays are int32 here, 8 bytes per input
byte, plus the separated copy, kasai's rank array and numpy temporaries: about 13-14 in all;
the peer's set costs tens of bytes per window). RSS is sampled every 5 ms, so on a small input
the figure is rough.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pyarrow as pa
import zstandard

from curation.bench.common import Corpus, compare
from curation.dedup.substring import removed_spans

MIN_BYTES = 500


def load_texts(files: list[str]) -> list[str]:
    """The corpus' texts in id order (the stage's partition order)."""
    docs = []
    for path in files:
        with open(path, "rb") as f, zstandard.ZstdDecompressor().stream_reader(f) as raw:
            docs += [json.loads(line) for line in io.TextIOWrapper(raw, encoding="utf-8")]
    return [d["text"] for d in sorted(docs, key=lambda d: d["id"])]


def ours(texts: pa.Array, min_bytes: int = MIN_BYTES) -> int:
    """Bytes removed by the suffix-array search (no fuzzy merge)."""
    _, start, end = removed_spans(texts, min_bytes, fuzziness=1.0)
    return int((end - start).sum())


def python_windows(texts: list[str], min_bytes: int = MIN_BYTES) -> int:
    """Bytes removed by the plain reference: a set of the (64-bit) hashes of every window seen,
    a window seen before marks its bytes, runs shrunk to whole UTF-8 characters."""
    seen: set[int] = set()
    total = 0
    for text in texts:
        b = text.encode()
        mask = np.zeros(len(b), bool)
        for s in range(len(b) - min_bytes + 1):
            h = hash(b[s:s + min_bytes])
            if h in seen:
                mask[s:s + min_bytes] = True
            else:
                seen.add(h)
        if not mask.any():
            continue
        edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.view(np.int8), [0]])))
        for lo, hi in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
            while lo < hi and b[lo] & 0xC0 == 0x80:
                lo += 1
            while hi > lo and hi < len(b) and b[hi] & 0xC0 == 0x80:
                hi -= 1
            total += hi - lo
    return total


def run(corpus: Corpus, workdir: str) -> dict:
    texts = load_texts(corpus.files)
    arrow_texts = pa.array(texts, pa.large_string())
    row = compare(f"repeated substrings >= {MIN_BYTES} B, texts in memory, one block",
                  "python set of window hashes", lambda: ours(arrow_texts),
                  lambda: python_windows(texts), corpus.docs, corpus.text_mb, metric="MB/s")
    row["ours_peak_bytes_per_input_byte"] = row["ours_peak_mb"] / corpus.text_mb
    row["peer_peak_bytes_per_input_byte"] = row["peer_peak_mb"] / corpus.text_mb
    removed = ours(arrow_texts)
    return {"removed_bytes": removed, "removed_fraction": removed / (corpus.text_mb * 1e6),
            "rows": [row]}
