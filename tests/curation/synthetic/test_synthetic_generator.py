"""The synthetic corpus against its ground truth: every planted fact is re-checked by brute force
on a small corpus (2,000 documents in three shards, the last one partial)."""

from __future__ import annotations

import re

import orjson
import pyarrow.parquet as pq
import pytest
import zstandard

from curation.synthetic import GeneratorConfig, generate, jaccard, normalize, shingles, vocab
from curation.synthetic.generator import (
    BENCH_VARIANTS,
    KINDS,
    SOURCE,
    main,
    near_duplicate,
    reword,
)

CONFIG = GeneratorConfig(docs=2_000, seed=7, shard_docs=700)
CREATED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def read_shards(out) -> list[list[dict]]:
    paths = sorted((out / "docs").glob("part-*.jsonl.zst"))
    dctx = zstandard.ZstdDecompressor()
    return [[orjson.loads(x) for x in dctx.decompress(p.read_bytes()).splitlines()] for p in paths]


def tree_bytes(out) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
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


def rows(corpus, kind: str) -> list[dict]:
    return [r for r in corpus["truth"] if r["kind"] == kind]


def test_normalize_shingles_jaccard():
    assert normalize("  Hello,   WORLD!\nIt's 3.5 «ok»_x ") == "hello world it s 3 5 ok x"
    assert normalize("Ça va, Müller?") == "ça va müller"
    assert shingles("a b c d e f", n=5) == {("a", "b", "c", "d", "e"), ("b", "c", "d", "e", "f")}
    assert shingles("A, b!", n=5) == {("a", "b")}
    assert shingles("...", n=5) == set()
    assert jaccard({1, 2}, {2, 3}) == 1 / 3
    assert jaccard(set(), set()) == 1.0


def test_layout_ids_and_fields(corpus):
    shards, truth = corpus["shards"], corpus["truth"]
    assert [len(s) for s in shards] == [700, 700, 600]
    assert len(truth) == CONFIG.docs == len(corpus["docs"])  # ids are unique
    for row in truth:
        doc = shards[row["shard"]][row["line"]]
        assert doc["id"] == row["id"]
        assert doc["created"] == row["created"] and CREATED.fullmatch(doc["created"])
        assert doc["source"] == SOURCE
        assert re.fullmatch(r"https://www\.[a-z]+\.[a-z.]+/[a-z-]+/[a-z-]+-\d+", doc["url"])
        assert row["kind"] in KINDS and row["topic"] in vocab.TOPICS
        assert row["quality"] == ("low" if row["kind"] in ("spam", "low_quality") else "high")
    assert corpus["summary"]["kinds"] == {k: len(rows(corpus, k)) for k in KINDS}


def test_fields_are_null_outside_their_kind(corpus):
    owners = {
        "dup_of": ("exact_dup", "near_dup"),
        "jaccard": ("near_dup",),
        "target_jaccard": ("near_dup",),
        "boilerplate_id": ("boilerplate",),
        "boilerplate_start": ("boilerplate",),
        "bench_item": ("bench_copy",),
        "bench_variant": ("bench_copy",),
        "bench_start": ("bench_copy",),
    }
    for row in corpus["truth"]:
        for field, kinds in owners.items():
            assert (row[field] is not None) == (row["kind"] in kinds), (field, row)


def test_counts_match_fractions(corpus):
    for kind, fraction in CONFIG.fractions().items():
        assert abs(len(rows(corpus, kind)) / CONFIG.docs - fraction) < 0.03, kind


def test_originals_read_like_prose(corpus):
    for row in rows(corpus, "original"):
        text = corpus["docs"][row["id"]]["text"]
        assert 80 <= len(text.split()) <= 600
        for paragraph in text.split("\n\n"):
            for sentence in re.split(r"(?<=\.) ", paragraph):
                assert sentence[0].isupper() and sentence.endswith(".")
                assert 8 <= len(sentence.split()) <= 25
        words = normalize(text).split()
        assert sum(w in ("the", "of", "and", "to", "with") for w in words) >= 2


def test_dups_come_from_earlier_originals(corpus):
    truth = {r["id"]: r for r in corpus["truth"]}
    for row in rows(corpus, "exact_dup") + rows(corpus, "near_dup"):
        source = truth[row["dup_of"]]
        assert source["kind"] == "original"
        assert (source["shard"], source["line"]) < (row["shard"], row["line"])
    for row in rows(corpus, "exact_dup"):
        assert corpus["docs"][row["id"]]["text"] == corpus["docs"][row["dup_of"]]["text"]


def test_near_dups_record_the_measured_jaccard(corpus):
    targets = set()
    for row in rows(corpus, "near_dup"):
        text = corpus["docs"][row["id"]]["text"]
        source = corpus["docs"][row["dup_of"]]["text"]
        measured = jaccard(shingles(text), shingles(source))
        assert row["jaccard"] == measured
        assert row["target_jaccard"] - 1 / len(shingles(source)) < measured
        assert measured <= row["target_jaccard"]
        targets.add(row["target_jaccard"])
    assert targets == set(CONFIG.near_dup_targets)


def test_near_duplicate_reaches_low_targets():
    import numpy as np

    rng = np.random.Generator(np.random.PCG64(0))
    source = " ".join(f"w{i % 97}x{i}" for i in range(300)) + "."
    for target in (0.99, 0.6, 0.1):
        text, measured = near_duplicate(source, target, ("alpha", "beta", "gamma"), rng)
        assert measured == jaccard(shingles(text), shingles(source))
        assert target - 1 / 296 < measured <= target


