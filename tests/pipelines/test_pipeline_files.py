"""The ready pipelines: every file plans, without side effects, with each documented kind of
input, and the mid-training mix runs end to end and lands on its token budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def curate(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``curate ARGS`` in a subprocess from the repository root, ``env`` added."""
    return subprocess.run([sys.executable, "-m", "curation.cli", *args], capture_output=True,
                          text=True, env=os.environ | env, timeout=900, cwd=ROOT)


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> dict[str, str]:
    return {"CURATE_SAMPLES": str(tmp_path_factory.mktemp("samples"))}


@pytest.mark.parametrize("name, settings", [
    ("demo", ["docs=300"]),
    ("web", []),
    ("web", ["input=elsewhere/*.jsonl.zst", "evals=evals/*.jsonl"]),
    ("web", ["warc=crawl", "evals="]),  # no evals given: HumanEval alone (it used to crash)
    ("web", ["warc=crawl/*.warc.gz"]),
    ("midtrain", ["midtrain_sources=math=m/*.parquet", "midtrain_weights=web=0.5,math=0.5"]),
    ("microanneal", []),
    ("dedup", ["scope=corpus", "protect_first=true"]),
])
def test_plan_shows_the_pipeline_and_builds_nothing(name, settings, tmp_path):
    """``curate plan`` of each ready pipeline with each documented kind of input: a valid DAG,
    its parameters and inputs listed, and not one file written (inputs are built by runs)."""
    samples, work = tmp_path / "samples", tmp_path / "run"
    sets = [a for s in [f"workdir={work}", *settings] for a in ("--set", s)]
    run = curate("plan", os.path.join(ROOT, "pipelines", f"{name}.py"), *sets,
                 env={"CURATE_SAMPLES": str(samples)})
    assert run.returncode == 0, run.stderr[-2000:]
    assert "parameters (curate run FILE --set NAME=VALUE):" in run.stdout
    assert f"workdir = '{work}'" in run.stdout and "=>" in run.stdout
    assert not samples.exists() and not work.exists()
    if name not in ("microanneal", "dedup"):
        assert "Decontaminate" in run.stdout
    if any(s.startswith("warc=") for s in settings):
        assert "synthetic-web" not in run.stdout and "DatatroveStep" in run.stdout


def test_plan_refuses_an_unknown_parameter(tmp_path):
    run = curate("plan", os.path.join(ROOT, "pipelines", "demo.py"), "--set", "doc=3", env={})
    assert run.returncode == 1
    assert "no parameter named doc (it declares: docs," in run.stderr


def test_midtrain_mix_reaches_its_budget(samples, tmp_path):
    run = curate("run", os.path.join(ROOT, "pipelines", "midtrain.py"),
                 "--set", f"workdir={tmp_path}", "--set", "midtrain_tokens=200000",
                 "--set", "midtrain_weights=web=0.7,docs=0.3", env=samples)
    assert run.returncode == 0, run.stderr[-3000:]
    with open(tmp_path / "out" / "manifest.json") as f:
        manifest = json.load(f)
    tokens = {d["source"]: d["tokens"] for d in manifest["domains"]}
    assert abs(sum(tokens.values()) - 200_000) < 0.03 * 200_000
    assert abs(tokens["web"] / sum(tokens.values()) - 0.7) < 0.03


def test_dedup_funnel_runs_in_either_scope(samples, tmp_path):
    """The funnel pipeline in each scope on a small synthetic crawl: the corpus scope removes
    at least the bytes the block scope does (blocks of 64 KB here, so many blocks)."""
    removed = {}
    for scope in ("block", "corpus"):
        work = tmp_path / scope
        run = curate("run", os.path.join(ROOT, "pipelines", "dedup.py"), "--set", "docs=400",
                     "--set", f"scope={scope}", "--set", f"workdir={work}", "--set",
                     "partition_mb=0.0625", env=samples)
        assert run.returncode == 0, run.stderr[-3000:]
        report = curate("dedup", "report", str(work / "work"), "--json",
                        str(work / "dedup.json"), env={})
        assert report.returncode == 0, report.stderr[-2000:]
        steps = {s["step"]: s for s in json.loads((work / "dedup.json").read_text())["steps"]}
        before, after = steps["substring_dedup"]["bytes"]
        removed[scope] = before - after
    assert removed["corpus"] >= removed["block"] > 0
