"""The Mix global stage: per-source token targets from weights, budget and cap, realised."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from corpora import write_jsonl

from curation import Pipeline, read
from curation.core.errors import TaskFailed
from curation.mixing import Mix, allocate


def source_docs(prefix: str, n: int, words: int) -> list[dict]:
    return [{"id": f"{prefix}{i:05d}", "text": " ".join([prefix] * words)} for i in range(n)]


def run(tmp_path, name: str, stage: Mix) -> pa.Table:
    root = tmp_path / name
    (root / "in").mkdir(parents=True)
    write_jsonl(root / "in" / "web.jsonl", source_docs("web", 1000, 10))  # 10,000 words
    write_jsonl(root / "in" / "code.jsonl", source_docs("code", 200, 10))  # 2,000 words
    p = Pipeline(name, str(root / "w"))
    web = p.source(read(str(root / "in" / "web.jsonl"), source="web"))
    code = p.source(read(str(root / "in" / "code.jsonl"), source="code"))
    p.sink(p.union(web, code) >> stage, str(root / "o"))
    return pa.concat_tables(pq.read_table(f) for f in p.run(progress=False).outputs["sink"])


def words_by_source(table: pa.Table) -> dict[str, int]:
    out: dict[str, int] = {}
    for s, t in zip(table["source"].to_pylist(), table["text"].to_pylist(), strict=True):
        out[s] = out.get(s, 0) + len(t.split())
    return out


def test_targets_are_realised_and_the_cap_redistributes(tmp_path):
    # 50/50 of 8,000 tokens: code would need 4,000 = 2x its 2,000 but is capped at 1.5x
    out = run(tmp_path, "a", Mix({"web": 0.5, "code": 0.5}, tokens=8000, max_repeat=1.5))
    want = allocate({"web": 0.5, "code": 0.5}, {"web": 10_000, "code": 2_000}, 8000, 1.5)
    assert want.binding == ("code",) and want.targets["code"] == pytest.approx(3000)
    got = words_by_source(out)
    for source, target in want.targets.items():
        assert abs(got[source] - target) <= 4 * (10 * target) ** 0.5  # sampler tolerance
    assert sorted(set(out["mix_rate"].to_pylist())) == pytest.approx([0.5, 1.5])


def test_unweighted_sources_are_dropped_and_impossible_budgets_refused(tmp_path):
    out = run(tmp_path, "b", Mix({"web": 1.0}, tokens=5000))
    assert set(out["source"].to_pylist()) == {"web"}
    with pytest.raises(TaskFailed, match="budget"):
        run(tmp_path, "c", Mix({"web": 1.0, "code": 1.0}, tokens=10**6, max_repeat=2))


def test_mix_after_upsample_realises_its_target(tmp_path):
    """``Upsample >> Mix`` (both at their default seed): Mix replaces ``mix_rate`` and samples
    the upsampled copies independently, so its token target is met within the sampler's
    tolerance."""
    from curation.mixing import Upsample

    docs = [{"id": f"d{i:05d}", "text": " ".join(["word"] * (5 + i % 7)),
             "topic": ["art", "health"][i % 2], "vigintile": (i // 2) % 20} for i in range(2000)]
    (tmp_path / "in").mkdir()
    write_jsonl(tmp_path / "in" / "web.jsonl", docs)
    p = Pipeline("chain", str(tmp_path / "w"))
    cols = {"topic": pa.string(), "vigintile": pa.int64()}
    src = p.source(read(str(tmp_path / "in" / "web.jsonl"), source="web", columns=cols))
    p.sink(src >> Upsample(1.5, partitions=3) >> Mix({"web": 1.0}, tokens=6000),
           str(tmp_path / "o"))
    out = pa.concat_tables(pq.read_table(f) for f in p.run(progress=False).outputs["sink"])
    got = words_by_source(out)["web"]
    assert abs(got - 6000) <= 4 * (11 * 6000) ** 0.5  # sampler tolerance, longest doc 11 words
    assert out.column_names.count("mix_rate") == 1
