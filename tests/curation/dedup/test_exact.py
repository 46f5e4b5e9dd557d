"""Exact dedup against brute force: group texts in a dict, keep the newest, then smallest id."""

from __future__ import annotations

import os
import random

import pyarrow as pa
import pyarrow.parquet as pq
from corpora import write_jsonl
from keep_policy import keepers

from curation import Pipeline, read
from curation.dedup import ExactDedup
from curation.dedup.exact import normalise_whitespace_case


def planted(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    originals = [f"original text number {i} " + "x" * rng.randint(0, 30) for i in range(n)]
    docs = []
    for i in range(3 * n):
        text = rng.choice(originals)
        created = None if rng.random() < 0.2 else f"2024-0{rng.randint(1, 3)}-01T00:00:00Z"
        docs.append({"id": f"d{rng.randint(0, 10**6):07d}-{i}", "text": text, "created": created})
    return docs


def brute_force(docs: list[dict], keep: str) -> set[str]:
    groups: dict[str, list[dict]] = {}
    for d in docs:
        groups.setdefault(d["text"], []).append(d)
    return keepers(groups, keep)


def run(tmp_path, docs, **options) -> pa.Table:
    os.makedirs(tmp_path / "in", exist_ok=True)
    for k in range(3):
        write_jsonl(tmp_path / "in" / f"{k}.jsonl", docs[k::3])
    p = Pipeline("t", str(tmp_path / "w"))
    p.sink(p.source(read(str(tmp_path / "in"), source="s")) >> ExactDedup(**options),
           str(tmp_path / "o"))
    result = p.run(progress=False)
    return pa.concat_tables(pq.read_table(f) for f in result.outputs["sink"])


def test_keeps_newest_then_smallest_id(tmp_path):
    docs = planted(40, seed=1)
    out = run(tmp_path, docs, partitions=5)
    assert set(out.column("id").to_pylist()) == brute_force(docs, "newest")


def test_a_document_ingested_twice_keeps_one_copy(tmp_path):
    """The same row in two shards (same id, same text): one copy is kept."""
    docs = [{"id": "same", "text": "one text"}, {"id": "b", "text": "another"},
            {"id": "c", "text": "a third"}, {"id": "same", "text": "one text"}]
    out = run(tmp_path, docs, partitions=2)
    assert sorted(out.column("id").to_pylist()) == ["b", "c", "same"]


def test_keep_policies(tmp_path):
    docs = planted(30, seed=2)
    for keep in ("oldest", "smallest_id"):
        out = run(tmp_path / keep, docs, keep=keep, partitions=2)
        assert set(out.column("id").to_pylist()) == brute_force(docs, keep)


def test_mark_mode_keeps_rows_and_points_to_the_keeper(tmp_path):
    docs = planted(20, seed=3)
    out = run(tmp_path, docs, mode="mark")
    assert out.num_rows == len(docs)
    keepers = brute_force(docs, "newest")
    by_id = {d["id"]: d for d in docs}
    for doc_id, dup_of in zip(out.column("id").to_pylist(),
                              out.column("exact_dup_of").to_pylist(), strict=True):
        if doc_id in keepers:
            assert dup_of is None
        else:
            assert dup_of in keepers and by_id[dup_of]["text"] == by_id[doc_id]["text"]


def test_normalised_hash_merges_case_and_whitespace(tmp_path):
    docs = [{"id": "a", "text": "Hello   World\n"}, {"id": "b", "text": "hello world"},
            {"id": "c", "text": "hello, world"}]
    plain = run(tmp_path / "plain", docs)
    norm = run(tmp_path / "norm", docs, normalise=True, keep="smallest_id")
    assert plain.num_rows == 3
    assert sorted(norm.column("id").to_pylist()) == ["a", "c"]


def test_normalisation_collapses_every_whitespace_like_python_split():
    """Whitespace inside a text collapses like at its ends (which utf8_trim_whitespace strips):
    every character of Python's ``str.isspace`` (NBSP, em space, line separator, \\x1c...).
    Reference: ``" ".join(text.lower().split())``."""
    import sys

    spaces = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    rng = random.Random(5)
    alphabet = ["a", "B", "é", "x", "\r\n", *spaces]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
             for _ in range(400)] + [f"a{s}b" for s in spaces] + [f"{s}a b{s}" for s in spaces]
    got = normalise_whitespace_case(pa.array(texts, pa.large_string())).to_pylist()
    assert got == [" ".join(t.lower().split()) for t in texts]
