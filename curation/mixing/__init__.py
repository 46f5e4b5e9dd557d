"""Mixing: quality-aware upsampling curves, token-constrained allocation, the mix plan and its
sampler, Dirichlet swarms of proxy runs, and mixing laws fitted to them."""

from curation.mixing.constrained import (
    Allocation,
    InfeasibleMix,
    allocate,
    capacities,
    weight_caps,
)
from curation.mixing.curves import (
    Curve,
    InfeasibleTarget,
    TopicUpsampling,
    bucket_edges,
    fit_curve,
    max_ratio,
    plot_curves,
    upsample_topics,
)
from curation.mixing.law import (
    DomainLaw,
    MixingLaw,
    fit_and_propose,
    fit_law,
    project_capped_simplex_kl,
    propose_mix,
)
from curation.mixing.mix import Mix
from curation.mixing.mix_plan import (
    MixPlan,
    PlanEntry,
    plan_from_allocation,
    plan_from_curves,
    topic_buckets,
)
from curation.mixing.sampler import Sample, tolerance, uniform_from_ids
from curation.mixing.swarm import (
    ProxyConfig,
    SwarmResult,
    VirtualDomain,
    domain_capacity,
    flatten,
    freeze,
    natural_prior,
    run_swarm,
    sample_mixtures,
)
from curation.mixing.upsample import Upsample

__all__ = [
    "Allocation", "Curve", "DomainLaw", "InfeasibleMix", "InfeasibleTarget", "Mix", "MixPlan",
    "MixingLaw", "PlanEntry", "ProxyConfig", "Sample", "SwarmResult", "TopicUpsampling", "Upsample",
    "VirtualDomain", "allocate", "bucket_edges", "capacities", "domain_capacity",
    "fit_and_propose", "fit_curve", "fit_law", "flatten", "freeze", "max_ratio", "natural_prior",
    "plan_from_allocation", "plan_from_curves", "plot_curves", "project_capped_simplex_kl",
    "propose_mix", "run_swarm", "sample_mixtures", "tolerance", "topic_buckets",
    "uniform_from_ids", "upsample_topics", "weight_caps",
]
