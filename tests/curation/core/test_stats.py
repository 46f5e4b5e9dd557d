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


def test_a_stage_own_counts_merge_and_round_trip():
    """``BatchContext.count`` fills ``counts``: summed by ``merge``, kept by ``to_dict`` and
    ``from_dict`` (a record written before counts existed reads as none)."""
    from curation.core.stage import BatchContext

    a, b = StageStats(), StageStats()
    BatchContext(seed=0, shard=0, stats=a).count("masked_email", 2)
    BatchContext(seed=0, shard=1, stats=b).count("masked_email")
    BatchContext(seed=0, shard=1, stats=b).count("no_url", 4)
    a.merge(b)
    assert a.counts == {"masked_email": 3, "no_url": 4}
    assert StageStats.from_dict(a.to_dict()) == a
    old = a.to_dict()
    del old["counts"]
    assert StageStats.from_dict(old).counts == {}
