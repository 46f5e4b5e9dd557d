"""The mix plan file and the sampler: realised tokens match the plan, independent of sharding."""

from __future__ import annotations

import math
import os
from collections import Counter, defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from corpora import write_jsonl

from curation import Pipeline, read
from curation.core.errors import CurationError
from curation.core.manifest import read_manifest
from curation.core.stage import BatchContext
from curation.core.stats import StageStats
from curation.mixing import (
    MixPlan,
    PlanEntry,
    Sample,
    allocate,
    fit_curve,
    plan_from_allocation,
    plan_from_curves,
    tolerance,
    topic_buckets,
)
from curation.tokenize import Tokenize

RATES = {("web", "a"): 0.0, ("web", "b"): 0.5, ("code", "a"): 1.0, ("code", "b"): 1.7,
         ("math", "a"): 3.25}


def synthetic(n: int = 6000, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    keys = list(RATES)
    which = rng.integers(0, len(keys), n)
    return pa.table({
        "id": [f"doc-{i:06d}" for i in range(n)],
        "source": [keys[k][0] for k in which],
        "topic": [keys[k][1] for k in which],
        "vigintile": pa.array(rng.integers(0, 20, n), pa.int8()),
        "n_tokens": pa.array(rng.integers(10, 200, n), pa.int32()),
    })


def plan_for(table: pa.Table, seed: int = 7) -> MixPlan:
    tokens: Counter = Counter()
    for r in table.select(["source", "topic", "vigintile", "n_tokens"]).to_pylist():
        tokens[(r["source"], r["topic"], r["vigintile"])] += r["n_tokens"]
    return MixPlan(tuple(PlanEntry(s, t, v, n, RATES[(s, t)]) for (s, t, v), n in tokens.items()),
                   seed=seed)


def run(stage: Sample, batches: list[pa.Table]) -> tuple[pa.Table, StageStats]:
    stats = StageStats()
    out = [stage.process(b, BatchContext(seed=0, shard=i, stats=stats))
           for i, b in enumerate(batches)]
    return pa.concat_tables(out), stats


def realised(table: pa.Table) -> Counter:
    out: Counter = Counter()
    for r in table.select(["source", "topic", "vigintile", "n_tokens"]).to_pylist():
        out[(r["source"], r["topic"], r["vigintile"])] += r["n_tokens"]
    return out


def test_realised_tokens_match_the_plan_within_the_stated_tolerance():
    table = synthetic()
    plan = plan_for(table)
    out, stats = run(Sample(plan), [table.slice(i, 1000) for i in range(0, len(table), 1000)])
    got = realised(out)
    max_doc = 199
    for e in plan.entries:
        diff = abs(got[e.key] - e.target_tokens)
        assert diff <= tolerance(e, max_doc), (e, got[e.key])
        if e.repetition == int(e.repetition):
            assert diff == 0  # integer factors are exact
    total = sum(got.values())
    assert abs(total - plan.target_tokens) <= 0.02 * plan.target_tokens
    web_a = sum(1 for r in table.select(["source", "topic"]).to_pylist()
                if (r["source"], r["topic"]) == ("web", "a"))
    assert stats.dropped["mix_zero_rate"] == web_a
    assert stats.dropped["mix_not_sampled"] > 0
    # copies of a document are adjacent and numbered 0..n-1
    ids, copy = out.column("id").to_pylist(), out.column("mix_copy").to_pylist()
    for i in range(1, len(ids)):
        assert copy[i] == (copy[i - 1] + 1 if ids[i] == ids[i - 1] else 0)
    assert max(copy) == 3  # math/a at 3.25: three or four copies


def test_output_is_independent_of_sharding_and_order():
    table = synthetic(3000, seed=1)
    plan = plan_for(table)
    a, _ = run(Sample(plan), [table])
    perm = np.random.default_rng(5).permutation(len(table))
    shuffled = table.take(pa.array(perm))
    b, _ = run(Sample(plan), [shuffled.slice(i, 333) for i in range(0, len(table), 333)])
    key = ["id", "mix_copy"]
    assert a.select(key).sort_by([(k, "ascending") for k in key]).equals(
        b.select(key).sort_by([(k, "ascending") for k in key]))
    other_seed = MixPlan(plan.entries, seed=plan.seed + 1)
    c, _ = run(Sample(other_seed), [table])
    assert set(c.column("id").to_pylist()) != set(a.column("id").to_pylist())


def test_missing_domain_policy():
    table = synthetic(200)
    plan = MixPlan(tuple(e for e in plan_for(table).entries if e.source != "math"))
    with pytest.raises(CurationError, match="missing from the mix plan"):
        run(Sample(plan), [table])
    out, stats = run(Sample(plan, missing="drop"), [table])
    assert "math" not in out.column("source").to_pylist()
    assert stats.dropped["mix_not_in_plan"] > 0
    kept, _ = run(Sample(plan, missing="keep"), [table])
    assert "math" in kept.column("source").to_pylist()


@pytest.mark.parametrize("ext", ["json", "yaml"])
def test_plan_file_round_trips_and_fingerprints(tmp_path, ext):
    plan = plan_for(synthetic(500))
    path = plan.save(str(tmp_path / f"mix.{ext}"))
    again = MixPlan.load(path)
    assert again == plan and again.fingerprint == plan.fingerprint
    changed = MixPlan(plan.entries[:-1] + (PlanEntry(plan.entries[-1].source,
                      plan.entries[-1].topic, plan.entries[-1].vigintile,
                      plan.entries[-1].tokens, plan.entries[-1].repetition + 0.1),), plan.seed)
    assert changed.fingerprint != plan.fingerprint
    assert Sample(path).config() == Sample(plan).config()
    (tmp_path / "bad.json").write_text('{"format": "other"}')
    with pytest.raises(CurationError, match="not a mix plan"):
        MixPlan.load(str(tmp_path / "bad.json"))


def test_plan_from_manifest_curves_then_sample_in_a_pipeline(tmp_path, tokenizer_path):
    rng = np.random.default_rng(0)
    words = "alpha beta gamma delta quick brown fox lazy dog numbers".split()
    docs = [{"id": f"d{i:04d}", "text": " ".join(rng.choice(words, rng.integers(5, 40))),
             "topic": "t1" if i % 3 else "t2", "vigintile": int(i % 20)} for i in range(600)]
    os.makedirs(tmp_path / "in")
    write_jsonl(tmp_path / "in" / "a.jsonl", docs[:250])
    write_jsonl(tmp_path / "in" / "b.jsonl", docs[250:])
    cols = {"topic": pa.string(), "vigintile": pa.int32()}

    def pipeline(name: str, tail) -> str:
        p = Pipeline(name, str(tmp_path / f"w-{name}"))
        src = p.source(read(str(tmp_path / "in" / "*.jsonl"), source="web", columns=cols))
        p.sink(tail(src >> Tokenize(tokenizer_path)), str(tmp_path / name))
        p.run(progress=False)
        return str(tmp_path / name)

    tokens_dir = pipeline("tokens", lambda x: x)
    domains = read_manifest(tokens_dir)["domains"]
    max_doc = max(pq.read_table(os.path.join(tokens_dir, s["path"]), columns=["n_tokens"])
                  .column("n_tokens").to_numpy().max()
                  for s in read_manifest(tokens_dir)["shards"])
    curves = {}
    for topic, ratio in (("t1", 1.5), ("t2", 0.8)):
        curves[("web", topic)] = fit_curve(topic_buckets(domains, "web", topic), ratio)
    plan = plan_from_curves(domains, curves, seed=3)
    plan_path = plan.save(str(tmp_path / "mix.yaml"))
    out = read_manifest(pipeline("mixed", lambda x: x >> Sample(plan_path)))
    got = defaultdict(int)
    for d in out["domains"]:
        got[(d["source"], d["topic"], d["vigintile"])] += d["tokens"]
    for e in plan.entries:
        assert abs(got[e.key] - e.target_tokens) <= tolerance(e, max_doc) + 1e-9
        if e.repetition == 0:
            assert got[e.key] == 0
    assert abs(out["totals"]["tokens"] - plan.target_tokens) <= 0.1 * plan.target_tokens

    alloc = allocate({"web": 1.0}, {"web": sum(d["tokens"] for d in domains)}, 1000, caps=4)
    flat = plan_from_allocation(domains, alloc)
    assert flat.target_tokens == pytest.approx(1000)


def _chain(rates: tuple[float, ...], n: int, seed: int = 0) -> pa.Table:
    """``n`` one-token documents through repetition stages in sequence (``Upsample >> Mix``
    does this), each with the same seed as both stages have by default."""
    from curation.mixing.sampler import repeat_by_rate

    table = pa.table({"id": [f"doc-{i:06d}" for i in range(n)], "source": ["web"] * n})
    for rate in rates:
        ctx = BatchContext(seed=0, shard=0, stats=StageStats())
        table = repeat_by_rate(table, np.full(table.num_rows, rate), seed, ctx)
    return table


@pytest.mark.parametrize("rates", [(0.5, 0.5), (2.5, 0.4), (1.5, 0.5, 2.0)])
def test_chained_repetition_realises_the_product_of_the_rates(rates):
    """A second repetition stage must not reuse the first one's draw: each document's expected
    copies after the chain are the product of the rates (closed form), and the count stays
    within 5 standard deviations of independent draws (every row of every stage draws anew)."""
    n = 20_000
    out = _chain(rates, n)
    mean, var = 1.0, 0.0  # copies of one document: a branching process, stage by stage
    for r in rates:
        f = r - math.floor(r)
        mean, var = mean * r, r * r * var + mean * f * (1 - f)
    assert abs(out.num_rows - n * mean) <= 5 * (n * var) ** 0.5, (out.num_rows, n * mean)


def test_copies_from_an_earlier_stage_are_sampled_independently():
    """Four copies of each document sampled at rate 0.5: the survivors per document are
    Binomial(4, 1/2) (brute force over the outcome counts), not all-or-nothing."""
    out = _chain((4.0, 0.5), 4000)
    survivors = Counter(out.column("id").to_pylist())
    counts = Counter(survivors.get(f"doc-{i:06d}", 0) for i in range(4000))
    binomial = {k: 4000 * math.comb(4, k) / 16 for k in range(5)}
    for k, want in binomial.items():
        assert abs(counts[k] - want) <= 5 * (want * (1 - want / 4000)) ** 0.5, (k, counts)
