"""Exact deduplication end to end (read JSONL.zst, find duplicates, write Parquet): our
``ExactDedup`` global stage on the local executor vs datatrove's ``ExactDedupSignature`` ->
``ExactFindDedups`` -> ``ExactDedupFilter`` on its local executor; one worker each."""

from __future__ import annotations

import os

import pyarrow.parquet as pq

from curation.bench.common import Corpus, compare
from curation.core.pipeline import Pipeline
from curation.core.readers import read
from curation.dedup import ExactDedup


def _ours(files: list[str], scratch: str) -> int:
    p = Pipeline("bench-exact", workdir=os.path.join(scratch, "work"))
    p.sink(p.source(read(files, source="bench")) >> ExactDedup(), os.path.join(scratch, "out"))
    result = p.run("local", progress=False)
    return result.stats["exact_dedup"].docs_out


def text_of(doc) -> str:
    return doc.text


def _datatrove(corpus: Corpus, scratch: str) -> int:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.exact_dedup import (
        ExactDedupConfig,
        ExactDedupFilter,
        ExactDedupSignature,
        ExactFindDedups,
    )
    from datatrove.pipeline.writers import ParquetWriter

    config = ExactDedupConfig(content_getter=text_of)
    n_files = len(corpus.files)
    sigs, dups, out = (os.path.join(scratch, d) for d in ("sigs", "dups", "out"))

    def executor(pipeline, tasks, name):
        return LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1,
                                     logging_dir=os.path.join(scratch, "logs", name))

    executor([corpus.datatrove_reader(), ExactDedupSignature(sigs, config)],
             n_files, "sig").run()
    executor([ExactFindDedups(sigs, dups, config)], 1, "find").run()
    executor([corpus.datatrove_reader(), ExactDedupFilter(dups, config),
              ParquetWriter(out)], n_files, "filter").run()
    return sum(pq.read_metadata(os.path.join(out, f)).num_rows for f in os.listdir(out)
               if f.endswith(".parquet"))


def run(corpus: Corpus, workdir: str) -> dict:
    row = compare("exact dedup, JSONL.zst in, Parquet out", "datatrove exact dedup (3 steps)",
                  lambda: _ours(corpus.files, os.path.join(workdir, "ours")),
                  lambda: _datatrove(corpus, os.path.join(workdir, "datatrove")),
                  corpus.docs, corpus.text_mb)
    return {"rows": [row]}
