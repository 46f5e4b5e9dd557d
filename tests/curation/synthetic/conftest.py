"""The corpus every planted fact is re-checked against by brute force, generated once."""

from __future__ import annotations

import orjson
import pyarrow.parquet as pq
import pytest
from synthetic_corpus import CONFIG, read_shards

from curation.synthetic import generate


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    summary = generate(out, CONFIG)
    shards = read_shards(out)
    truth = pq.read_table(out / "truth.parquet").to_pylist()
    docs = {d["id"]: d for shard in shards for d in shard}
    items = {
        item["id"]: item
        for item in map(
            orjson.loads, (out / "evals" / "synthetic_qa.jsonl").read_bytes().splitlines()
        )
    }
    return {
        "out": out,
        "summary": summary,
        "shards": shards,
        "truth": truth,
        "docs": docs,
        "items": items,
    }
