"""datatrove interop: WARC -> Trafilatura -> Gopher inside our DAG, the same decisions as
datatrove itself, byte-identical local and Ray runs, and fingerprints that follow parameters."""

from __future__ import annotations

import os
import pickle
from collections import Counter

import cloudpickle
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from corpora import PROSE, make_warcs
from datatrove.data import Document
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.filters import GopherQualityFilter
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.readers import JsonlReader, WarcReader

from curation import Pipeline
from curation.core.errors import InputError, TaskFailed
from curation.core.quarantine import Quarantine
from curation.core.schema import conform
from curation.core.stage import BatchContext
from curation.core.stats import StageStats
from curation.interop import DatatroveReader, DatatroveStep


def build(inputs: str, work: str, out: str, min_doc_words: int = 50) -> Pipeline:
    p = Pipeline("dt", work, seed=3)
    docs = p.source(DatatroveReader(WarcReader(inputs, glob_pattern="*.warc.gz"), source="cc"))
    extracted = docs >> DatatroveStep(Trafilatura(timeout=30))
    p.sink(extracted >> DatatroveStep(GopherQualityFilter(min_doc_words=min_doc_words)), out)
    return p


def read_out(result) -> pa.Table:
    return pa.concat_tables(pq.read_table(f) for f in result.outputs["sink"])


def output_bytes(out: str) -> dict[str, bytes]:
    return {n: open(os.path.join(out, n), "rb").read() for n in sorted(os.listdir(out))}


def test_warc_trafilatura_gopher_end_to_end(tmp_path):
    inputs = make_warcs(tmp_path / "in")
    p = build(inputs, str(tmp_path / "w"), str(tmp_path / "o"))
    assert "read '" + inputs in p.describe()
    result = p.run("local", progress=False)
    table = read_out(result)
    assert table.column_names == ["id", "text", "source", "url", "created"]
    urls = table.column("url").to_pylist()
    assert sorted(urls) == [
        "https://example.com/0",
        "https://example.com/1",
        "https://example.com/2",
    ]
    texts = dict(zip(urls, table.column("text").to_pylist(), strict=True))
    for i, (_, paragraphs) in enumerate(PROSE):
        text = texts[f"https://example.com/{i}"]
        assert paragraphs[1] in text
        assert "<p>" not in text and "<article>" not in text and "href" not in text
    assert set(table.column("source").to_pylist()) == {"cc"}
    assert all(i.startswith("<urn:uuid:") for i in table.column("id").to_pylist())
    created = table.column("created").to_pylist()
    assert {c.isoformat() for c in created} >= {"2024-03-01T12:00:00+00:00"}
    # the navigation page is dropped, and counted under a reason by the stage that dropped it
    assert result.stats["cc"].docs_out == 4
    drops = Counter()
    for name in ("trafilatura", "gopher_quality"):
        drops.update(result.stats[name].dropped)
    assert sum(drops.values()) == 1, drops
    assert set(drops) <= {"trafilatura_dropped", "gopher_short_doc"}
    assert result.stats["gopher_quality"].docs_out == 3


def sample_docs() -> list[dict]:
    prose = [" ".join(ps) for _, ps in PROSE]
    return [
        {"id": "prose-0", "text": prose[0]},
        {"id": "short", "text": "Too short to be a document, really."},
        {"id": "prose-1", "text": prose[1]},
        {"id": "symbols", "text": " ".join(["# # # the of and"] * 30)},
        {"id": "bullets", "text": "\n".join(f"- item number {i} of the list" for i in range(60))},
        {"id": "no-stop", "text": " ".join(["banana kiwi mango papaya"] * 20)},
        {"id": "prose-2", "text": prose[2]},
        {"id": "long-words", "text": " ".join(["extraordinarilyunbelievable"] * 80) + " the of"},
    ]


def batch_of(records: list[dict]) -> pa.Table:
    return conform(pa.Table.from_pylist([{**r, "source": "t"} for r in records]))


def test_filter_decisions_match_datatrove():
    records = sample_docs()
    step = DatatroveStep(GopherQualityFilter(), keep_rejects=True)
    stats = StageStats()
    ctx = BatchContext(seed=0, shard=0, stats=stats, keep_rejects=True)
    out = step.process(batch_of(records), ctx)

    direct = GopherQualityFilter()
    docs = [Document(text=r["text"], id=r["id"]) for r in records]
    expected_kept = [d.id for d in direct.run(iter(docs))]
    expected_reasons = Counter()
    for d in docs:
        result = direct.filter(d)
        if result is not True:
            expected_reasons[result[1] if isinstance(result, tuple) else "gopher_quality"] += 1

    assert out.column("id").to_pylist() == expected_kept
    assert 0 < len(expected_kept) < len(records)
    assert stats.dropped == expected_reasons
    assert out.column_names == ["id", "text", "source", "url", "created"]
    rejected = pa.concat_tables(ctx.rejects)
    assert sorted(rejected.column("id").to_pylist()) == sorted(
        r["id"] for r in records if r["id"] not in expected_kept
    )


