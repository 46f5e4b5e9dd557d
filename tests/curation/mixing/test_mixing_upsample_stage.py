"""The Upsample global stage: curve rates from the data, applied by seeded repetition."""

from __future__ import annotations

import collections

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from corpora import write_jsonl

from curation import Pipeline, read
from curation.mixing.curves import fit_curve
from curation.mixing.upsample import Upsample


def tagged_docs(n: int) -> list[dict]:
    return [{"id": f"d{i:05d}", "text": " ".join(["word"] * (5 + i % 7)),
             "topic": ["art", "health"][i % 2], "vigintile": (i // 2) % 20} for i in range(n)]


def run(tmp_path, name: str, files: int, ratio, **kw) -> pa.Table:
    root = tmp_path / name
    (root / "in").mkdir(parents=True)
    docs = tagged_docs(2000)
    for k in range(files):
        write_jsonl(root / "in" / f"part-{k}.jsonl", docs[k::files])
    p = Pipeline(name, str(root / "w"))
    cols = {"topic": pa.string(), "vigintile": pa.int64()}
    src = p.source(read(str(root / "in" / "*.jsonl"), source="web", columns=cols))
    p.sink(src >> Upsample(ratio, partitions=3, **kw), str(root / "o"))
    result = p.run(progress=False)
    return pa.concat_tables(pq.read_table(f) for f in result.outputs["sink"])


def words(table: pa.Table, topic: str) -> int:
    t = table.filter(pa.compute.equal(table["topic"], topic))
    return sum(len(x.split()) for x in t["text"].to_pylist())


@pytest.mark.parametrize("preset", [None, "dolma3"])
def test_rates_follow_the_fitted_curve(tmp_path, preset):
    out = run(tmp_path, "one", 2, ratio=1.5, preset=preset)
    assert min(out["vigintile"].to_pylist()) >= 8  # a = 0.4: the lower 8 vigintiles go
    docs = tagged_docs(2000)
    for topic in ("art", "health"):
        tokens = np.zeros(20)
        for d in docs:
            if d["topic"] == topic:
                tokens[d["vigintile"]] += len(d["text"].split())
        expected = fit_curve(tokens, 1.5, preset=preset).rates()
        got = {(r["vigintile"], r["mix_rate"]) for r in out.to_pylist() if r["topic"] == topic}
        assert all(rate == pytest.approx(expected[v]) for v, rate in got)
        assert words(out, topic) == pytest.approx(1.5 * tokens.sum(), rel=0.1)
    copies = collections.Counter(out["id"].to_pylist())
    first = [r["id"] for r in out.to_pylist() if r["mix_copy"] == 0]
    assert sorted(first) == sorted(copies) and max(copies.values()) <= 8


def test_same_result_whatever_the_sharding(tmp_path):
    a = run(tmp_path, "a", 1, ratio={"art": 2.0, "health": 1.0})
    b = run(tmp_path, "b", 3, ratio={"art": 2.0, "health": 1.0})
    key = lambda t: sorted(zip(t["id"].to_pylist(), t["mix_copy"].to_pylist(), strict=True))  # noqa: E731
    assert key(a) == key(b)


def test_infeasible_ratio_names_the_topic_and_the_maximum(tmp_path):
    from curation.core.errors import TaskFailed

    with pytest.raises(TaskFailed, match=r"topic 'art'.*largest feasible ratio is 4\.2"):
        run(tmp_path, "bad", 1, ratio={"art": 5.0})


def test_an_unknown_preset_is_refused():
    with pytest.raises(ValueError, match="preset must be one of"):
        Upsample(1.0, preset="olmo2")
