"""Resume: completed tasks are skipped, changed configs redo what follows, and a driver killed
with SIGKILL mid-stage, then rerun, yields exactly the output of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pyarrow as pa
import pyarrow.compute  # noqa: F401 (pa.compute below)
import pyarrow.parquet as pq
from corpora import corpus, write_jsonl
from test_executors import build, make_inputs, output_bytes

from curation import MapStage, Pipeline, read

PIPELINE = textwrap.dedent('''
    import os, time
    from curation import MapStage, Pipeline, read
    from curation.dedup import ExactDedup
    from curation.filters import DocumentLength

    class Slow(MapStage):
        """Sleeps per batch so that a kill lands mid-stage."""
        def process(self, batch, ctx):
            time.sleep(float(os.environ.get("SLOW_SECONDS", "0")))
            return batch

    root = os.environ["ROOT"]
    pipeline = Pipeline("kill", workdir=os.path.join(root, os.environ["WORK"]))
    docs = pipeline.source(read(os.path.join(root, "in", "*.jsonl"), source="a", batch_rows=25))
    out = docs >> Slow() >> DocumentLength(min_chars=10) >> ExactDedup(partitions=2)
    pipeline.sink(out, os.path.join(root, os.environ["OUT"]))
''')


def run_cli(root, work, out, slow="0"):
    env = dict(os.environ, ROOT=str(root), WORK=work, OUT=out, SLOW_SECONDS=slow)
    return subprocess.Popen(
        [sys.executable, "-m", "curation.cli", "run", str(root / "p.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_sigkill_mid_stage_then_rerun_gives_identical_output(tmp_path):
    os.makedirs(tmp_path / "in")
    docs = corpus(600)
    for k in range(8):
        write_jsonl(tmp_path / "in" / f"s{k}.jsonl", docs[k::8])
    (tmp_path / "p.py").write_text(PIPELINE)
    assert run_cli(tmp_path, "clean-w", "clean-o").wait(timeout=120) == 0

    proc = run_cli(tmp_path, "w", "o", slow="0.1")
    records = tmp_path / "w" / "_tasks" / "document_length"

    def complete() -> int:  # finished records only: a kill can land mid-write (a .tmp- file)
        return len(list(records.glob("map-*.json"))) if records.exists() else 0

    deadline = time.time() + 60
    while time.time() < deadline and complete() < 3:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = complete()
    assert 3 <= done < 8, "the kill must land mid-stage"
    assert not (tmp_path / "o").exists()

    rerun = run_cli(tmp_path, "w", "o")
    stdout, stderr = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, stderr.decode()
    assert f"{done} already complete" in stdout.decode()
    assert output_bytes(str(tmp_path / "o")) == output_bytes(str(tmp_path / "clean-o"))
    ids = [
        i
        for f in sorted(os.listdir(tmp_path / "o"))
        if f.endswith(".parquet")
        for i in pq.read_table(tmp_path / "o" / f).column("id").to_pylist()
    ]
    assert len(ids) == len(set(ids)) == len({d["text"] for d in docs})


def test_rerun_skips_everything_and_config_change_redoes_downstream(tmp_path):
    inputs = make_inputs(tmp_path / "in")
    first = build(inputs, str(tmp_path / "w"), str(tmp_path / "o")).run(progress=False)
    before = output_bytes(str(tmp_path / "o"))
    again = build(inputs, str(tmp_path / "w"), str(tmp_path / "o")).run(progress=False)
    assert again.ran == 0 and again.skipped == first.ran
    assert output_bytes(str(tmp_path / "o")) == before
    assert again.stats["exact_dedup"].docs_out == first.stats["exact_dedup"].docs_out

    changed = build(inputs, str(tmp_path / "w"), str(tmp_path / "o"))
    changed.nodes["document_length"].stage.min_chars = 10_000  # drops every 'a' document
    result = changed.run(progress=False)
    # source 'b' (1 task) is untouched; the 4 'a' tasks and all of the dedup are redone, now
    # over one shard (b's): 1 scan, 3 reduce, 1 apply; the earlier run's extra outputs are gone
    assert result.skipped == 1 and result.ran == 4 + 1 + 3 + 1
    assert sorted(os.listdir(tmp_path / "o")) == ["manifest.json", "part-00000-000.parquet"]
    assert result.stats["document_length"].docs_out == 0
    assert result.stats["exact_dedup"].docs_in == 30


def test_changed_input_file_redoes_its_shard_only(tmp_path):
    inputs = make_inputs(tmp_path / "in")
    build(inputs, str(tmp_path / "w"), str(tmp_path / "o")).run(progress=False)
    write_jsonl(os.path.join(inputs, "in-3.jsonl.zst"), corpus(5, prefix="new"), "zstd")
    result = build(inputs, str(tmp_path / "w"), str(tmp_path / "o")).run(progress=False)
    assert result.stats["a"].docs_in == 90 + 5
    fresh = build(inputs, str(tmp_path / "w2"), str(tmp_path / "o2")).run(progress=False)
    assert output_bytes(str(tmp_path / "o")) == output_bytes(str(tmp_path / "o2"))
    assert fresh.ran > result.ran


def test_rerun_on_fewer_inputs_removes_the_extra_task_records(tmp_path):
    """A rerun with one input file fewer has fewer tasks: the first run's records of the higher
    indices are removed, so `curate status` counts this run's tasks only."""
    from curation.core.status import step_progress

    inputs = make_inputs(tmp_path / "in")
    build(inputs, str(tmp_path / "w"), str(tmp_path / "o")).run(progress=False)
    _, before = step_progress(str(tmp_path / "w"))
    os.remove(os.path.join(inputs, "in-3.jsonl.zst"))
    build(inputs, str(tmp_path / "w"), str(tmp_path / "o")).run(progress=False)
    _, after = step_progress(str(tmp_path / "w"))
    shrunk = [(step, phase) for step, phases in after.items()
              for phase, (done, total) in phases.items() if total < before[step][phase][1]]
    assert shrunk  # the map over the shards of source "a" has one task fewer
    for phases in after.values():
        for done, total in phases.values():
            assert done == total


class Reporter(MapStage):
    """Emits one side row per document whose text mentions a given word."""

    def __init__(self, word: str):
        self.word = word

    def process(self, batch, ctx):
        hits = batch.filter(pa.compute.match_substring(batch.column("text"), self.word))
        ctx.emit("hits", hits.select(["id"]))
        return batch


def test_side_outputs_are_written_per_task_and_cleaned_on_rerun(tmp_path):
    inputs = make_inputs(tmp_path / "in")

    def run(word):
        p = Pipeline("side", str(tmp_path / "w"))
        docs = p.source(read(os.path.join(inputs, "in-*.jsonl.zst"), source="a"))
        p.sink(docs >> Reporter(word), str(tmp_path / "o"))
        p.run(progress=False)
        side = tmp_path / "w" / "_side" / "reporter" / "hits"
        return sorted(os.listdir(side)) if side.exists() else [], side

    names, side = run("doc1")  # doc1, doc10..doc19, doc100..: in every input shard
    assert names == [f"part-{i:05d}-000.parquet" for i in range(4)]
    ids = pa.concat_tables(pq.read_table(side / n) for n in names).column("id").to_pylist()
    expected = [d["id"] for d in corpus(120) if "doc1" in d["text"]]
    assert sorted(ids) == sorted(expected)
    assert run("no-such-word")[0] == []  # an earlier run's side shards do not linger
