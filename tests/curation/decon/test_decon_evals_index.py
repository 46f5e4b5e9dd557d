"""Eval set adapters, dedup and length filtering; the inverted index against a brute-force
dictionary; its cache directory."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.decon.evals import EvalItem, adapt, build_set, humaneval, load_eval
from curation.decon.index import DeconIndex, IndexParams, cached_index, lookup
from curation.decon.tokens import Tokens, ngrams

LONG = ("the committee reviewed every application submitted before the deadline in march "
        "and then published a short list of the strongest candidates")


def test_adapters():
    assert adapt({"question": "Q?", "answer": "42"}, "auto", 0) == EvalItem("0", "Q?", "42")
    mc = {"id": "m", "question": "Q?", "choices": ["red", "green", "blue"], "answer": 2}
    assert adapt(mc, "auto", 0).answer == "blue"
    letter = {"question": "Q?", "choices": {"text": ["red", "green"]}, "answerKey": "B"}
    assert adapt(letter, "mc", 3) == EvalItem("3", "Q?", "green")
    code = {"task_id": "T/1", "prompt": "def f():\n", "canonical_solution": "    return 1\n"}
    assert adapt(code, "auto", 0) == EvalItem("T/1", "def f():\n", "    return 1\n")
    passage = {"question": "Q?", "context": "Some passage.", "answer": "A"}
    assert adapt(passage, "auto", 0) == EvalItem("0", "Q?", "A", "Some passage.")
    with pytest.raises(ValueError, match="out of range"):
        adapt({"question": "Q", "choices": ["a"], "answer": 3}, "mc", 0)
    with pytest.raises(ValueError, match="shape"):
        adapt({"text": "no question"}, "auto", 0)


def test_dedup_and_too_short_are_counted():
    items = [
        EvalItem("a", LONG + "?", "Yes."),
        EvalItem("b", LONG.upper() + " ?!", "yes"),  # the same after normalisation
        EvalItem("c", "Too short a question?", "no"),
        EvalItem("d", " ".join(["spam"] * 30), "spam"),  # long but one unique word
    ]
    evalset = build_set("x", items)
    assert [it.id for it in evalset.items] == ["a"]
    assert evalset.skipped == {"duplicate": 1, "too_short": 2}
    assert len(build_set("x", items, min_tokens=3, min_unique_words=1).items) == 3


def test_load_jsonl_and_parquet(tmp_path):
    rows = [{"id": f"q{i}", "question": f"{LONG} number {i}?", "answer": str(i)} for i in range(3)]
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "qa.parquet")
    a, b = load_eval(str(tmp_path / "qa.jsonl")), load_eval(str(tmp_path / "qa.parquet"))
    assert a.name == b.name == "qa" and a.items == b.items and len(a.items) == 3
    (tmp_path / "bad.jsonl").write_text(json.dumps(rows[0]) + "\n{oops\n")
    with pytest.raises(ValueError, match="bad.jsonl:line 2"):
        load_eval(str(tmp_path / "bad.jsonl"))


def test_humaneval_loads_164_problems():
    evalset = humaneval()
    assert len(evalset.items) + sum(evalset.skipped.values()) == 164
    assert len(evalset.items) >= 160
    assert evalset.items[0].question.startswith("from typing import List")


def _items(rng: np.random.Generator, n_items: int) -> list[EvalItem]:
    vocab = [f"w{i}" for i in range(12)]  # small vocabulary: many shared n-grams
    return [EvalItem(f"i{k}", " ".join(rng.choice(vocab, 25)), " ".join(rng.choice(vocab, 12)))
            for k in range(n_items)]


def test_index_matches_brute_force():
    rng = np.random.default_rng(1)
    evalset = build_set("r", _items(rng, 40))
    index = DeconIndex.build(evalset, IndexParams(n=3, hot_min_items=10, hot_fraction=0.0))
    tokens = Tokens()
    postings: dict[int, set[int]] = defaultdict(set)
    per_item: list[set[int]] = []
    for k, it in enumerate(evalset.items):
        h = tokens.text(it.question)
        grams = set(ngrams(h, np.array([0, len(h)]), 3)[0].tolist())
        per_item.append(grams)
        for g in grams:
            postings[g].add(k)
    assert index.q_keys.tolist() == sorted(postings)
    for key, gram in enumerate(index.q_keys.tolist()):
        items = index.q_items[index.q_offsets[key] : index.q_offsets[key + 1]].tolist()
        assert items == sorted(postings[gram])
        assert index.q_idf[key] == pytest.approx(math.log(1 + 40 / len(postings[gram])))
        assert bool(index.q_hot[key]) == (len(postings[gram]) >= 10)
    idf = dict(zip(index.q_keys.tolist(), index.q_idf.tolist(), strict=True))
    for k, grams in enumerate(per_item):
        assert index.q_idf_sum[k] == pytest.approx(sum(idf[g] for g in grams))
    probe = np.array(sorted(postings)[:3] + [12345], np.uint64)
    assert lookup(index.q_keys, probe).tolist() == [0, 1, 2, -1]


def test_cache_is_reused_and_keyed_by_contents(tmp_path):
    rng = np.random.default_rng(2)
    evalset = build_set("r", _items(rng, 10))
    first = cached_index(evalset, IndexParams(), str(tmp_path))
    assert cached_index(evalset, IndexParams(), str(tmp_path)) == first
    changed = build_set("r", _items(rng, 10))
    assert cached_index(changed, IndexParams(), str(tmp_path)) != first
    assert cached_index(evalset, IndexParams(n=6), str(tmp_path)) != first
    loaded = DeconIndex.load(first)
    built = DeconIndex.build(evalset, IndexParams())
    assert isinstance(loaded.q_keys, np.memmap)
    assert set(loaded.arrays) == set(built.arrays)
    for name, array in built.arrays.items():
        assert np.array_equal(loaded.arrays[name], array), name


def test_mc_answer_key_is_looked_up_in_the_choice_labels():
    """ARC (Hugging Face layout) labels some items' choices "1".."4" instead of "A".."D", with
    ``answerKey`` one of those labels: "1" is the first choice, not the second, and "4" the
    fourth, not out of range."""
    choices = {"text": ["red", "green", "blue", "black"], "label": ["1", "2", "3", "4"]}
    for key, want in (("1", "red"), ("4", "black")):
        record = {"id": "arc", "question": "Q?", "choices": choices, "answerKey": key}
        assert adapt(record, "auto", 0).answer == want
    lettered = {"text": ["red", "green", "blue"], "label": ["A", "B", "C"]}
    assert adapt({"question": "Q?", "choices": lettered, "answerKey": "C"}, "mc", 0).answer == \
        "blue"
    shuffled = {"text": ["red", "green", "blue"], "label": ["B", "C", "A"]}
    assert adapt({"question": "Q?", "choices": shuffled, "answerKey": "A"}, "mc", 0).answer == \
        "blue"
    with pytest.raises(ValueError, match="out of range"):
        adapt({"question": "Q?", "choices": lettered, "answerKey": "D"}, "mc", 0)


def test_null_id_falls_back_like_a_missing_one(tmp_path):
    """A Parquet eval file with a nullable ``id`` column: a null id is no id (the item gets its
    ``task_id`` or its record index), not the string "None" shared by every such item."""
    rows = [{"id": None if i % 2 else f"q{i}", "question": f"{LONG} number {i}?",
             "answer": str(i)} for i in range(4)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "qa.parquet")
    ids = [it.id for it in load_eval(str(tmp_path / "qa.parquet")).items]
    assert ids == ["q0", "1", "q2", "3"]
    assert adapt({"id": None, "task_id": "T/7", "prompt": "p", "code": "c"}, "auto", 0).id == "T/7"


def test_cache_is_keyed_by_tokenizer_and_preset(tmp_path, tokenizer_path, other_tokenizer_path):
    evalset = build_set("r", _items(np.random.default_rng(5), 10))
    dirs = [cached_index(evalset, params, str(tmp_path)) for params in (
        IndexParams(), IndexParams(tokenizer=tokenizer_path),
        IndexParams(tokenizer=other_tokenizer_path), IndexParams.preset("olmo3"),
        IndexParams.preset("olmo3", tokenizer=tokenizer_path))]
    assert len(set(dirs)) == len(dirs)
    assert cached_index(evalset, IndexParams.preset("default"), str(tmp_path)) == dirs[0]
    # the tokenizer's bytes, not its path: a changed file at the same path is a new index
    changed = tmp_path / "tok.json"
    changed.write_bytes(Path(tokenizer_path).read_bytes())
    same = cached_index(evalset, IndexParams(tokenizer=str(changed)), str(tmp_path))
    changed.write_bytes(Path(other_tokenizer_path).read_bytes())
    assert cached_index(evalset, IndexParams(tokenizer=str(changed)), str(tmp_path)) != same


def test_answer_types_count_distinct_answer_tokens():
    items = [EvalItem("a", LONG, "yes yes no yes maybe"), EvalItem("b", LONG + " too", "")]
    index = DeconIndex.build(build_set("x", items), IndexParams())
    assert index.a_len.tolist() == [5, 0] and index.a_types.tolist() == [3, 0]
