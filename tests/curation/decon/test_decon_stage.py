"""The Decontaminate stage: columns, purify modes, side output, a pipeline run with the local
executor, the JSONL report."""

from __future__ import annotations

import json
import os
import pickle

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from decon_texts import ANSWER, ITEM, QUESTION, filler

from curation.core.errors import CurationError
from curation.core.pipeline import Pipeline
from curation.core.readers import read
from curation.core.stage import BatchContext
from curation.core.stats import StageStats
from curation.decon import Decontaminate, EvalItem, build_set
from curation.decon.report import main as report_main
from curation.decon.stage import MATCH_SCHEMA, cut_spans

COPY = QUESTION + " " + ANSWER


def _evals():
    return [build_set("farm_qa", [ITEM]),
            build_set("farm_8", [EvalItem("farm8", QUESTION, ANSWER)], mode="ngram8")]


def _batch() -> pa.Table:
    texts = [filler(1, 200), f"{filler(2, 50)}\n\n{COPY}\n\n{filler(3, 50)}", filler(4, 80)]
    return pa.table({"id": ["clean-1", "dirty", "clean-2"],
                     "text": pa.array(texts, pa.large_string())})


def _run(stage: Decontaminate, batch: pa.Table) -> tuple[pa.Table, BatchContext]:
    stage = pickle.loads(pickle.dumps(stage))  # as a worker gets it
    stage.setup()
    ctx = BatchContext(seed=0, shard=3, stats=StageStats(), keep_rejects=True)
    return stage.process(batch, ctx), ctx


def test_tag_mode_adds_columns_and_emits_matches(tmp_path):
    out, ctx = _run(Decontaminate(_evals(), cache_dir=str(tmp_path)), _batch())
    assert out.column("text").to_pylist() == _batch().column("text").to_pylist()
    assert out.column("decon_score").to_pylist() == [0.0, pytest.approx(1.0), 0.0]
    assert out.column("decon_eval").to_pylist() == [None, "farm_qa", None]
    matches = pa.concat_tables(ctx.side["matches"])
    assert matches.schema == MATCH_SCHEMA
    rows = sorted(matches.to_pylist(), key=lambda r: r["eval"])
    assert [(r["id"], r["shard"], r["eval"], r["item"]) for r in rows] == [
        ("dirty", 3, "farm_8", "farm8"), ("dirty", 3, "farm_qa", "farm")]
    assert rows[1]["text"] == COPY[:-1]  # up to the answer's last word
    assert not ctx.stats.dropped


def test_drop_mode_counts_contaminated(tmp_path):
    out, ctx = _run(Decontaminate(_evals(), purify="drop", cache_dir=str(tmp_path)), _batch())
    assert out.column("id").to_pylist() == ["clean-1", "clean-2"]
    assert ctx.stats.dropped == {"contaminated": 1}
    assert ctx.rejects[0].column("id").to_pylist() == ["dirty"]


def test_spans_mode_cuts_only_the_matched_text(tmp_path):
    out, _ = _run(Decontaminate(_evals(), purify="spans", cache_dir=str(tmp_path)), _batch())
    texts = out.column("text").to_pylist()
    assert texts[0] == _batch().column("text")[0].as_py()
    assert texts[1] == f"{filler(2, 50)}\n\n.\n\n{filler(3, 50)}"
    assert cut_spans("abcdefgh", [(5, 7), (1, 3), (2, 4)]) == "aeh"


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="purify"):
        Decontaminate(_evals(), purify="erase", cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="unique"):
        Decontaminate(_evals()[:1] * 2, cache_dir=str(tmp_path))
    with pytest.raises(CurationError, match="Decontaminate\\(mode='simple'\\) contradicts eval "
                                          "set 'farm_8', built in mode 'ngram8'"):
        Decontaminate(_evals(), mode="simple", cache_dir=str(tmp_path))
    agreeing = Decontaminate(_evals()[1:], mode="ngram8", cache_dir=str(tmp_path))
    assert [e["mode"] for e in agreeing.evals] == ["ngram8"]


def test_config_follows_eval_contents(tmp_path):
    a = Decontaminate(_evals(), cache_dir=str(tmp_path)).config()
    b = Decontaminate(_evals(), cache_dir=str(tmp_path / "elsewhere")).config()
    other = [build_set("farm_qa", [EvalItem("farm", QUESTION.replace("nine", "ten"), ANSWER)])]
    c = Decontaminate(other, cache_dir=str(tmp_path)).config()
    assert a == b and a != c


