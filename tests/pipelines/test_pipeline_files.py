"""The ready pipelines: every file builds a valid DAG, and the mid-training mix runs end to end
and lands on its token budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def curate(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curation.cli", *args], capture_output=True,
                          text=True, env=os.environ | env, timeout=900, cwd=ROOT)


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> dict[str, str]:
    return {"CURATE_SAMPLES": str(tmp_path_factory.mktemp("samples"))}


@pytest.mark.parametrize("name", ["demo", "web", "midtrain", "microanneal"])
def test_pipeline_file_is_a_valid_dag(name, samples, tmp_path):
    run = curate("plan", os.path.join(ROOT, "pipelines", f"{name}.py"),
                 env=samples | {"CURATE_WORKDIR": str(tmp_path), "CURATE_DEMO_DOCS": "300",
                                "CURATE_DEMO_WORKDIR": str(tmp_path)})
    assert run.returncode == 0, run.stderr[-2000:]
    assert "steps:" in run.stdout or "=>" in run.stdout


def test_midtrain_mix_reaches_its_budget(samples, tmp_path):
    env = samples | {"CURATE_WORKDIR": str(tmp_path), "CURATE_MIDTRAIN_TOKENS": "200000",
                     "CURATE_MIDTRAIN_WEIGHTS": "web=0.7,docs=0.3"}
    run = curate("run", os.path.join(ROOT, "pipelines", "midtrain.py"), env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    with open(tmp_path / "out" / "manifest.json") as f:
        manifest = json.load(f)
    tokens = {d["source"]: d["tokens"] for d in manifest["domains"]}
    assert abs(sum(tokens.values()) - 200_000) < 0.03 * 200_000
    assert abs(tokens["web"] / sum(tokens.values()) - 0.7) < 0.03


def test_web_on_warc_without_evals_plans(samples, tmp_path):
    """CURATE_WEB_WARC without CURATE_EVALS: the eval sets default to HumanEval (it crashed,
    looking for the synthetic crawl's eval set that WARC mode does not build)."""
    (tmp_path / "warc").mkdir()
    run = curate("plan", os.path.join(ROOT, "pipelines", "web.py"),
                 env=samples | {"CURATE_WORKDIR": str(tmp_path), "CURATE_EVALS": "",
                                "CURATE_WEB_WARC": str(tmp_path / "warc")})
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Decontaminate" in run.stdout
