"""The soak script at a small size: workers killed at random, output identical to a calm run."""

from __future__ import annotations

import json

import pytest

from curation.reliability.soak import Chaos, main


@pytest.mark.slow
@pytest.mark.ray
def test_soak_smoke(tmp_path, ray_cluster, capsys):
    report_path = tmp_path / "report.json"
    status = main(["--docs", "2400", "--shard-docs", "400", "--kill-probability", "0.5",
                   "--root", str(tmp_path), "--report", str(report_path)])
    report = json.loads(report_path.read_text())
    assert status == 0 and report["identical_output"] is True
    chaos = Chaos(0.5, "", seed=0)
    expected = 0
    for name in ("chaos_map", "chaos_after_exact"):
        chaos.name = name
        expected += sum(chaos.doomed(shard) for shard in range(6))
    assert expected > 0 and report["chaos"]["workers_killed"] == expected
    assert report["calm"]["workers_killed"] == 0
    assert report["chaos"]["docs_out"] == report["calm"]["docs_out"] > 0
    assert report["chaos"]["docs_in"] == 2400 and report["chaos"]["worker_peak_rss_mib"] > 0
    assert '"identical_output": true' in capsys.readouterr().out
