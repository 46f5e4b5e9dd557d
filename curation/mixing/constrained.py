"""Token-constrained mixing: mixture weights -> per-domain token targets within repetition caps.

A domain ``d`` has ``available[d]`` unique tokens and may be repeated at most ``caps[d]`` times,
so it can supply at most ``capacity[d] = available[d] x caps[d]`` tokens. Asked for ``budget``
tokens with weights ``w`` (normalised to sum 1), each domain wants ``w[d] x budget``; a domain
that wants more than its capacity is clipped to it and its excess is redistributed to the
unclipped domains in proportion to their weights, repeatedly, until nothing exceeds its
capacity (water-filling; at most one round per domain).

Invariants of the result: ``targets[d] <= capacity[d]`` for every domain; the targets sum to the
budget unless the total capacity is below it (then every domain with weight is at capacity and
the shortfall is reported, or raised with ``strict=True``); domains that reached their capacity
are listed in ``binding``. Token counts are floats (tokens); ``repetition[d]`` is
``targets[d] / available[d]`` (0 for an empty domain).
"""

from __future__ import annotations

from dataclasses import dataclass

from curation.core.errors import CurationError


class InfeasibleMix(CurationError):
    """The budget exceeds what the domains with weight can supply within their caps."""


@dataclass(frozen=True)
class Allocation:
    targets: dict[str, float]  # tokens per domain
    repetition: dict[str, float]  # targets / available
    binding: tuple[str, ...]  # domains at their capacity (their cap binds)
    shortfall: float  # budget - sum(targets), > 0 only when the budget is infeasible

    @property
    def weights(self) -> dict[str, float]:
        """The realised mixture weights (targets normalised)."""
        total = sum(self.targets.values())
        return {d: t / total if total else 0.0 for d, t in self.targets.items()}


def capacities(available: dict[str, float], caps: dict[str, float] | float) -> dict[str, float]:
    """Most tokens each domain can supply: ``available x cap`` (a float cap applies to all)."""
    return {d: float(a) * float(caps if isinstance(caps, int | float) else caps[d])
            for d, a in available.items()}


def weight_caps(capacity: dict[str, float], budget: float) -> dict[str, float]:
    """Largest mixture weight of each domain for a run of ``budget`` tokens:
    ``capacity / budget`` (what ``propose_mix`` and ``sample_mixtures`` respect)."""
    if budget <= 0:
        raise ValueError(f"budget must be positive, not {budget}")
    return {d: c / budget for d, c in capacity.items()}


def allocate(weights: dict[str, float], available: dict[str, float], budget: float,
             caps: dict[str, float] | float, strict: bool = True) -> Allocation:
    """Token targets for ``budget`` tokens mixed by ``weights`` within ``available x caps``.

    Domains absent from ``weights`` get weight 0. ``strict`` raises ``InfeasibleMix`` (naming
    the total capacity and the binding domains) when the budget cannot be met.
    """
    if budget <= 0:
        raise ValueError(f"budget must be positive, not {budget}")
    unknown = set(weights) - set(available)
    if unknown:
        raise ValueError(f"weights for domains without available tokens: {sorted(unknown)}")
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError("weights must be non-negative and not all zero")
    cap = capacities(available, caps)
    w = {d: float(weights.get(d, 0.0)) for d in available}
    targets = {d: 0.0 for d in available}
    free = {d for d, x in w.items() if x > 0}
    remaining = float(budget)
    while free and remaining > 0:
        total_w = sum(w[d] for d in free)
        want = {d: remaining * w[d] / total_w for d in free}
        over = {d for d in free if want[d] >= cap[d] - targets[d]}
        if not over:
            for d in free:
                targets[d] += want[d]
            remaining = 0.0
            break
        for d in sorted(over):
            remaining -= cap[d] - targets[d]
            targets[d] = cap[d]
        free -= over
    binding = tuple(sorted(d for d in available if w[d] > 0 and targets[d] >= cap[d]))
    shortfall = max(0.0, budget - sum(targets.values()))
    if shortfall > 1e-9 * budget:
        if strict:
            raise InfeasibleMix(
                f"budget of {budget:.6g} tokens is infeasible: the domains with weight can supply "
                f"at most {sum(cap[d] for d in available if w[d] > 0):.6g} tokens within their "
                f"repetition caps (binding: {', '.join(binding)})")
    else:
        shortfall = 0.0
    repetition = {d: targets[d] / available[d] if available[d] else 0.0 for d in available}
    return Allocation(targets, repetition, binding, shortfall)
