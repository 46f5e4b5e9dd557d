"""Stage statistics: bytes per second next to documents per second, in the run's summary
table and in ``stats.json``."""

from __future__ import annotations

import json

from corpora import corpus, write_jsonl

from curation import Pipeline, read
from curation.core.runner import format_summary
from curation.core.stats import StageStats
from curation.filters import DocumentLength


def test_rates_are_per_second_of_task_time():
    s = StageStats(docs_in=200, bytes_in=3_000_000, seconds=2.0)
    assert (s.docs_per_s, s.mb_per_s) == (100.0, 1.5)
    assert StageStats().mb_per_s == 0.0  # no time recorded: no rate, no division by zero
    d = s.summary()
    assert (d["docs_per_s"], d["mb_per_s"]) == (100.0, 1.5)
    assert d.items() >= s.to_dict().items() and "mb_per_s" not in s.to_dict()


def test_summary_and_stats_json_give_mb_per_s(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", corpus(50))
    p = Pipeline("rates", workdir=str(tmp_path / "work"))
    docs = p.source(read([path], source="test"))
    p.sink(docs >> DocumentLength(min_chars=1), str(tmp_path / "out"))
    result = p.run("local", progress=False)
    head = format_summary(result).splitlines()[0].split()
    assert head[head.index("docs/s") + 1] == "MB/s"
    with open(tmp_path / "work" / "stats.json") as f:
        stage = json.load(f)["stages"]["document_length"]
    assert stage["bytes_in"] > 0 and stage["seconds"] > 0
    assert abs(stage["mb_per_s"] - stage["bytes_in"] / 1e6 / stage["seconds"]) < 1e-3
