"""The Dirichlet swarm: sampling properties, and an end-to-end swarm of tiny proxies on Ray
that fits a law, proposes a mix, resumes without retraining and conditions on a frozen mix."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from corpora import write_jsonl

from curation import Pipeline, read
from curation.mixing import (
    ProxyConfig,
    VirtualDomain,
    capacities,
    domain_capacity,
    fit_and_propose,
    flatten,
    freeze,
    natural_prior,
    run_swarm,
    sample_mixtures,
    weight_caps,
)
from curation.tokenize import Tokenize
from train.proxy import TorchProxyTrainer

TRAINER = TorchProxyTrainer()
PRIOR = {"books": 0.1, "code": 0.2, "math": 0.05, "web": 0.65}


def test_mixtures_are_distinct_valid_and_deterministic():
    mixes = sample_mixtures(PRIOR, 30, seed=1, min_weight=0.03)
    assert mixes[0] == pytest.approx(PRIOR)  # the prior itself comes first
    assert mixes == sample_mixtures(PRIOR, 30, seed=1, min_weight=0.03)
    assert mixes != sample_mixtures(PRIOR, 30, seed=2, min_weight=0.03)
    keys = {tuple(round(m[d], 4) for d in sorted(PRIOR)) for m in mixes}
    assert len(keys) == 30
    for m in mixes:
        assert sum(m.values()) == pytest.approx(1)
        assert all(v == 0 or v >= 0.03 for v in m.values())
    assert any(v == 0 for m in mixes for v in m.values())  # low strength gives sparse mixes


def test_mixtures_breaking_repetition_caps_are_rejected():
    capacity = {"books": 300.0, "code": 5000.0, "math": 100.0, "web": 1e6}  # tokens x cap
    mixes = sample_mixtures(PRIOR, 25, seed=0, capacity=capacity, budget=1000)
    for m in mixes:
        for d, w in m.items():
            assert w * 1000 <= capacity[d] * (1 + 1e-9)
    unconstrained = sample_mixtures(PRIOR, 25, seed=0)
    assert any(m["books"] * 1000 > 300 for m in unconstrained)  # the caps did reject some
    with pytest.raises(RuntimeError, match="acceptable distinct mixtures"):
        sample_mixtures(PRIOR, 5, capacity={d: 1.0 for d in PRIOR}, budget=1000, max_draws=50)


def test_hierarchical_sampling_varies_sources_then_topics():
    prior = {"web/news": 0.3, "web/science": 0.3, "code/python": 0.3, "code/rust": 0.1}
    groups = {d: d.split("/")[0] for d in prior}
    mixes = sample_mixtures(prior, 20, seed=3, groups=groups, min_weight=0.0)
    web = [m["web/news"] + m["web/science"] for m in mixes]
    assert np.std(web) > 0.05
    assert all(sum(m.values()) == pytest.approx(1) for m in mixes)


def test_virtual_domains_flatten_and_cap():
    base = VirtualDomain({"web": "/d/web", "code": "/d/code"}, {"web": 3, "code": 1})
    flat = flatten({"base": 0.5, "math": 0.5}, {"base": base, "math": "/d/math"})
    assert flat == {"code": ("/d/code", 0.125), "math": ("/d/math", 0.5),
                    "web": ("/d/web", 0.375)}
    caps = domain_capacity({"base": base, "math": "/d/math"},
                           {"web": 900.0, "code": 100.0, "math": 50.0})
    assert caps == {"base": pytest.approx(400.0), "math": 50.0}  # code limits: 100 / 0.25
    again = freeze({"base": 0.5, "math": 0.5}, {"base": base, "math": "/d/math"})
    assert again.weights == pytest.approx({"code": 0.125, "math": 0.5, "web": 0.375})


def tokenized(root, name: str, tokenizer: str, words: list[str], docs: int = 120) -> str:
    rng = np.random.default_rng(len(name))
    os.makedirs(root / name, exist_ok=True)
    write_jsonl(root / name / "in.jsonl",
                [{"text": " ".join(rng.choice(words, 12)) + f" {i}."} for i in range(docs)])
    p = Pipeline(name, str(root / f"w-{name}"))
    p.sink(p.source(read(str(root / name / "in.jsonl"), source=name)) >> Tokenize(tokenizer),
           str(root / f"out-{name}"))
    p.run(progress=False)
    return str(root / f"out-{name}")


def load(*parts: str) -> dict:
    with open(os.path.join(*parts)) as f:
        return json.load(f)


@pytest.mark.ray
def test_swarm_end_to_end_on_ray_resumes_and_conditions(tmp_path, tokenizer_path, ray_cluster):
    vocab = {"web": "the quick brown fox jumps over the lazy dog".split(),
             "code": "def return main answer 42 {} () : = if".split(),
             "math": "3.14159 2024 01 31 numbers and dates + -".split(),
             "books": "pack my box with five dozen liquor jugs".split()}
    dirs = {n: tokenized(tmp_path, n, tokenizer_path, w) for n, w in vocab.items()}
    domains = {n: dirs[n] for n in ("web", "code", "math")}
    prior, tokens = natural_prior(domains)
    assert sum(prior.values()) == pytest.approx(1) and min(tokens.values()) > 0
    evals = {"web": dirs["web"], "code": dirs["code"]}
    proxy = ProxyConfig(steps=5, seq_len=16, batch_rows=4, dim=16, n_heads=2, n_kv_heads=1,
                        eval_rows=4)
    work = str(tmp_path / "swarm")

    mixes = sample_mixtures(prior, 8, seed=0, min_weight=0.05)
    first = run_swarm(mixes, domains, evals, work, TRAINER, proxy)
    assert len(first.trained) == 8 and first.reused == []
    runs = sorted(os.listdir(os.path.join(work, "runs")))
    assert len(runs) == 8
    for r in first.results:
        assert set(r["bpb"]) == {"web", "code"} and all(0 < v < 20 for v in r["bpb"].values())
    assert len({tuple(r["bpb"].values()) for r in first.results}) > 1  # mixes matter

    budget = 1.2 * sum(tokens.values())  # a final run of 1.2x the data: some caps bind
    upper = weight_caps(capacities(tokens, {"web": 2, "code": 1, "math": 1}), budget)
    law, proposal = fit_and_propose(first.results, list(domains), prior, work, upper=upper)
    assert load(work, "proposed_mix.json")["mix"] == pytest.approx(proposal["mix"])
    assert set(load(work, "law.json")["laws"]) == {"web", "code"}
    assert all(proposal["mix"][d] <= upper[d] + 1e-12 for d in domains)

    mtimes = {f: os.path.getmtime(os.path.join(work, "runs", f)) for f in runs}
    again = run_swarm(mixes, domains, evals, work, TRAINER, proxy)
    assert again.trained == [] and len(again.reused) == 8
    assert [r["bpb"] for r in again.results] == [r["bpb"] for r in first.results]

    # validate the proposal
    check = run_swarm([proposal["mix"]], domains, evals, work, TRAINER, proxy)
    assert len(check.trained) == 1

    # conditional mixing: the proposal frozen as one domain, plus a new domain
    base = freeze(proposal["mix"], domains)
    second_domains = {"base": base, "books": dirs["books"]}
    second = [{"base": 1.0, "books": 0.0}] + sample_mixtures(
        {"base": 0.8, "books": 0.2}, 3, seed=1, include_prior=True)
    result = run_swarm(second, second_domains, evals, work, TRAINER, proxy)
    assert result.reused == check.trained  # the frozen mix alone was trained already
    assert len(result.trained) == 3
    assert all(os.path.getmtime(os.path.join(work, "runs", f)) == t for f, t in mtimes.items())
    assert len(os.listdir(os.path.join(work, "runs"))) == 8 + 1 + 3
    _, cond = fit_and_propose(result.results, ["base", "books"], {"base": 0.8, "books": 0.2},
                              str(tmp_path / "second"))
    assert sum(cond["mix"].values()) == pytest.approx(1)


def test_proxy_fingerprint_follows_the_data_not_just_its_path(tmp_path):
    """Rewriting a tokenized directory in place (same path, other shards) changes the proxy
    fingerprint, so a rerun trains on the new data instead of reusing the old result."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curation.core.hashing import file_checksum
    from curation.core.manifest import write_manifest
    from curation.mixing.swarm import ProxyConfig, data_identity, proxy_fingerprint

    web, ev = str(tmp_path / "web"), str(tmp_path / "eval")

    def write(d: str, text: str) -> None:
        os.makedirs(d, exist_ok=True)
        shard = os.path.join(d, "part-00000-000.parquet")
        pq.write_table(pa.table({"id": ["a"], "text": [text], "source": ["s"]}), shard)
        write_manifest(d, [(shard, file_checksum(shard))])

    def fp() -> str:
        flat, evals = {"web": (web, 1.0)}, {"held": ev}
        return proxy_fingerprint(flat, ProxyConfig(), evals, data_identity({web, ev}))

    write(web, "one")
    write(ev, "held out")
    before = fp()
    write(web, "one")
    assert fp() == before  # same content, same fingerprint
    write(web, "two words")
    assert fp() != before
