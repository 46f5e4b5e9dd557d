"""The corpus against its ground truth: layout, ids, truth fields per kind, fractions,
duplicate sources, boilerplate spans; config validation."""

from __future__ import annotations

import re

import pytest
from synthetic_corpus import CONFIG, rows

from curation.synthetic import GeneratorConfig, vocab
from curation.synthetic.corpus import KINDS, SOURCE

CREATED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


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


def test_dups_come_from_earlier_originals(corpus):
    truth = {r["id"]: r for r in corpus["truth"]}
    for row in rows(corpus, "exact_dup") + rows(corpus, "near_dup"):
        source = truth[row["dup_of"]]
        assert source["kind"] == "original"
        assert (source["shard"], source["line"]) < (row["shard"], row["line"])
    for row in rows(corpus, "exact_dup"):
        assert corpus["docs"][row["id"]]["text"] == corpus["docs"][row["dup_of"]]["text"]


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


def test_config_validation():
    with pytest.raises(ValueError):
        GeneratorConfig(docs=10, spam=0.9, low_quality=0.5)
    with pytest.raises(ValueError):
        GeneratorConfig(docs=10, near_dup_targets=(1.0,))
    assert GeneratorConfig(docs=1).fractions()["original"] == pytest.approx(0.57)
