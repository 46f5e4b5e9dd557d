"""Heuristic quality filters on texts in memory, one batch stream, against datatrove 0.10.1's
filters at the same (default) parameters:

- the four fused (``GopherRepetition >> GopherQuality >> C4Quality >> FineWebQuality`` on each
  batch of 2048 documents, C4 rewriting the kept texts before FineWeb, as in a pipeline),
  with the fast tokenizer and with ``tokenizer="spacy"``, vs datatrove's four filters applied
  to each document in turn;
- each filter alone vs datatrove's.

Each row also gives the share of documents on which our keep/drop decision equals datatrove's.
Ours starts every timing with an empty chunk table (``curation.filters.words``), as a run
does, except the row that says warm (the same documents again: what a run past its first
batches sees). The compiled code is loaded before the timings (once per process, in every
worker of a run: ``ours_startup_s`` in the result). spaCy is imported before either side
is timed. Per core: run with ``POLARS_MAX_THREADS=1`` (the result records polars' thread
count; numba's kernels are single-threaded); datatrove is single-threaded. At most
``SAMPLE_DOCS`` documents of the corpus are used (datatrove runs at about 1 MB/s per core on
web-length text).
"""

from __future__ import annotations

import time

import polars as pl
import pyarrow as pa

from curation.bench.common import Corpus, Timed, measure, rate_row, text_mb
from curation.core.stage import BatchContext
from curation.core.stats import StageStats
from curation.filters import C4Quality, FineWebQuality, GopherQuality, GopherRepetition
from curation.filters.words import reset_cache
from curation.tokenize.cli import iter_texts

SAMPLE_DOCS = 5000
BATCH = 2048
OURS = (GopherRepetition, GopherQuality, C4Quality, FineWebQuality)


def _theirs() -> list:
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    return [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(),
            FineWebQualityFilter()]


def _batches(texts: list[str]) -> list[pa.Table]:
    return [pa.table({"id": pa.array(range(i, i + len(texts[i:i + BATCH]))),
                      "text": pa.array(texts[i:i + BATCH], pa.large_string())})
            for i in range(0, len(texts), BATCH)]


def _ours_chain(batches: list[pa.Table], tokenizer: str, language: str = "en",
                cold: bool = True) -> list[bool]:
    """Kept or not, per document, after the four filters in turn on each batch (``cold``:
    with an empty chunk table, as a run starts)."""
    if cold:
        reset_cache()
    stages = [cls(tokenizer=tokenizer, language=language) for cls in OURS]
    kept: set[int] = set()
    for batch in batches:
        for stage in stages:
            ctx = BatchContext(seed=0, shard=0, stats=StageStats(), keep_rejects=False)
            batch = stage.process(batch, ctx)
        kept.update(batch.column("id").to_pylist())
    return [i in kept for i in range(sum(b.num_rows for b in batches))]


def _ours_alone(stage, batches: list[pa.Table]) -> list[bool]:
    reset_cache()
    return [r is None for b in batches for r in stage.reasons(b).to_pylist()]


def _theirs_chain(texts: list[str], filters: list) -> list[bool]:
    from datatrove.data import Document

    out = []
    for i, text in enumerate(texts):
        doc = Document(text=text, id=str(i))
        out.append(all(f.filter(doc) is True for f in filters))  # stops at the first drop
    return out


def _row(what: str, peer_name: str, ours, theirs, docs: int, mb: float) -> dict:
    (got, ours_s, ours_peak), (want, peer_s, peer_peak) = measure(ours), measure(theirs)
    row = rate_row(what, "MB/s", Timed(ours_s, ours_peak, docs, mb), peer_name,
                   Timed(peer_s, peer_peak, docs, mb))
    row["agreement"] = sum(a == b for a, b in zip(got, want, strict=True)) / docs
    row["dropped_ours"], row["dropped_peer"] = got.count(False), want.count(False)
    return row


def run(corpus: Corpus, workdir: str) -> dict:
    import spacy  # noqa: F401  (see the module docstring)

    texts = list(iter_texts(corpus.files))[:SAMPLE_DOCS]
    docs, mb = len(texts), text_mb(texts)
    batches = _batches(texts)
    sample = f"first {docs:,} docs ({mb:.1f} MB) in memory"
    startup = time.perf_counter()  # compiled code loaded once per process, not timed below
    _ours_chain(_batches(texts[:20]), "fast")
    startup = time.perf_counter() - startup
    rows = [_row(f"four filters fused, tokenizer={tok!r}, {sample}",
                 "datatrove, same four filters per document",
                 lambda tok=tok: _ours_chain(batches, tok),
                 lambda: _theirs_chain(texts, _theirs()), docs, mb)
            for tok in ("fast", "spacy")]
    rows.append(_row(f"four filters fused, tokenizer='fast', chunk table warm (the same "
                     f"documents again, as a run past its first batches), {sample}",
                     "datatrove, same four filters per document, second pass",
                     lambda: _ours_chain(batches, "fast", cold=False),
                     lambda: _theirs_chain(texts, _theirs()), docs, mb))
    for ours_cls, theirs in zip(OURS, _theirs(), strict=True):
        rows.append(_row(f"{ours_cls.__name__} alone, {sample}",
                         f"datatrove {type(theirs).__name__}",
                         lambda c=ours_cls: _ours_alone(c(), batches),
                         lambda t=theirs: _theirs_chain(texts, [t]), docs, mb))
    return {"rows": rows, "sample_docs": docs, "sample_mb": mb,
            "polars_threads": pl.thread_pool_size(), "ours_startup_s": startup}
