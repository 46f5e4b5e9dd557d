"""Substring dedup on texts in memory: our suffix-array search (``removed_spans``: divsufsort,
kasai LCP, numpy grouping, UTF-8 snapping) vs a plain-Python reference that keeps the hash of
every ``min_bytes``-byte window seen so far in a set and marks each window seen before; both
over the input corpus in id order, one block, and both must remove the same bytes.

Reported: input text MB per second and the peak RSS increase of each, also per input byte
(``*_peak_bytes_per_input_byte``; the suffix and LCP arrays are int32 here, 8 bytes per input
byte, plus the separated copy, kasai's rank array and numpy temporaries: about 13-14 in all;
the peer's set costs tens of bytes per window). RSS is sampled every 5 ms, so on a small input
the figure is rough.

Second row, the stage end to end (JSONL.zst in, Parquet out, local executor, one core,
``fuzziness=1``): ``scope="corpus"`` vs the block scope, both over ``PARTITIONS`` partitions,
the blocks of ``BLOCK_BYTES``; each one's seconds, the largest peak RSS of one task above the
process's RSS before the run, and the bytes it removed (the corpus scope at least as many as
the block scope and as the one-block search above, documents it drops whole counted in full).
"""

from __future__ import annotations

import io
import json
import os
import time

import numpy as np
import psutil
import pyarrow as pa
import zstandard

from curation.bench.common import Corpus, Timed, compare, rate_row
from curation.core.pipeline import Pipeline
from curation.core.readers import read
from curation.core.workdir import WorkDir
from curation.dedup.substring import SubstringDedup, removed_spans

MIN_BYTES = 500
PARTITIONS = 4
BLOCK_BYTES = 8 << 20


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


def stage_run(corpus: Corpus, workdir: str, **options) -> tuple[Timed, int]:
    """The stage over the corpus: its timing (peak: the largest task's RSS above the process's
    before the run) and the bytes it removed."""
    p = Pipeline("bench-substring", os.path.join(workdir, "work"))
    p.sink(p.source(read(corpus.files, source="bench")) >> SubstringDedup(
        min_bytes=MIN_BYTES, fuzziness=1.0, partitions=PARTITIONS, **options),
        os.path.join(workdir, "out"))
    baseline = psutil.Process().memory_info().rss
    start = time.perf_counter()
    result = p.run("local", progress=False)
    seconds = time.perf_counter() - start
    wd = WorkDir(os.path.join(workdir, "work"))
    peak = max(r["peak_rss"] or 0 for phase in ("scan", "reduce", "apply")
               for r in wd.records("substring_dedup", phase))
    stats = result.stats["substring_dedup"]
    return (Timed(seconds, max(peak - baseline, 0) / 1e6, corpus.docs, corpus.text_mb),
            stats.bytes_in - stats.bytes_out)


def run(corpus: Corpus, workdir: str) -> dict:
    texts = load_texts(corpus.files)
    arrow_texts = pa.array(texts, pa.large_string())
    row = compare(f"repeated substrings >= {MIN_BYTES} B, texts in memory, one block",
                  "python set of window hashes", lambda: ours(arrow_texts),
                  lambda: python_windows(texts), corpus.docs, corpus.text_mb, metric="MB/s")
    row["ours_peak_bytes_per_input_byte"] = row["ours_peak_mb"] / corpus.text_mb
    row["peer_peak_bytes_per_input_byte"] = row["peer_peak_mb"] / corpus.text_mb
    removed = ours(arrow_texts)
    corpus_wide, found = stage_run(corpus, os.path.join(workdir, "corpus"), scope="corpus")
    blockwise, found_blockwise = stage_run(corpus, os.path.join(workdir, "block"),
                                           partition_bytes=BLOCK_BYTES)
    if found < removed or found_blockwise > found:  # (dropped documents' leftovers count too)
        raise RuntimeError(f"substring: corpus scope removed {found} bytes, one block {removed}, "
                           f"blocks {found_blockwise}")
    stage_row = rate_row(f"substring dedup stage x{PARTITIONS}, corpus scope vs blocks of "
                         f"{BLOCK_BYTES >> 20} MiB", "MB/s", corpus_wide,
                         "the same stage, block scope", blockwise)
    return {"removed_bytes": removed, "removed_fraction": removed / (corpus.text_mb * 1e6),
            "stage_removed_bytes": {"corpus": found, "block": found_blockwise},
            "rows": [row, stage_row]}
