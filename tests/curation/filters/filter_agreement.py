"""Shared by the filter tests: running a stage on texts, datatrove's decision on the same
texts, and the corpora the agreement tests compare on."""

from __future__ import annotations

import json

import pyarrow as pa
import zstandard
from datatrove.data import Document

from curation.core.stage import BatchContext
from curation.core.stats import StageStats
from curation.samples.python_docs import build_python_docs_corpus
from curation.synthetic import GeneratorConfig, generate


def run(stage, texts: list[str]) -> tuple[pa.Table, BatchContext]:
    """The stage's output batch for ``texts`` and its context (stats, rejects kept)."""
    ctx = BatchContext(seed=0, shard=0, stats=StageStats(), keep_rejects=True)
    out = stage.process(pa.table({"text": pa.array(texts, pa.large_string())}), ctx)
    return out, ctx


def datatrove_reasons(dt_filter, texts: list[str]) -> list[str | None]:
    """datatrove's drop reason per text (None: kept)."""
    out = []
    for i, text in enumerate(texts):
        r = dt_filter.filter(Document(text=text, id=str(i)))
        out.append(None if r is True else r[1])
    return out


def read_texts(paths) -> list[str]:
    texts = []
    for path in paths:
        with open(path, "rb") as f:
            data = zstandard.ZstdDecompressor().decompressobj().decompress(f.read())
        texts += [json.loads(line)["text"] for line in data.splitlines() if line.strip()]
    return texts


def agreement_corpora(tmp_path_factory, seed: int) -> dict[str, list[str]]:
    """Every 5th document of a 2000-document synthetic corpus, every 3rd python-docs page."""
    root = tmp_path_factory.mktemp("synthetic")
    generate(root, GeneratorConfig(docs=2000, seed=seed))
    synthetic = read_texts(sorted((root / "docs").glob("*.jsonl.zst")))
    python_docs = read_texts(build_python_docs_corpus(str(tmp_path_factory.mktemp("pydocs"))))
    return {"synthetic": synthetic[::5], "python_docs": python_docs[::3]}
