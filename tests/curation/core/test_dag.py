"""DAG validation: every mistake is reported, by name, before anything runs."""

from __future__ import annotations

import pyarrow as pa
import pytest

from curation import MapStage, Pipeline, read
from curation.core.errors import PipelineValidationError
from curation.core.plan import GlobalStep, MapStep, UnionStep, compile_plan
from curation.dedup import ExactDedup
from curation.filters import DocumentLength


class NeedsLang(MapStage):
    requires = ("text", "lang")

    def process(self, batch, ctx):
        return batch


class AddsLang(MapStage):
    adds = {"lang": pa.string()}

    def process(self, batch, ctx):
        return batch.append_column("lang", pa.array(["en"] * batch.num_rows))


def problems(p: Pipeline) -> list[str]:
    with pytest.raises(PipelineValidationError) as e:
        p.validate()
    return e.value.problems


def test_missing_column_names_stage_and_column():
    p = Pipeline("t", "w")
    p.sink(p.source(read("x.jsonl", source="s")) >> NeedsLang(), "out")
    (msg,) = problems(p)
    assert "'needs_lang' needs column 'lang'" in msg


def test_column_added_upstream_satisfies():
    p = Pipeline("t", "w")
    p.sink(p.source(read("x.jsonl", source="s")) >> AddsLang() >> NeedsLang(), "out")
    assert [n.name for n in p.validate()] == ["s", "adds_lang", "needs_lang", "sink"]


def test_union_keeps_only_shared_columns():
    p = Pipeline("t", "w")
    a = p.source(read("a.jsonl", source="a")) >> AddsLang()
    b = p.source(read("b.jsonl", source="b"))
    p.sink(p.union(a, b) >> NeedsLang(), "out")
    assert any("needs column 'lang'" in m for m in problems(p))


def test_duplicate_names_unknown_inputs_and_no_sink():
    p = Pipeline("t", "w")
    src = p.source(read("x.jsonl", source="s"))
    p.add(DocumentLength(), inputs=[src], name="f")
    p.add(DocumentLength(), inputs=[src], name="f")
    p.add(DocumentLength(), inputs=["ghost"], name="g")
    found = problems(p)
    assert "duplicate node name 'f'" in found
    assert "'g' reads from 'ghost', which is not a node" in found
    assert any("no sink" in m for m in found)


def test_cycle_is_reported_with_its_path():
    p = Pipeline("t", "w")
    src = p.source(read("x.jsonl", source="s"))
    p.add(DocumentLength(), inputs=["c"], name="a")
    p.add(DocumentLength(), inputs=["a"], name="b")
    p.add(DocumentLength(), inputs=["b"], name="c")
    p.sink(src, "out")
    (msg,) = problems(p)
    assert msg.startswith("cycle: ") and {"a", "b", "c"} <= set(msg[7:].split(" -> "))


def test_dangling_branch_and_arity():
    p = Pipeline("t", "w")
    src = p.source(read("x.jsonl", source="s"))
    src >> DocumentLength(name="unused")
    p.sink(src, "out")
    assert problems(p) == ["nodes leading to no sink: unused"]
    q = Pipeline("t", "w")
    s = q.source(read("x.jsonl", source="s"))
    q.union(s, name="lonely")
    assert "union node 'lonely' has 1 inputs" in problems(q)


def test_auto_names_are_unique():
    p = Pipeline("t", "w")
    a = p.source(read("x.jsonl", source="s")) >> DocumentLength() >> DocumentLength()
    assert a.name == "document_length_2"


def test_plan_fuses_map_chains_and_materialises_at_boundaries():
    p = Pipeline("t", "w")
    a = p.source(read("a.jsonl", source="a")) >> DocumentLength() >> AddsLang()
    b = p.source(read("b.jsonl", source="b")) >> DocumentLength()
    p.sink(p.union(a, b) >> ExactDedup(), "out")
    steps = compile_plan(p).steps
    assert [type(s) for s in steps] == [MapStep, MapStep, UnionStep, GlobalStep]
    chains = sorted([n for n, _ in s.stages] for s in steps[:2])
    assert chains == [["document_length", "adds_lang"], ["document_length_2"]]
    assert steps[-1].output == "out" and steps[-1].is_sink
    assert "ExactDedup" in p.describe()
