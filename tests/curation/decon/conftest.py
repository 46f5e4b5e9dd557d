"""Fixtures of the decontamination tests: a small synthetic corpus with planted benchmark copies
and the Python documentation as real clean text, both built once per session."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import zstandard


def read_jsonl_zst(path) -> list[dict]:
    with open(path, "rb") as f:
        data = zstandard.ZstdDecompressor().decompress(f.read(), max_output_size=1 << 30)
    return [json.loads(line) for line in data.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory) -> dict:
    """2000 documents, 10% of them planted benchmark copies: docs, truth rows, eval path."""
    from curation.synthetic import GeneratorConfig, generate

    root = tmp_path_factory.mktemp("decon-synthetic")
    generate(root, GeneratorConfig(docs=2000, seed=0, bench_copy=0.1))
    return {
        "root": root,
        "docs": read_jsonl_zst(root / "docs" / "part-00000.jsonl.zst"),
        "truth": pq.read_table(root / "truth.parquet").to_pylist(),
        "evals": str(root / "evals" / "synthetic_qa.jsonl"),
    }


@pytest.fixture(scope="session")
def python_docs(tmp_path_factory) -> list[dict]:
    """The Python documentation sample corpus (real prose and code, no benchmark items)."""
    from curation.samples import build_python_docs_corpus

    out = tmp_path_factory.mktemp("pydocs")
    return [d for p in build_python_docs_corpus(str(out)) for d in read_jsonl_zst(p)]
