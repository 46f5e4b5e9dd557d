"""``curate bench`` plumbing: the input corpora, the rows (docs/s and MB/s), the result files
(real text and synthetic side by side) and the table; one tiny benchmark end to end."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from curation.bench.common import Timed, compare, load_corpus, rate_row
from curation.bench.report import render_table, result_path, save_result
from curation.cli import main


def test_rate_row_gives_the_metric_docs_per_s_and_mb_per_s():
    r = rate_row("w", "tokens/s", Timed(2.0, 10.0, 100, 4.0, units=1000), "p",
                 Timed(4.0, 20.0, 100, 4.0, units=1000))
    assert (r["ours"], r["peer"]) == (500, 250)
    assert (r["ours_docs_s"], r["ours_mb_s"], r["peer_mb_s"]) == (50, 2, 1)
    assert (r["ours_s"], r["peer_peak_mb"]) == (2.0, 20.0)
    assert rate_row("w", "MB/s", Timed(2.0, 0, 10, 4.0), "p", Timed(1.0, 0, 10, 4.0))["peer"] == 4
    with pytest.raises(ValueError, match="needs units"):
        rate_row("w", "items/s", Timed(1.0, 0, 1, 1.0), "p", Timed(1.0, 0, 1, 1.0))


def test_compare_times_both_and_fails_when_they_disagree():
    r = compare("w", "p", lambda: 3, lambda: 3, docs=10, text_mb=1.0)
    assert r["metric"] == "docs/s" and r["ours_mb_s"] > 0 and r["peer_docs_s"] > 0
    with pytest.raises(RuntimeError, match="ours gave 1, p gave 2"):
        compare("w", "p", lambda: 1, lambda: 2, docs=10, text_mb=1.0)


def test_real_corpus_is_built_once_and_described(tmp_path):
    workdir = str(tmp_path / "bench" / "x")
    corpus = load_corpus(workdir, "real", mb=0.2)
    assert corpus.kind == "real" and corpus.docs > 0 and corpus.text_mb >= 0.2
    assert corpus.root == str(tmp_path / "bench" / "data" / "real-text-0.2MB")
    assert corpus.label == f"real-text ({corpus.docs:,} docs, {corpus.text_mb:.1f} MB)"
    assert corpus.describe()["input_kind"] == "real"
    assert load_corpus(workdir, "real", mb=0.2) == corpus
    with pytest.raises(ValueError, match="unknown input"):
        load_corpus(workdir, "web")


def _result(kind: str, label: str) -> dict:
    row = rate_row("read", "docs/s", Timed(1.0, 1.0, 10, 2.0), "peer", Timed(2.0, 1.0, 10, 2.0))
    return {"input": label, "input_kind": kind, "docs": 10, "text_mb": 2.0, "input_mb": 1.0,
            "rows": [row]}


def test_results_on_both_inputs_coexist_and_the_table_names_the_input(tmp_path):
    out = str(tmp_path)
    real = save_result("read", _result("real", "real-text (10 docs, 2 MB)"), out)
    synthetic = save_result("read", _result("synthetic", "synthetic (10 docs, 2 MB)"), out)
    assert (real, synthetic) == (result_path("read", "real", out),
                                 os.path.join(out, "read-synthetic.json"))
    assert real.endswith("/read.json")
    machine = json.loads(Path(real).read_text())["machine"]
    legacy = {"benchmark": "old", "machine": machine, "docs": 5,
              "input_mb": 1.0, "rows": [{"what": "w", "metric": "docs/s", "ours": 2.0,
                                         "peer_name": "p", "peer": 1.0}]}
    with open(os.path.join(out, "old.json"), "w") as f:
        json.dump(legacy, f)
    lines = render_table(out).splitlines()
    assert "| input |" in lines[0] and "MB/s" in lines[0]
    assert lines[2].startswith("| old | synthetic (5 docs, 1 MB .zst) |") and "n/a" in lines[2]
    assert lines[3].startswith("| read | real-text (10 docs, 2 MB) |")
    assert "| 2.00 / 1.00 |" in lines[3]  # MB/s of ours and the peer
    assert lines[4].startswith("| read | synthetic (10 docs, 2 MB) |")


def test_curate_bench_runs_one_benchmark_on_either_input(tmp_path, capsys):
    common = ["--workdir", str(tmp_path / "bench"), "--out", str(tmp_path / "results")]
    assert main(["bench", "read", "--mb", "0.2", *common]) == 0
    assert main(["bench", "read", "--input", "synthetic", "--docs", "200", *common]) == 0
    real = json.loads((tmp_path / "results" / "read.json").read_text())
    synthetic = json.loads((tmp_path / "results" / "read-synthetic.json").read_text())
    assert real["input"].startswith("real-text (") and real["input_kind"] == "real"
    assert synthetic["input"] == f"synthetic (200 docs, {synthetic['text_mb']:.1f} MB)"
    assert all(r["ours_mb_s"] > 0 and r["peer_mb_s"] > 0 for r in real["rows"])
    assert "real-text (" in capsys.readouterr().out
