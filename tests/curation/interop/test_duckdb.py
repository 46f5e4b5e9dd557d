"""DuckDB queries a run's outputs as they are: the sink's Parquet shards (token shards
included), a step's output in the work dir, the documents a filter dropped and the run's
stats.json, with the counts the run itself reports."""

from __future__ import annotations

import json
import os

import pytest
from corpora import corpus, write_jsonl

from curation import Pipeline, read
from curation.core.manifest import read_manifest
from curation.dedup import ExactDedup
from curation.filters import DocumentLength
from curation.tokenize import Tokenize

duckdb = pytest.importorskip("duckdb")


def test_duckdb_reads_every_output_of_a_run(tmp_path, tokenizer_path):
    os.makedirs(tmp_path / "in")
    docs = corpus(300)
    for d in docs[::7]:
        d["text"] = "short"  # dropped by the length filter, and kept aside
    write_jsonl(tmp_path / "in" / "a.jsonl", docs)
    p = Pipeline("duck", str(tmp_path / "w"))
    kept = (p.source(read(str(tmp_path / "in"), source="web"))
            >> DocumentLength(min_chars=50, keep_rejects=True) >> ExactDedup(partitions=2))
    p.sink(kept >> Tokenize(tokenizer_path), str(tmp_path / "out"))
    result = p.run(progress=False)
    db = duckdb.connect()

    def one(sql: str):
        return db.execute(sql).fetchone()

    out = tmp_path / "out"
    rows, tokens, sources = one(f"SELECT count(*), sum(n_tokens), count(DISTINCT source) "
                                f"FROM read_parquet('{out}/*.parquet')")
    assert (rows, tokens, sources) == (result.stats["tokenize"].docs_out,
                                       read_manifest(str(out))["totals"]["tokens"], 1)
    assert one(f"SELECT sum(len(input_ids)) FROM read_parquet('{out}/*.parquet')")[0] == tokens
    deduped = one(f"SELECT count(*), count(DISTINCT text) FROM "
                  f"read_parquet('{tmp_path}/w/exact_dedup/*.parquet')")
    assert deduped[0] == deduped[1] == result.stats["exact_dedup"].docs_out
    dropped = one(f"SELECT count(*), min(drop_reason) FROM "
                  f"read_parquet('{tmp_path}/w/_rejects/document_length/*.parquet')")
    assert dropped == (len(docs[::7]), "too_short")
    stats = one(f"SELECT stages.exact_dedup.docs_out "
                f"FROM read_json_auto('{tmp_path}/w/stats.json')")
    assert stats[0] == json.loads((tmp_path / "w" / "stats.json").read_text())["stages"][
        "exact_dedup"]["docs_out"]
