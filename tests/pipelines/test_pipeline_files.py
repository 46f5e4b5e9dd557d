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
    ("multilingual", ["languages=de,ja"]),
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
    if name not in ("microanneal", "dedup", "multilingual"):
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


@pytest.fixture(scope="module")
def small_crawl(tmp_path_factory) -> str:
    """A synthetic crawl of 300 documents with its eval set."""
    from curation.synthetic import GeneratorConfig, generate

    root = str(tmp_path_factory.mktemp("crawl"))
    generate(root, GeneratorConfig(docs=300, seed=0, shard_docs=100))
    return root


@pytest.mark.parametrize("given", ["documents", "warc"])
def test_web_recipe_runs_on_documents_or_warc_files(given, samples, small_crawl, tmp_path):
    """The web recipe end to end on each kind of input its docs name: JSONL documents (a
    directory) with their eval set (a glob), and WARC files (a glob) with the default evals."""
    from corpora import make_warcs

    sets = ([f"input={small_crawl}/docs", f"evals={small_crawl}/evals/*.jsonl"]
            if given == "documents" else [f"warc={make_warcs(tmp_path / 'warc')}/*.warc.gz"])
    run = curate("run", os.path.join(ROOT, "pipelines", "web.py"), "--set",
                 f"workdir={tmp_path}", *[a for s in sets for a in ("--set", s)], env=samples)
    assert run.returncode == 0, run.stderr[-3000:]
    with open(tmp_path / "out" / "manifest.json") as f:
        manifest = json.load(f)
    assert manifest["totals"]["tokens"] > 0
    stages = json.loads((tmp_path / "work" / "stats.json").read_text())["stages"]
    if given == "documents":  # the crawl's planted benchmark copies are found
        assert stages["web"]["docs_out"] == 300
        assert stages["decontaminate"]["dropped"]["contaminated"] > 0
    else:  # the three articles and the page of navigation only, extracted
        assert stages["web"]["docs_out"] == 4 and stages["trafilatura"]["docs_out"] >= 3


def test_microanneal_data_step_splits_and_tokenizes_both_sources(samples, small_crawl, tmp_path):
    """``curate run pipelines/microanneal.py`` (its data step): the target (the Python docs)
    and a given web source, each split into training and held-out tokenized shards."""
    run = curate("run", os.path.join(ROOT, "pipelines", "microanneal.py"), "--set",
                 f"workdir={tmp_path}", "--set", f"web_input={small_crawl}/docs", env=samples)
    assert run.returncode == 0, run.stderr[-3000:]
    tokens = {}
    for part in ("target-train", "target-heldout", "web-train", "web-heldout"):
        with open(tmp_path / "data" / part / "manifest.json") as f:
            tokens[part] = json.load(f)["totals"]["tokens"]
    assert all(tokens.values())
    for source in ("target", "web"):  # about a tenth held out
        share = tokens[f"{source}-heldout"] / (tokens[f"{source}-train"] +
                                               tokens[f"{source}-heldout"])
        assert 0.02 < share < 0.3, (source, share)


def test_multilingual_recipe_judges_each_language_by_its_rules(samples, tmp_path):
    """The multilingual recipe on 60 documents of each of seven languages' message catalogs:
    language ID agrees with the catalogs' language, and the languages keep documents through
    their own filters (English rules would drop nearly every Chinese and Japanese one)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curation.samples.multilingual import documents

    if not all(documents(lang) for lang in ("en", "de", "fr", "es", "ru", "zh", "ja")):
        pytest.skip("this machine ships no message catalogs for some of the languages")
    run = curate("run", os.path.join(ROOT, "pipelines", "multilingual.py"), "--set",
                 f"workdir={tmp_path}", "--set", "per_language=60", env=samples)
    assert run.returncode == 0, run.stderr[-3000:]
    out = pa.concat_tables(pq.read_table(f, columns=["lang", "source_lang"])
                           for f in sorted((tmp_path / "out").glob("*.parquet")))
    kept = out.group_by("lang").aggregate([("lang", "count")]).to_pydict()
    assert {"en", "de", "fr", "es", "ru", "ja"} <= set(kept["lang"])
    agree = sum(a == b for a, b in zip(out["lang"].to_pylist(), out["source_lang"].to_pylist(),
                                       strict=True))
    assert agree >= 0.95 * out.num_rows
    stages = json.loads((tmp_path / "work" / "stats.json").read_text())["stages"]
    assert stages["web"]["docs_out"] == 7 * 60
    assert stages["mask_pii"]["counts"]["masked_email"] > 0  # the catalogs' bug-report addresses