class BatchedOnlyFilter(BaseFilter):
    """Decides in ``filter_batch`` only (as a batched model would): a call of ``filter`` fails
    the test."""

    name = "Batched Only"

    def filter(self, doc):
        raise AssertionError("filter() was called; datatrove only calls filter_batch()")

    def filter_batch(self, batch):
        return [True if " the " in d.text else (False, "no_the") for d in batch]


@pytest.mark.parametrize("batch_size", [1, 3])
def test_filter_decisions_come_from_filter_batch_as_in_datatrove(batch_size):
    """datatrove's ``BaseFilter.run`` asks ``filter_batch`` whatever the batch size; so do we."""
    records = sample_docs()
    stats = StageStats()
    step = DatatroveStep(BatchedOnlyFilter(batch_size=batch_size))
    out = step.process(batch_of(records), BatchContext(seed=0, shard=0, stats=stats))
    docs = [Document(text=r["text"], id=r["id"]) for r in records]
    expected = [d.id for d in BatchedOnlyFilter(batch_size=batch_size).run(iter(docs))]
    assert out.column("id").to_pylist() == expected
    assert stats.dropped == {"no_the": len(records) - len(expected)}


class LengthTagger(PipelineStep):
    """A non-filter step: tags metadata, rewrites text and drops documents without 'the'."""

    name = "Length Tagger"

    def __init__(self, suffix: str = "!"):
        super().__init__()
        self.suffix = suffix

    def run(self, data, rank: int = 0, world_size: int = 1):
        for doc in data:
            if " the " not in doc.text:
                continue
            doc.metadata["n_chars"] = len(doc.text)
            doc.metadata["seen_url"] = doc.metadata["url"]
            doc.text += self.suffix
            yield doc


def test_generic_step_keeps_columns_adds_metadata_and_counts_drops():
    records = sample_docs()
    batch = batch_of([{**r, "url": f"u/{r['id']}"} for r in records]).append_column(
        "lang", pa.array(["en"] * len(records))
    )
    step = DatatroveStep(LengthTagger(), adds={"n_chars": pa.int64(), "seen_url": pa.string()})
    assert step.default_name() == "length_tagger"
    stats = StageStats()
    out = step.process(batch, BatchContext(seed=0, shard=0, stats=stats))
    kept = [r for r in records if " the " in r["text"]]
    assert out.column_names == ["id", "text", "source", "url", "created", "lang"] + [
        "n_chars",
        "seen_url",
    ]
    assert out.column("id").to_pylist() == [r["id"] for r in kept]
    assert out.column("text").to_pylist() == [r["text"] + "!" for r in kept]
    assert out.column("n_chars").to_pylist() == [len(r["text"]) for r in kept]
    assert out.column("seen_url").to_pylist() == [f"u/{r['id']}" for r in kept]
    assert out.schema.field("text").type == pa.large_string()
    assert stats.dropped == {"length_tagger_dropped": len(records) - len(kept)}


def test_exclusion_writer_is_refused_and_non_steps_rejected(tmp_path):
    from datatrove.pipeline.writers import JsonlWriter

    with pytest.raises(ValueError, match="keep_rejects"):
        DatatroveStep(GopherQualityFilter(exclusion_writer=JsonlWriter(str(tmp_path / "x"))))
    with pytest.raises(TypeError):
        DatatroveStep(lambda doc: True)
    with pytest.raises(TypeError):
        DatatroveReader(GopherQualityFilter())


def test_stages_and_readers_pickle(tmp_path):
    inputs = make_warcs(tmp_path / "in")
    for obj in (
        DatatroveStep(GopherQualityFilter()),
        DatatroveStep(Trafilatura()),
        DatatroveReader(WarcReader(inputs), source="cc"),
    ):
        clone = pickle.loads(cloudpickle.dumps(obj))
        assert clone.config() == obj.config()


@pytest.mark.ray
def test_local_and_ray_outputs_are_byte_identical(tmp_path, ray_cluster):
    inputs = make_warcs(tmp_path / "in")
    local = build(inputs, str(tmp_path / "w1"), str(tmp_path / "o1")).run("local", progress=False)
    remote = build(inputs, str(tmp_path / "w2"), str(tmp_path / "o2")).run("ray", progress=False)
    first = output_bytes(str(tmp_path / "o1"))
    assert first and first == output_bytes(str(tmp_path / "o2"))
    for name in ("cc", "trafilatura", "gopher_quality"):
        assert local.stats[name].to_dict() | {"seconds": 0} == remote.stats[name].to_dict() | {
            "seconds": 0
        }


