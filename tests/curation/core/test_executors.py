"""Local and Ray executors write byte-identical outputs; failures name the shard."""

from __future__ import annotations

import os

import pyarrow as pa
import pytest
from corpora import corpus, write_jsonl

from curation import MapStage, Pipeline, read
from curation.core.errors import TaskFailed
from curation.core.executors import RayExecutor
from curation.dedup import ExactDedup
from curation.filters import DocumentLength


def make_inputs(root, shards=4, docs=120) -> str:
    os.makedirs(root, exist_ok=True)
    docs_ = corpus(docs)
    for k in range(shards):
        write_jsonl(os.path.join(root, f"in-{k}.jsonl.zst"), docs_[k::shards], "zstd")
    write_jsonl(os.path.join(root, "other.jsonl"), corpus(30, prefix="doc"))
    return str(root)


def build(inputs: str, work: str, out: str, max_shard_bytes=512 << 20) -> Pipeline:
    p = Pipeline("t", work, seed=1, max_shard_bytes=max_shard_bytes)
    a = p.source(read(os.path.join(inputs, "in-*.jsonl.zst"), source="a")) >> DocumentLength(50)
    b = p.source(read(os.path.join(inputs, "other.jsonl"), source="b"))
    p.sink(p.union(a, b) >> ExactDedup(partitions=3), out)
    return p


def output_bytes(out: str) -> dict[str, bytes]:
    return {n: open(os.path.join(out, n), "rb").read() for n in sorted(os.listdir(out))}


@pytest.mark.ray
def test_local_and_ray_outputs_are_byte_identical(tmp_path, ray_cluster):
    inputs = make_inputs(tmp_path / "in")
    local = build(inputs, str(tmp_path / "w1"), str(tmp_path / "o1")).run("local", progress=False)
    ray_ex = RayExecutor()
    ray2 = build(inputs, str(tmp_path / "w2"), str(tmp_path / "o2")).run(ray_ex, progress=False)
    ray_ex.max_in_flight = 1  # one task at a time: a single worker's schedule
    ray1 = build(inputs, str(tmp_path / "w3"), str(tmp_path / "o3")).run(ray_ex, progress=False)
    first = output_bytes(str(tmp_path / "o1"))
    assert first and first == output_bytes(str(tmp_path / "o2")) == output_bytes(
        str(tmp_path / "o3")
    )
    assert local.stats["exact_dedup"].to_dict() | {"seconds": 0} == ray2.stats[
        "exact_dedup"
    ].to_dict() | {"seconds": 0}
    assert ray1.ran == ray2.ran == local.ran


def test_exact_dedup_end_to_end_counts(tmp_path):
    inputs = make_inputs(tmp_path / "in")
    result = build(inputs, str(tmp_path / "w"), str(tmp_path / "o")).run(progress=False)
    s = result.stats["exact_dedup"]
    distinct = {d["text"] for d in corpus(120) + corpus(30)}  # brute force
    assert (s.docs_in, s.docs_out) == (150, len(distinct))
    assert s.dropped == {"exact_duplicate": 150 - len(distinct)}
    table = pa.concat_tables(pa.parquet.read_table(f) for f in result.outputs["sink"])
    assert set(table.column("text").to_pylist()) == distinct


def test_rolling_shards_at_size_bound(tmp_path):
    inputs = make_inputs(tmp_path / "in", shards=1, docs=400)
    result = build(inputs, str(tmp_path / "w"), str(tmp_path / "o"), max_shard_bytes=20_000).run(
        progress=False
    )
    names = sorted(os.listdir(tmp_path / "o"))
    assert len(names) > 4 and names[:2] == ["manifest.json", "part-00000-000.parquet"]
    distinct = {d["text"] for d in corpus(400)}
    assert sum(pa.parquet.read_metadata(f).num_rows for f in result.outputs["sink"]) == len(
        distinct
    )


class Boom(MapStage):
    def process(self, batch, ctx):
        if ctx.shard == 2:
            raise ValueError("cannot handle this shard")
        return batch


@pytest.mark.parametrize("executor", ["local", pytest.param("ray", marks=pytest.mark.ray)])
def test_failing_task_names_step_shard_and_cause(tmp_path, executor, request):
    if executor == "ray":
        request.getfixturevalue("ray_cluster")
    inputs = make_inputs(tmp_path / "in")
    p = Pipeline("t", str(tmp_path / "w"))
    p.sink(
        p.source(read(os.path.join(inputs, "in-*.jsonl.zst"), source="a")) >> Boom(),
        str(tmp_path / "o"),
    )
    with pytest.raises(TaskFailed) as e:
        p.run(executor, progress=False)
    msg = str(e.value)
    assert "step 'boom'" in msg and "in-2.jsonl.zst" in msg
    assert "ValueError: cannot handle this shard" in msg


def test_bad_input_in_a_run_names_file_and_line(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"text": "good document"}, b"{oops"])
    p = Pipeline("t", str(tmp_path / "w"))
    p.sink(p.source(read(str(tmp_path / "a.jsonl"), source="a")), str(tmp_path / "o"))
    with pytest.raises(TaskFailed, match=r"a\.jsonl:line 2: malformed JSON"):
        p.run(progress=False)
    q = Pipeline("t", str(tmp_path / "w2"))
    q.sink(
        q.source(read(str(tmp_path / "a.jsonl"), source="a", on_error="quarantine")),
        str(tmp_path / "o2"),
    )
    result = q.run(progress=False)
    assert result.stats["a"].quarantined == {"malformed_json": 1}
    assert result.stats["a"].docs_in == 2 and result.stats["a"].docs_out == 1
    assert os.listdir(tmp_path / "w2" / "_quarantine" / "a") == ["part-00000.jsonl"]


class Flag(MapStage):
    """Adds a boolean column (only on one branch of a union, in the test below)."""

    adds = {"flag": pa.bool_()}

    def process(self, batch, ctx):
        return batch.append_column("flag", pa.array([True] * batch.num_rows))


def test_union_reads_only_the_shared_columns(tmp_path):
    inputs = make_inputs(tmp_path / "in", shards=2, docs=40)
    p = Pipeline("u", str(tmp_path / "w"))
    a = p.source(read(os.path.join(inputs, "in-*.jsonl.zst"), source="a")) >> Flag()
    b = p.source(read(os.path.join(inputs, "other.jsonl"), source="b"))
    p.sink(p.union(a, b) >> ExactDedup(partitions=2), str(tmp_path / "o"))
    result = p.run(progress=False)
    schemas = {pa.parquet.read_schema(f).names.__repr__() for f in result.outputs["sink"]}
    assert len(schemas) == 1 and "flag" not in next(iter(schemas))
