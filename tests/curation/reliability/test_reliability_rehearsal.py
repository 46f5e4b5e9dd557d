"""The rehearsal script at a small size: every phase measured from the task records, the
MinHash merge's edges counted, and a scale model printed from the report."""

from __future__ import annotations

import json

import pytest

from curation.reliability.rehearsal import SCALES, main


@pytest.mark.slow
@pytest.mark.ray
def test_rehearsal_smoke(tmp_path, ray_cluster, capsys):
    report_path = tmp_path / "report.json"
    assert main(["--docs", "3000", "--root", str(tmp_path), "--report",
                 str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report["docs_in"] == 3000 and 0 < report["docs_out"] < 3000 and report["tokens"] > 0
    phases = {(p["step"], p["phase"]): p for p in report["phases"]}
    assert set(phases) == {("web", "map"), ("tokenize", "map")} | {
        (step, phase) for step in ("exact_dedup", "min_hash_dedup", "substring_dedup")
        for phase in ("scan", "reduce", "apply")} | {("min_hash_dedup", "merge")}
    for p in phases.values():
        assert p["tasks"] >= 1 and p["wall_s"] >= 0 and p["peak_rss_max_mib"] > 50
    assert phases[("exact_dedup", "apply")]["rows_written"] < 3000  # duplicates went
    assert report["minhash"]["edges"] > 0 and report["minhash"]["nodes"] > 0
    assert report["driver_bytes_per_output"] > 0
    out = capsys.readouterr().out
    assert f"| | {SCALES[0]:,} docs |" in out
    assert "MinHash merge task at 1 edge/doc" in out
    capsys.readouterr()
    assert main(["--model", str(report_path)]) == 0  # the model again, from the saved report
    assert "substring reduce task" in capsys.readouterr().out
