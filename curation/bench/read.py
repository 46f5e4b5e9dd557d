"""Reading JSONL.zst into documents: our ``Reader`` (Arrow batches) vs datatrove's
``JsonlReader`` (one ``Document`` object per line), same files, one process, one core."""

from __future__ import annotations

import os
from collections import Counter

from curation.bench.common import Corpus, compare
from curation.core.quarantine import Quarantine
from curation.core.readers import read


def _ours(files: list[str]) -> int:
    reader = read(files, source="bench")
    return sum(table.num_rows for path in files
               for table in reader.read(path, Quarantine("raise", None), Counter()))


def _datatrove(corpus: Corpus) -> int:
    reader = corpus.datatrove_reader()
    return sum(1 for path in corpus.files for _ in reader.read_file(os.path.basename(path)))


def run(corpus: Corpus, workdir: str) -> dict:
    row = compare("read JSONL.zst into documents", "datatrove JsonlReader",
                  lambda: _ours(corpus.files), lambda: _datatrove(corpus),
                  corpus.docs, corpus.text_mb)
    return {"rows": [row]}