def test_changed_parameter_changes_fingerprint_and_resume_redoes(tmp_path):
    a = DatatroveStep(GopherQualityFilter(min_doc_words=50)).identity()
    assert a == DatatroveStep(GopherQualityFilter(min_doc_words=50)).identity()
    assert a != DatatroveStep(GopherQualityFilter(min_doc_words=40)).identity()
    assert a != DatatroveStep(GopherQualityFilter(stop_words=["the", "a"])).identity()
    assert a["config"]["params"]["min_doc_words"] == "50"
    assert "stats" not in a["config"]["params"]
    t = DatatroveStep(Trafilatura(favour_precision=True)).identity()
    assert t != DatatroveStep(Trafilatura(favour_precision=False)).identity()

    inputs = make_warcs(tmp_path / "in")
    work, out = str(tmp_path / "w"), str(tmp_path / "o")
    first = build(inputs, work, out).run("local", progress=False)
    again = build(inputs, work, out).run("local", progress=False)
    assert first.ran > 0 and again.ran == 0
    changed = build(inputs, work, out, min_doc_words=500).run("local", progress=False)
    assert changed.ran > 0
    assert changed.stats["gopher_quality"].docs_out == 0


def test_reader_quarantines_a_file_it_cannot_parse(tmp_path):
    inputs = make_warcs(tmp_path / "in")
    with open(os.path.join(inputs, "c.warc.gz"), "wb") as f:
        f.write(b"this is not a WARC file at all\n" * 10)
    reader = DatatroveReader(WarcReader(inputs), source="cc", on_error="quarantine")
    assert [os.path.basename(f) for f in reader.files()] == ["a.warc.gz", "b.warc.gz", "c.warc.gz"]
    bad = reader.files()[2]
    q = Quarantine("quarantine", str(tmp_path / "q.jsonl"))
    assert list(reader.read(bad, q, Counter())) == []
    assert q.counts == {"unreadable": 1}
    q.commit()
    with pytest.raises(InputError, match="c.warc.gz"):
        list(
            DatatroveReader(WarcReader(inputs), source="cc").read(
                bad, Quarantine("raise", None), Counter()
            )
        )

    p = Pipeline("dt", str(tmp_path / "w"))
    p.sink(p.source(DatatroveReader(WarcReader(inputs), source="cc")), str(tmp_path / "o"))
    with pytest.raises(TaskFailed, match=r"c\.warc\.gz"):
        p.run(progress=False)


def test_jsonl_reader_columns_and_batches(tmp_path):
    from corpora import write_jsonl

    os.makedirs(tmp_path / "in")
    rows = [
        {"id": f"d{i}", "text": f"document {i}", "url": f"https://x/{i}", "lang": "en", "n": i}
        for i in range(10)
    ]
    write_jsonl(tmp_path / "in" / "a.jsonl", rows + [{"id": "blank", "text": "   "}])
    reader = DatatroveReader(
        JsonlReader(str(tmp_path / "in")), source="j", columns={"n": pa.int32()}, batch_rows=4
    )
    drops: Counter = Counter()
    (path,) = reader.files()
    batches = list(reader.read(path, Quarantine("raise", None), drops))
    assert [b.num_rows for b in batches] == [4, 4, 2]
    table = pa.concat_tables(batches)
    assert table.column_names == ["id", "text", "source", "url", "created", "n"]
    assert table.schema.field("n").type == pa.int32()
    assert table.column("id").to_pylist() == [r["id"] for r in rows]
    assert table.column("url").to_pylist() == [r["url"] for r in rows]
    assert drops == {"empty_text": 1}


def test_a_single_warc_file_reads_like_its_directory(tmp_path):
    """A reader given one file, not a folder, reads that file (it was quarantined whole, its
    path doubled)."""
    from curation.core.quarantine import Quarantine

    root = make_warcs(tmp_path / "in")
    one = DatatroveReader(WarcReader(os.path.join(root, "a.warc.gz")), source="cc")
    folder = DatatroveReader(WarcReader(root, glob_pattern="a.warc.gz"), source="cc")
    (path,) = one.files()
    assert path == os.path.join(root, "a.warc.gz") and folder.files() == [path]
    read = [pa.concat_tables(r.read(path, Quarantine("raise", None), Counter()))
            for r in (one, folder)]
    assert read[0].num_rows == 3 and read[0].equals(read[1])
