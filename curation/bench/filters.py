"""Heuristic quality filters end to end (read JSONL.zst, filter, write Parquet): our chain
``GopherRepetition >> GopherQuality >> C4Filter >> FineWebQuality`` on the local executor vs
datatrove's ``GopherRepetitionFilter`` -> ``GopherQualityFilter`` -> ``C4QualityFilter`` ->
``FineWebQualityFilter`` on its local executor, same parameters (datatrove's defaults); one
worker each. Both must keep the same number of documents. Both tokenize with spaCy: it is
imported once before either is timed (a few seconds, paid by whichever ran first otherwise);
each side still builds and warms its own tokenizer inside its timing."""

from __future__ import annotations

import os

import pyarrow.parquet as pq

from curation.bench.common import compare, fresh_corpus, input_mb
from curation.core.pipeline import Pipeline
from curation.core.readers import read
from curation.filters import C4Filter, FineWebQuality, GopherQuality, GopherRepetition


def _ours(files: list[str], scratch: str) -> int:
    p = Pipeline("bench-filters", workdir=os.path.join(scratch, "work"))
    chain = (p.source(read(files, source="bench")) >> GopherRepetition() >> GopherQuality()
             >> C4Filter() >> FineWebQuality())
    p.sink(chain, os.path.join(scratch, "out"))
    result = p.run("local", progress=False)
    return result.stats["fine_web_quality"].docs_out


def _datatrove(root: str, n_files: int, scratch: str) -> int:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import ParquetWriter

    out = os.path.join(scratch, "out")
    LocalPipelineExecutor(
        pipeline=[JsonlReader(os.path.join(root, "docs"), compression="zstd"),
                  GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(),
                  FineWebQualityFilter(), ParquetWriter(out)],
        tasks=n_files, workers=1, logging_dir=os.path.join(scratch, "logs")).run()
    return sum(pq.read_metadata(os.path.join(out, f)).num_rows for f in os.listdir(out)
               if f.endswith(".parquet"))


def run(docs: int, workdir: str) -> dict:
    root, files = fresh_corpus(docs, workdir)
    import spacy  # noqa: F401  (see the module docstring)

    row = compare("Gopher rep. + quality, C4, FineWeb; JSONL.zst in, Parquet out",
                  "datatrove, same four filters",
                  lambda: _ours(files, os.path.join(workdir, "ours")),
                  lambda: _datatrove(root, len(files), os.path.join(workdir, "datatrove")),
                  docs)
    return {"docs": docs, "input_mb": input_mb(files), "rows": [row]}
