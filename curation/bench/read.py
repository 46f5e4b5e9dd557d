"""Reading JSONL.zst into documents: our ``Reader`` (Arrow batches) vs datatrove's
``JsonlReader`` (one ``Document`` object per line), same files, one process, one core."""

from __future__ import annotations

import os
from collections import Counter

from curation.bench.common import compare, corpus_files, input_mb, synthetic_corpus
from curation.core.quarantine import Quarantine
from curation.core.readers import read


def _ours(files: list[str]) -> int:
    reader = read(files, source="bench")
    return sum(table.num_rows for path in files
               for table in reader.read(path, Quarantine("raise", None), Counter()))


def _datatrove(root: str, files: list[str]) -> int:
    from datatrove.pipeline.readers import JsonlReader

    reader = JsonlReader(os.path.join(root, "docs"), compression="zstd")
    return sum(1 for path in files for _ in reader.read_file(os.path.basename(path)))


def run(docs: int, workdir: str) -> dict:
    root = synthetic_corpus(docs, workdir)
    files = corpus_files(root)
    row = compare("read JSONL.zst into documents", "datatrove JsonlReader",
                  lambda: _ours(files), lambda: _datatrove(root, files), docs)
    return {"docs": docs, "input_mb": input_mb(files), "rows": [row]}