def test_boilerplate_spans(corpus):
    for row in rows(corpus, "boilerplate"):
        raw = corpus["docs"][row["id"]]["text"].encode()
        span = raw[row["boilerplate_start"] : row["boilerplate_end"]]
        assert span.decode() == vocab.BOILERPLATE[row["boilerplate_id"]]
        assert len(span) > 500
        assert row["boilerplate_start"] == 0 or row["boilerplate_end"] == len(raw)
    assert {r["boilerplate_id"] for r in rows(corpus, "boilerplate")} == set(
        range(len(vocab.BOILERPLATE))
    )


def test_bench_copies_contain_their_item(corpus):
    variants = set()
    for row in rows(corpus, "bench_copy"):
        raw = corpus["docs"][row["id"]]["text"].encode()
        planted = raw[row["bench_start"] : row["bench_end"]].decode()
        item = corpus["items"][row["bench_item"]]
        text = f"{item['question']} {item['answer']}"
        variant = row["bench_variant"]
        variants.add(variant)
        if variant == "verbatim":
            assert planted == text
        elif variant == "normalised":
            assert planted != text and normalize(planted) == normalize(text)
        elif variant == "partial":
            words = text.split(" ")
            assert planted == " ".join(words[: len(words) // 2])
        else:
            split = re.compile(r"(?<=[.?]) ")
            ours, theirs = split.split(planted), split.split(text)
            assert len(ours) == len(theirs)
            assert sum(a != b for a, b in zip(ours, theirs, strict=True)) == 1
    assert variants == set(BENCH_VARIANTS)


def test_benchmark_items(corpus):
    items = corpus["items"]
    assert len(items) == CONFIG.bench_items
    assert len({(i["question"], i["answer"]) for i in items.values()}) == len(items)
    for item in items.values():
        assert 20 <= len(f"{item['question']} {item['answer']}".split()) <= 60
        # Every item can be reworded (one of its sentences holds a synonym).
        assert reword(item["question"]) != item["question"]


def test_non_english_documents(corpus):
    for row in corpus["truth"]:
        assert (row["lang"] != "en") == (row["kind"] == "non_english")
    langs = set()
    for row in rows(corpus, "non_english"):
        words = normalize(corpus["docs"][row["id"]]["text"]).split()
        known = set(vocab.LANGUAGES[row["lang"]])
        assert sum(w in known for w in words) == len(words)
        langs.add(row["lang"])
    assert langs == set(vocab.LANGUAGES)


def test_spam_and_low_quality_look_bad(corpus):
    for row in rows(corpus, "spam"):
        lines = corpus["docs"][row["id"]]["text"].split("\n")
        assert len(set(lines)) <= len(lines) / 2  # heavily repeated lines
    for row in rows(corpus, "low_quality"):
        text = corpus["docs"][row["id"]]["text"]
        assert "{" in text or "lorem ipsum" in text.lower() or "javascript" in text.lower()
        lines = text.split("\n")
        assert sum(len(line) < 50 for line in lines) >= len(lines) / 2  # mostly fragments


def test_vocab_invariants():
    assert len(vocab.TOPICS) == 24
    english = [w for ws in (*vocab.TOPICS.values(), *vocab.COMMON.values()) for w in ws]
    assert all(re.fullmatch(r"[a-z]+", w) for w in english)
    assert all(25 <= len(ws) <= 40 for ws in vocab.TOPICS.values())
    assert all(len(ws) >= 100 and all(w.isalpha() for w in ws) for ws in vocab.LANGUAGES.values())
    assert all(len(b.encode()) > 500 for b in vocab.BOILERPLATE)


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    config = GeneratorConfig(docs=300, seed=3, shard_docs=128)
    generate(tmp_path / "a", config)
    generate(tmp_path / "b", config)
    first = tree_bytes(tmp_path / "a")
    assert first == tree_bytes(tmp_path / "b")
    assert len([name for name in first if name.startswith("docs/")]) == 3
    generate(tmp_path / "c", GeneratorConfig(docs=300, seed=4, shard_docs=128))
    other = tree_bytes(tmp_path / "c")
    assert other.keys() == first.keys()
    assert all(other[name] != first[name] for name in first)


def test_rerun_with_fewer_docs_removes_stale_shards(tmp_path):
    generate(tmp_path, GeneratorConfig(docs=50, shard_docs=10))
    generate(tmp_path, GeneratorConfig(docs=20, shard_docs=10))
    assert len(read_shards(tmp_path)) == 2
    assert pq.read_metadata(tmp_path / "truth.parquet").num_rows == 20


def test_config_validation():
    with pytest.raises(ValueError):
        GeneratorConfig(docs=10, spam=0.9, low_quality=0.5)
    with pytest.raises(ValueError):
        GeneratorConfig(docs=10, near_dup_targets=(1.0,))
    assert GeneratorConfig(docs=1).fractions()["original"] == pytest.approx(0.57)


def test_main_prints_summary(tmp_path, capsys):
    main(["--out", str(tmp_path), "--docs", "40", "--seed", "1", "--shard-docs", "25"])
    summary = orjson.loads(capsys.readouterr().out)
    assert summary["docs"] == 40 and summary["shards"] == 2
    meta = orjson.loads((tmp_path / "meta.json").read_bytes())
    assert meta["config"]["seed"] == 1 and meta["kinds"] == summary["kinds"]
