"""Language ID end to end (read JSONL.zst, tag and filter English at score >= 0.65, write
Parquet) with ``LanguageID`` on the local executor, against the plain per-document loop that
datatrove's LanguageFilter runs (``model.predict`` on each text with newlines folded) over the
same texts already in memory; same lid.176.ftz model, one core each. Both keep the same
documents."""

from __future__ import annotations

import os

from curation.bench.common import Corpus, compare
from curation.core.pipeline import Pipeline
from curation.core.readers import read
from curation.fasttext import load_cached
from curation.filters import LanguageID
from curation.filters.langid import MAX_CHARS, default_model
from curation.tokenize.cli import iter_texts


def _ours(files: list[str], scratch: str) -> int:
    p = Pipeline("bench-langid", workdir=os.path.join(scratch, "work"))
    p.sink(p.source(read(files, source="bench")) >> LanguageID(keep=["en"], min_score=0.65),
           os.path.join(scratch, "out"))
    return p.run("local", progress=False).stats["language_id"].docs_out


def _per_document(texts: list[str]) -> int:
    model = load_cached(default_model()).model  # fastText's own object, as datatrove uses it
    kept = 0
    for text in texts:
        labels, scores = model.predict(text[:MAX_CHARS].replace("\n", " ").replace("\r", " "))
        kept += labels[0] == "__label__en" and scores[0] >= 0.65
    return kept


def run(corpus: Corpus, workdir: str) -> dict:
    texts = list(iter_texts(corpus.files))
    load_cached(default_model())  # loaded once, outside both timings
    row = compare("language ID (lid.176.ftz), JSONL.zst in, Parquet out",
                  "fastText predict per document (datatrove's loop), texts in memory",
                  lambda: _ours(corpus.files, os.path.join(workdir, "ours")),
                  lambda: _per_document(texts), corpus.docs, corpus.text_mb)
    return {"rows": [row]}
