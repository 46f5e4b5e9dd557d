"""A compiled Plan is a complete description of a run: the runner needs nothing else, the run
file records it, and running the plan or the pipeline writes the same bytes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import curation
from curation import Pipeline, compile_plan, read
from curation.core.errors import CurationError
from curation.core.workdir import WorkDir
from curation.dedup import ExactDedup
from curation.filters import DocumentLength


def _pipeline(root, tmp_path) -> Pipeline:
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": str(i), "text": f"document {i % 7} " * 20}) + "\n"
                            for i in range(50)))
    p = Pipeline("plan-test", str(root / "work"), seed=7)
    a = p.source(read(str(docs), source="a"), name="a")
    b = p.source(read(str(docs), source="b"), name="b")
    p.sink(p.union(a >> DocumentLength(min_chars=10), b) >> ExactDedup(), str(root / "out"))
    return p


def _bytes(files: list[str]) -> list[tuple[str, bytes]]:
    return [(os.path.basename(f), Path(f).read_bytes()) for f in sorted(files)]


def test_plan_holds_the_run_and_runs_alone(tmp_path):
    p = _pipeline(tmp_path / "by-pipeline", tmp_path)
    expected = p.run(progress=False)
    plan = compile_plan(_pipeline(tmp_path / "by-plan", tmp_path))
    assert (plan.name, plan.seed, plan.workdir) == ("plan-test", 7,
                                                    str(tmp_path / "by-plan" / "work"))
    union = next(s for s in plan.steps if s.kind == "union")
    assert union.columns == tuple(plan.columns[union.name])
    assert sorted(plan.stat_nodes) == ["a", "b", "document_length", "exact_dedup"]
    got = curation.run(plan, progress=False)  # no Pipeline involved from here on
    assert _bytes(got.outputs["sink"]) == _bytes(expected.outputs["sink"])
    assert got.stats["exact_dedup"].docs_out == expected.stats["exact_dedup"].docs_out == 7
    recorded = WorkDir(plan.workdir).read_run()
    assert recorded["seed"] == 7 and recorded["pipeline"] == "plan-test"
    assert recorded["steps"]["exact_dedup"]["columns"] == plan.columns["exact_dedup"]
    assert recorded["steps"]["exact_dedup"]["stages"]["exact_dedup"]["class"] == \
        "curation.dedup.exact.ExactDedup"


def test_a_plan_keeps_its_workdir(tmp_path):
    plan = _pipeline(tmp_path, tmp_path).plan(workdir=str(tmp_path / "elsewhere"))
    assert plan.workdir == str(tmp_path / "elsewhere")
    assert all(os.path.dirname(s.output) == plan.workdir for s in plan.steps
               if s.kind != "union" and not s.is_sink)
    with pytest.raises(CurationError, match="pass the work dir to compile_plan"):
        curation.run(plan, workdir=str(tmp_path / "other"))
