"""The work-dir layout: its paths (local and s3://), the records round-trip, and what a run
records of each step (stage class, version, phases) for the reports to read."""

from __future__ import annotations

import json

import pytest
from corpora import write_jsonl

from curation import Pipeline, read
from curation.core.errors import CurationError
from curation.core.status import format_status
from curation.core.workdir import LAYOUT, WorkDir, read_record
from curation.dedup import ExactDedup, MinHashDedup
from curation.dedup.report import dedup_report
from curation.filters import DocumentLength


class MyDedup(ExactDedup):
    """A subclass: reports recognise it by its recorded base classes."""


@pytest.mark.parametrize("root", ["/data/w", "s3://bucket/w"])
def test_every_path_of_the_layout(root):
    wd = WorkDir(root)
    assert wd.run_path == f"{root}/_run.json"
    assert wd.stats_path == f"{root}/stats.json"
    assert wd.stage_stats_path("dedup") == f"{root}/_stats/dedup.json"
    assert wd.dataset_dir("dedup") == f"{root}/dedup"
    assert wd.records_dir("dedup") == f"{root}/_tasks/dedup"
    assert wd.record_path("dedup", "scan", 3) == f"{root}/_tasks/dedup/scan-00003.json"
    assert wd.scratch_dir("dedup") == f"{root}/_global/dedup"
    assert wd.scratch_dir("dedup", "reduce") == f"{root}/_global/dedup/reduce"
    assert wd.quarantine_path("src", 2) == f"{root}/_quarantine/src/part-00002.jsonl"
    assert wd.rejects_dir("length") == f"{root}/_rejects/length"
    assert wd.side_dir("decon") == f"{root}/_side/decon"
    assert wd.side_dir("decon", "matches") == f"{root}/_side/decon/matches"
    assert wd.report_path("decon_report.jsonl") == f"{root}/decon_report.jsonl"


def test_records_round_trip_and_stale_ones_do_not_count(tmp_path):
    wd = WorkDir(str(tmp_path / "w"))
    with pytest.raises(CurationError, match="no run has started"):
        wd.read_run()
    with pytest.raises(CurationError, match="no stats.json"):
        wd.read_stats()
    assert not wd.started() and wd.task_indices("s", "scan") == []
    wd.write_run({"pipeline": "p", "state": "running", "layout": LAYOUT, "steps": {
        "s": {"kind": "global", "nodes": ["s"], "stages": {}, "planned_phases": ["scan"],
              "phases": {"scan": 2}}}})
    # index 2: a record that an earlier run with more shards left behind
    records = [{"step": "s", "phase": "scan", "index": i, "outputs": []} for i in range(3)]
    (tmp_path / "w" / "_tasks" / "s").mkdir(parents=True)
    for r in records:
        with open(wd.record_path("s", "scan", r["index"]), "w") as f:
            json.dump(r, f)
    (tmp_path / "w" / "_tasks" / "s" / "apply-00000.json").write_text("{}")
    (tmp_path / "w" / "_tasks" / "s" / ".tmp-scan-00004.json").write_text("{")
    assert wd.started() and wd.task_indices("s", "scan") == [0, 1, 2]
    assert wd.records("s", "scan") == records[:2]
    assert wd.records("s", "apply") == []  # not started in the last run
    assert read_record(wd.record_path("s", "scan", 9)) is None
    (tmp_path / "w" / "_tasks" / "s" / "scan-00001.json").write_text('{"torn')
    assert read_record(wd.record_path("s", "scan", 1)) is None
    with pytest.raises(CurationError, match="scan-00001.json: unreadable"):
        wd.records("s", "scan")


@pytest.fixture
def run_dir(tmp_path) -> WorkDir:
    (tmp_path / "in").mkdir()
    rows = [{"id": f"d{i:02d}", "text": f"text number {i % 7} with a few more words in it"}
            for i in range(30)]
    write_jsonl(tmp_path / "in" / "a.jsonl", rows)
    p = Pipeline("r", str(tmp_path / "w"))
    docs = p.source(read(str(tmp_path / "in"), source="web"))
    p.sink(docs >> DocumentLength(min_chars=5) >> MyDedup(partitions=2)
           >> MinHashDedup(partitions=2), str(tmp_path / "o"))
    p.run(progress=False)
    return WorkDir(str(tmp_path / "w"))


