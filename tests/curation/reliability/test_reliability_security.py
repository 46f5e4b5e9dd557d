"""Security basics: names cannot make outputs escape the work dir, data is never evaluated or
unpickled, and an unsupported URL scheme fails clearly."""

from __future__ import annotations

import os
import pickle

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from corpora import write_jsonl

from curation import MapStage, Pipeline, read
from curation.core.errors import CurationError, InputError, PipelineValidationError, TaskFailed
from curation.dedup import ExactDedup
from curation.filters import DocumentLength


class Emit(MapStage):
    """Emits every batch to the side output named ``output``."""

    def __init__(self, output: str):
        self.output = output

    def process(self, batch: pa.Table, ctx) -> pa.Table:
        ctx.emit(self.output, batch.select(["id"]))
        return batch


@pytest.mark.parametrize("bad", ["..", "../up", "a/b", "/abs", ".hidden", "_tasks", "a\\b",
                                 "x" * 129, "sp ace", "nul\x00"])
def test_node_names_that_are_not_one_safe_path_component_are_rejected(tmp_path, bad):
    write_jsonl(tmp_path / "a.jsonl", [{"text": "hello"}])
    for where in ("source", "stage", "sink"):
        p = Pipeline("names", str(tmp_path / "w"))
        docs = p.source(read(str(tmp_path / "a.jsonl"), source="s"),
                        name=bad if where == "source" else None)
        if where == "stage":
            docs = p.add(DocumentLength(min_chars=1), inputs=[docs], name=bad)
        p.sink(docs, str(tmp_path / "o"), name=bad if where == "sink" else None)
        with pytest.raises(PipelineValidationError, match="is not a safe file name") as e:
            p.run(progress=False)
        assert repr(bad) in str(e.value)
    assert not (tmp_path / "w").exists() and not (tmp_path / "o").exists()


def test_source_name_is_the_default_node_name_and_is_checked(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"text": "hello"}])
    p = Pipeline("names", str(tmp_path / "w"))
    p.sink(p.source(read(str(tmp_path / "a.jsonl"), source="../../etc")), str(tmp_path / "o"))
    with pytest.raises(PipelineValidationError, match=r"'\.\./\.\./etc'.*name=\.\.\. to source"):
        p.validate()
    # the source column may hold anything: name the node instead
    p = Pipeline("names", str(tmp_path / "w"))
    p.sink(p.source(read(str(tmp_path / "a.jsonl"), source="../../etc"), name="etc"),
           str(tmp_path / "o"))
    p.run(progress=False)
    table = pq.read_table(tmp_path / "o" / "part-00000-000.parquet")
    assert table["source"].to_pylist() == ["../../etc"]
    assert sorted(os.listdir(tmp_path)) == ["a.jsonl", "o", "w"]


def test_side_output_names_are_checked(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"text": "hello"}])
    p = Pipeline("side", str(tmp_path / "w"))
    p.sink(p.source(read(str(tmp_path / "a.jsonl"), source="s")) >> Emit("../../escape"),
           str(tmp_path / "o"))
    with pytest.raises(TaskFailed, match="side output name '../../escape' is not a safe"):
        p.run(progress=False)
    assert sorted(os.listdir(tmp_path)) == ["a.jsonl", "w"]


class Boom:
    """Unpickling this creates the marker file: proof that data was unpickled."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_data_is_never_evaluated_or_unpickled(tmp_path):
    marker = tmp_path / "executed"
    expression = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    payload = pickle.dumps(Boom(str(marker)))
    texts = [expression, payload.decode("latin-1"), "{{7*7}} ${7*7} `touch x` $(touch x)"]
    (tmp_path / "in").mkdir()
    write_jsonl(tmp_path / "in" / "a.jsonl",
                [{"text": t, "id": expression, "created": "2024-01-01", "url": expression}
                 for t in texts])
    table = pa.table({"text": texts, "id": ["p0", "p1", "p2"],
                      "blob": [payload] * 3}).replace_schema_metadata(
        {b"pandas": payload, b"ARROW:extension:metadata": payload})
    pq.write_table(table, tmp_path / "in" / "b.parquet")
    p = Pipeline("inert", str(tmp_path / "w"))
    a = p.source(read(str(tmp_path / "in" / "a.jsonl"), source="a"))
    b = p.source(read(str(tmp_path / "in" / "b.parquet"), source="b",
                      columns={"blob": pa.binary()}))
    p.sink(p.union(a >> DocumentLength(min_chars=1), b) >> ExactDedup(), str(tmp_path / "o"))
    p.run(progress=False)
    assert not marker.exists()
    out = pa.concat_tables(pq.read_table(f) for f in sorted((tmp_path / "o").glob("*.parquet")))
    assert sorted(out["text"].to_pylist()) == sorted(texts)  # the first copy of each, verbatim


def test_unsupported_url_scheme_fails_naming_the_path(tmp_path):
    for url in ("ftp://x/y", "ftp://x/data/*.jsonl", "nosuch://bucket/key.jsonl"):
        p = Pipeline("ftp", str(tmp_path / "w"))
        p.sink(p.source(read(url, source="s")), str(tmp_path / "o"))
        with pytest.raises(CurationError, match="cannot open this path") as e:
            p.run(progress=False)
        assert isinstance(e.value, InputError) and str(e.value).startswith(f"{url}: ")