def test_pipeline_writes_matches_and_report(synthetic, tmp_path):
    work = str(tmp_path / "work")
    stage = Decontaminate([synthetic["evals"]], purify="drop", cache_dir=str(tmp_path / "c"))
    p = Pipeline("decon", workdir=work)
    docs = p.source(read(os.path.join(synthetic["root"], "docs", "*.jsonl.zst"), source="s"))
    p.sink(docs >> stage, str(tmp_path / "out"))
    result = p.run("local", progress=False)
    dropped = result.stats["decontaminate"].dropped["contaminated"]
    side = os.path.join(work, "_side", "decontaminate", "matches")
    matches = pa.concat_tables(pq.read_table(os.path.join(side, f))
                               for f in sorted(os.listdir(side)))
    assert dropped == len(set(matches.column("id").to_pylist())) > 50
    planted = {t["id"]: t["bench_item"] for t in synthetic["truth"] if t["kind"] == "bench_copy"}
    assert all(planted.get(r["id"]) == r["item"] for r in matches.to_pylist())
    out_rows = sum(pq.read_metadata(os.path.join(tmp_path, "out", f)).num_rows
                   for f in os.listdir(tmp_path / "out") if f.endswith(".parquet"))
    assert out_rows == len(synthetic["docs"]) - dropped
    assert report_main([work, "--out", str(tmp_path / "report.jsonl")]) == 0
    lines = [json.loads(x) for x in (tmp_path / "report.jsonl").read_text().splitlines()]
    assert len(lines) == matches.num_rows
    assert {x["node"] for x in lines} == {"decontaminate"}


def test_eval_files_globs_and_modes(tmp_path):
    rows = [{"id": "farm", "question": QUESTION, "answer": ANSWER}]
    for name in ("a", "b"):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    stage = Decontaminate(str(tmp_path / "*.jsonl"), cache_dir=str(tmp_path / "c"))
    assert [(e.name, e.mode) for e in stage.eval_sets()] == [("a", "simple"), ("b", "simple")]
    stage = Decontaminate([(str(tmp_path / "a.jsonl"), "ngram8"), str(tmp_path / "b.jsonl")],
                          cache_dir=str(tmp_path / "c"))
    assert [(e.name, e.mode) for e in stage.eval_sets()] == [("a", "ngram8"), ("b", "simple")]
    # files are read when a run starts (artifacts, identity), never by the constructor
    missing = Decontaminate(str(tmp_path / "*.parquet"), cache_dir=str(tmp_path / "c"))
    with pytest.raises(ValueError, match="no eval files"):
        missing.identity()
    late = Decontaminate(str(tmp_path / "later.jsonl"), cache_dir=str(tmp_path / "c2"))
    assert not (tmp_path / "c2").exists()
    (tmp_path / "later.jsonl").write_text(json.dumps(rows[0]) + "\n")
    assert [e.name for e in late.eval_sets()] == ["later"] and late.identity()["artifacts"]


def _matches_and_output(root, work: str, out: str, cache: str, executor: str) -> tuple:
    p = Pipeline("decon", workdir=work)
    docs = p.source(read(os.path.join(root, "docs", "*.jsonl.zst"), source="s"))
    p.sink(docs >> Decontaminate(os.path.join(root, "evals", "*.jsonl"), purify="spans",
                                 cache_dir=cache), out)
    p.run(executor, progress=False)
    side = os.path.join(work, "_side", "decontaminate", "matches")
    tables = [pq.read_table(os.path.join(side, f)) for f in sorted(os.listdir(side))]
    outputs = [pq.read_table(os.path.join(out, f)) for f in sorted(os.listdir(out))
               if f.endswith(".parquet")]
    return pa.concat_tables(tables).to_pylist(), pa.concat_tables(outputs).to_pylist()


@pytest.mark.ray
def test_ray_workers_map_the_driver_built_index(synthetic, tmp_path, ray_cluster):
    cache = str(tmp_path / "cache")
    local = _matches_and_output(synthetic["root"], str(tmp_path / "w1"), str(tmp_path / "o1"),
                                cache, "local")
    remote = _matches_and_output(synthetic["root"], str(tmp_path / "w2"), str(tmp_path / "o2"),
                                 cache, "ray")
    assert local[0] and local == remote
    assert len(os.listdir(cache)) == 1  # built once, on the driver


def test_config_follows_preset_and_tokenizer(tmp_path, tokenizer_path):
    default = Decontaminate(_evals(), cache_dir=str(tmp_path))
    olmo3 = Decontaminate(_evals(), preset="olmo3", cache_dir=str(tmp_path))
    tokens = Decontaminate(_evals(), tokenizer=tokenizer_path, cache_dir=str(tmp_path))
    configs = [s.config() for s in (default, olmo3, tokens)]
    assert configs[0] != configs[1] and configs[0] != configs[2]
    assert olmo3.params["threshold"] == 0.88 and olmo3.preset == "olmo3"
    # the simple set's index changes with the preset (answer and passage n-grams) and the
    # tokenizer; the ngram8 set's only with the tokenizer
    assert default.index_dirs()[0] != olmo3.index_dirs()[0]
    assert default.index_dirs()[1] == olmo3.index_dirs()[1]
    assert all(a != b for a, b in zip(default.index_dirs(), tokens.index_dirs(), strict=True))
    assert Decontaminate(_evals(), preset="olmo3", threshold=0.9, answer_n=3,
                         cache_dir=str(tmp_path)).params["threshold"] == 0.9
    with pytest.raises(ValueError, match="preset"):
        Decontaminate(_evals(), preset="olmo2", cache_dir=str(tmp_path))


def test_olmo3_preset_finds_the_copy(tmp_path):
    out, ctx = _run(Decontaminate(_evals()[:1], preset="olmo3", cache_dir=str(tmp_path)),
                    _batch())
    assert out.column("decon_score").to_pylist() == [0.0, pytest.approx(1.0), 0.0]