def test_the_run_records_each_steps_stage_class_version_and_phases(run_dir):
    run = run_dir.read_run()
    assert run["layout"] == LAYOUT and run["state"] == "finished"
    steps = run_dir.steps()
    assert list(steps) == ["document_length", "my_dedup", "min_hash_dedup"]
    segment = steps["document_length"]
    assert segment["nodes"] == ["web", "document_length"]
    assert segment["stages"] == {"document_length": {
        "class": "curation.filters.length.DocumentLength", "version": DocumentLength.version,
        "bases": ["curation.core.stage.Filter", "curation.core.stage.MapStage",
                  "curation.core.stage.Stage"]}}
    assert segment["planned_phases"] == ["map"] and segment["phases"] == {"map": 1}
    mine = steps["my_dedup"]["stages"]["my_dedup"]
    assert mine["class"] == f"{__name__}.MyDedup"
    assert mine["bases"][0] == "curation.dedup.exact.ExactDedup"
    assert steps["my_dedup"]["planned_phases"] == ["scan", "reduce", "apply"]
    assert steps["min_hash_dedup"]["planned_phases"] == ["scan", "reduce", "merge", "apply"]
    assert steps["min_hash_dedup"]["phases"] == {"scan": 1, "reduce": 2, "merge": 1, "apply": 1}
    assert run_dir.stages_of(ExactDedup) == [("my_dedup", "my_dedup")]
    assert run_dir.stages_of(DocumentLength) == [("document_length", "document_length")]
    # the records are the ones the tasks wrote, in index order
    scan = run_dir.records("my_dedup", "scan")
    assert [r["index"] for r in scan] == [0] and scan[0]["phase"] == "scan"
    assert [r["index"] for r in run_dir.records("my_dedup", "reduce")] == [0, 1]
    assert run_dir.read_stats()["stages"]["my_dedup"]["docs_out"] == 7
    # the dedup report takes the kind from the recorded class, a subclass included
    assert [(s["step"], s["kind"]) for s in dedup_report(run_dir.root)["steps"]] == [
        ("my_dedup", "exact"), ("min_hash_dedup", "minhash")]


def test_a_run_file_of_the_older_layout_asks_for_a_rerun(run_dir):
    run = run_dir.read_run()
    del run["layout"]
    for step in run["steps"].values():
        del step["stages"], step["planned_phases"]
    run_dir.write_run(run)
    assert "my_dedup                     scan 1/1  reduce 2/2  apply 1/1" in format_status(
        run_dir.root)  # status needs no stage
    with pytest.raises(CurationError, match="run the pipeline again with this work dir"):
        run_dir.steps()
    with pytest.raises(CurationError, match="layout 1, need 2"):
        dedup_report(run_dir.root)


def test_status_shows_the_phases_not_started_yet(run_dir):
    run = run_dir.read_run()
    run["state"] = "failed"
    del run["steps"]["min_hash_dedup"]["phases"]["merge"]
    del run["steps"]["min_hash_dedup"]["phases"]["apply"]
    run_dir.write_run(run)
    assert "min_hash_dedup               scan 1/1  reduce 2/2  merge -  apply -" in format_status(
        run_dir.root)


def test_status_shows_a_union_as_a_step_without_tasks(tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(f'{{"id": "{i}", "text": "document {i} with some words"}}\n'
                            for i in range(5)))
    p = Pipeline("u", str(tmp_path / "w"))
    both = p.union(p.source(read(str(docs), source="a"), name="a"),
                   p.source(read(str(docs), source="b"), name="b"))
    p.sink(both >> ExactDedup(partitions=1), str(tmp_path / "o"))
    p.run(progress=False)
    status = format_status(str(tmp_path / "w"))
    assert "union                        union (no tasks)" in status
    assert "not started" not in status
