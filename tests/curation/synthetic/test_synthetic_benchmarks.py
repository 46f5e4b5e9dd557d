"""Benchmark items are distinct and rewordable; each bench copy plants its variant of its item."""

from __future__ import annotations

import re

from synthetic_corpus import CONFIG, rows

from curation.synthetic import normalize
from curation.synthetic.benchmarks import BENCH_VARIANTS, reword


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
