"""A Dirichlet swarm on the sample data: which mix of web and documentation text is best?

    python -m pipelines.swarm            # CURATE_SWARM_K [8] proxies on a local Ray cluster

Builds (or reuses) the tokenized training and held-out parts of the web and documentation
sources with ``pipelines/microanneal.py``'s pipeline, samples K mixtures around the natural
token distribution, trains one tiny proxy per mixture as a Ray task (finished proxies are
reused on a rerun), fits a mixing law per held-out domain and proposes the mix minimising the
mean predicted bits per byte, with no domain repeated more than 4 times in a run of
CURATE_SWARM_BUDGET [2,000,000] tokens. Results under CURATE_WORKDIR [runs/microanneal]/swarm:
``runs/<mix fingerprint>.json``, ``law.json``, ``proposed_mix.json``.
"""

import json
import os

from curation import param
from curation.mixing import (
    ProxyConfig,
    capacities,
    fit_and_propose,
    natural_prior,
    run_swarm,
    sample_mixtures,
    weight_caps,
)
from pipelines.microanneal import WORKDIR, pipeline
from train.proxy import TorchProxyTrainer


def main() -> None:
    pipeline.run("local")
    data = os.path.join(WORKDIR, "data")
    domains = {"web": os.path.join(data, "web-train"), "docs": os.path.join(data, "target-train")}
    evals = {"web": os.path.join(data, "web-heldout"),
             "docs": os.path.join(data, "target-heldout")}
    prior, tokens = natural_prior(domains)
    budget = param("swarm_budget", 2_000_000.0, "tokens of the proposed run")
    upper = weight_caps(capacities(tokens, 4.0), budget)
    mixes = sample_mixtures(prior, param("swarm_k", 8, "proxy runs"), seed=0, min_weight=0.05,
                            capacity=capacities(tokens, 4.0), budget=budget)
    work = os.path.join(WORKDIR, "swarm")
    result = run_swarm(mixes, domains, evals, work, TorchProxyTrainer(),
                       ProxyConfig(steps=30, seq_len=64, batch_rows=8, dim=64, n_layers=2))
    for r in result.results:
        print(json.dumps({"mix": r["mix"], "bpb": r["bpb"]}))
    _, proposal = fit_and_propose(result.results, list(domains), prior, work, upper=upper)
    print("proposed:", json.dumps(proposal["mix"]), f"({len(result.trained)} proxies trained,"
          f" {len(result.reused)} reused; {work})")


if __name__ == "__main__":
    main()
