"""A Dirichlet swarm: many tiny proxy trainings on mixtures sampled around a prior.

**Sampling** (``sample_mixtures``). Mixtures are weights over named domains (summing to 1).
Each one is drawn from ``Dirichlet(s * q)`` where ``q ∝ prior ** tau`` (the prior is the
natural token distribution; ``tau = 1`` keeps it, ``tau -> 0`` flattens it towards uniform),
with strength ``s`` drawn log-uniformly from ``strength`` (small ``s``: far from the prior,
sparse; large ``s``: close to it) and ``tau`` uniformly from ``temperature``, per mixture.
Weights below ``min_weight`` are zeroed and the rest renormalised. A mixture asking a domain
for more than its capacity (``w x budget > available x repetition cap``, tokens) is rejected,
and mixtures equal after rounding to ``1e-4`` are kept once. ``groups`` (domain -> source)
samples hierarchically: source weights around the sources' prior, then topic weights within
each source around its own prior, multiplied. The prior itself is the first mixture unless
``include_prior=False``.

**Proxies** (``run_swarm``). One task per mixture trains a tiny model (``ProxyConfig``) on the
mixture and reports bits per byte on each eval domain. The tasks run on the same executors as
a pipeline's (one by one, or as Ray tasks with bounded concurrency and retries); the training
itself is a ``ProxyTrainer``'s, passed in (``train.proxy.TorchProxyTrainer`` trains our
transformer), so that mixing does not depend on the trainer's code.
Each finished proxy writes ``<workdir>/runs/<fingerprint>.json`` atomically, the fingerprint
being that of the *flattened* mixture (tokenized directory -> weight), the proxy config, the
eval domains and the content of the directories (their manifests); a rerun reads those files
instead of retraining, so a killed swarm resumes, and changed data is trained again.

**Conditional mixing** (``freeze``). An optimised mixture can be frozen into a
``VirtualDomain`` (its components with fixed internal weights) and used as one domain of a new
swarm beside new domains. Earlier runs stay in the work dir and are never redone: a proxy of
the new swarm whose flattened mixture equals an earlier one (the frozen mix alone, say) reuses
its result.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from typing import Protocol

import numpy as np

from curation.core import fs
from curation.core.executors import Executor, make_executor
from curation.core.hashing import fingerprint
from curation.core.manifest import read_manifest
from curation.core.stats import StageStats
from curation.core.tasks import Task

ROUND = 1e-4  # mixtures closer than this per weight are duplicates


@dataclass(frozen=True)
class VirtualDomain:
    """A frozen mixture used as one domain: component name -> tokenized directory, and the
    components' fixed weights (summing to 1)."""

    components: dict[str, str]
    weights: dict[str, float]

    def __post_init__(self):
        if set(self.components) != set(self.weights):
            raise ValueError("a virtual domain needs one weight per component")
        total = sum(self.weights.values())
        if total <= 0 or min(self.weights.values()) < 0:
            raise ValueError("virtual domain weights must be non-negative, not all zero")
        object.__setattr__(self, "weights", {k: v / total for k, v in self.weights.items()})

    def capacity(self, capacity: dict[str, float]) -> float:
        """Most tokens of this mixture the components can supply, given theirs (tokens)."""
        return min(capacity[k] / w for k, w in self.weights.items() if w > 0)

    def to_dict(self) -> dict:
        return {"components": self.components, "weights": self.weights}


Domain = str | VirtualDomain


def freeze(mix: dict[str, float], domains: dict[str, Domain]) -> VirtualDomain:
    """Freeze ``mix`` over ``domains`` (possibly virtual themselves) into one virtual domain."""
    flat = flatten(mix, domains)
    return VirtualDomain({k: d for k, (d, _) in flat.items()},
                         {k: w for k, (_, w) in flat.items()})


def flatten(mix: dict[str, float], domains: dict[str, Domain]) -> dict[str, tuple[str, float]]:
    """The mixture over concrete sources: name -> (tokenized directory, weight), weights > 0."""
    out: dict[str, tuple[str, float]] = {}
    total = sum(mix.values())

    def add(name: str, directory: str, w: float) -> None:
        if name in out and out[name][0] != directory:
            raise ValueError(f"source name {name!r} stands for {out[name][0]} and {directory}")
        out[name] = (directory, out.get(name, (directory, 0.0))[1] + w)

    for name, w in mix.items():
        if w <= 0:
            continue
        d = domains[name]
        if isinstance(d, VirtualDomain):
            for k, v in d.weights.items():
                if v > 0:
                    add(k, d.components[k], w / total * v)
        else:
            add(name, d, w / total)
    return dict(sorted(out.items()))


def domain_capacity(domains: dict[str, Domain], capacity: dict[str, float]) -> dict[str, float]:
    """Capacity (tokens) of every domain, virtual ones from their components' capacities."""
    return {n: d.capacity(capacity) if isinstance(d, VirtualDomain) else capacity[n]
            for n, d in domains.items()}


def natural_prior(domains: dict[str, Domain]) -> tuple[dict[str, float], dict[str, int]]:
    """The natural token distribution over concrete domains (tokenized directories) from their
    manifests, and their available tokens: ``(prior, tokens)``."""
    from curation.core.manifest import read_manifest

    tokens = {}
    for name, d in domains.items():
        if isinstance(d, VirtualDomain):
            raise ValueError(f"{name} is virtual: give its prior weight yourself")
        tokens[name] = int(read_manifest(d)["totals"]["tokens"])
    total = sum(tokens.values())
    if total <= 0:
        raise ValueError("the domains hold no tokens")
    return {n: t / total for n, t in tokens.items()}, tokens


def _clean(w: np.ndarray, min_weight: float) -> np.ndarray | None:
    w = np.where(np.isfinite(w), w, 0.0)
    for _ in range(len(w)):
        if w.sum() <= 0:
            return None
        w = w / w.sum()
        small = (w > 0) & (w < min_weight)
        if not small.any():
            return w
        w = np.where(small, 0.0, w)
    return w / w.sum() if w.sum() > 0 else None


def _dirichlet(rng: np.random.Generator, prior: np.ndarray, strength: tuple[float, float],
               temperature: tuple[float, float]) -> np.ndarray:
    s = math.exp(rng.uniform(math.log(strength[0]), math.log(strength[1])))
    tau = rng.uniform(*temperature)
    q = prior ** tau
    alpha = np.maximum(s * q / q.sum(), 1e-3)
    return rng.dirichlet(alpha)


def sample_mixtures(prior: dict[str, float], k: int, seed: int = 0,
                    strength: tuple[float, float] = (0.5, 5.0),
                    temperature: tuple[float, float] = (0.5, 1.0), min_weight: float = 0.02,
                    capacity: dict[str, float] | None = None, budget: float | None = None,
                    groups: dict[str, str] | None = None, include_prior: bool = True,
                    max_draws: int = 100_000) -> list[dict[str, float]]:
    """``k`` distinct mixtures around ``prior`` (see the module doc); deterministic in ``seed``.

    ``capacity`` (tokens per domain) with ``budget`` (tokens of a proxy's or the final run)
    rejects mixtures that would repeat a domain past its cap. Raises ``RuntimeError`` when
    ``max_draws`` draws do not give ``k`` acceptable distinct mixtures.
    """
    names = sorted(prior)
    p = np.array([prior[n] for n in names], dtype=np.float64)
    if (p <= 0).any():
        raise ValueError("prior weights must be positive")
    p /= p.sum()
    upper = (np.array([capacity[n] / budget for n in names])
             if capacity is not None and budget is not None else None)
    rng = np.random.default_rng(seed)
    seen: set[tuple] = set()
    out: list[dict[str, float]] = []

    def accept(w: np.ndarray | None) -> None:
        if w is None or (upper is not None and (w > upper * (1 + 1e-9)).any()):
            return
        key = tuple(np.round(w / ROUND).astype(np.int64))
        if key not in seen:
            seen.add(key)
            out.append({n: float(x) for n, x in zip(names, w, strict=True)})

    if include_prior:
        accept(p.copy())
    for _ in range(max_draws):
        if len(out) >= k:
            break
        if groups is None:
            w = _dirichlet(rng, p, strength, temperature)
        else:
            labels = sorted({groups[n] for n in names})
            members = {g: [i for i, n in enumerate(names) if groups[n] == g] for g in labels}
            top = _dirichlet(rng, np.array([p[members[g]].sum() for g in labels]), strength,
                             temperature)
            w = np.zeros(len(names))
            for g, share in zip(labels, top, strict=True):
                idx = members[g]
                inner = (_dirichlet(rng, p[idx], strength, temperature) if len(idx) > 1
                         else np.ones(1))
                w[idx] = share * inner
        accept(_clean(w, min_weight))
    if len(out) < k:
        raise RuntimeError(f"only {len(out)} acceptable distinct mixtures in {max_draws} draws; "
                           "loosen min_weight, the strength range or the caps")
    return out[:k]


@dataclass(frozen=True)
class ProxyConfig:
    """A tiny proxy training: model size, steps and batch (tokens per step =
    ``batch_rows x seq_len``)."""

    steps: int = 5
    seq_len: int = 32
    batch_rows: int = 4
    dim: int = 32
    n_layers: int = 2
    n_heads: int = 4
    n_kv_heads: int = 2
    lr: float = 3e-3
    warmup_steps: int = 1
    eval_rows: int = 8
    seed: int = 0
    threads: int = 1  # torch threads per proxy


def data_identity(directories: set[str]) -> dict[str, str]:
    """Each tokenized directory's content fingerprint: that of its manifest (which lists every
    shard's checksum), so a proxy trained on other data under the same path is not reused."""
    return {d: fingerprint(read_manifest(d)) for d in sorted(directories)}


def proxy_fingerprint(flat: dict[str, tuple[str, float]], proxy: ProxyConfig,
                      eval_domains: dict[str, str], data: dict[str, str]) -> str:
    """What a proxy's result depends on: the flattened mixture, the proxy config, the eval
    domains and the content of every directory they read (``data``: `data_identity`)."""
    used = {d for d, _ in flat.values()} | set(eval_domains.values())
    return fingerprint({"mix": {k: [d, round(w, 9)] for k, (d, w) in flat.items()},
                        "proxy": asdict(proxy), "eval": dict(sorted(eval_domains.items())),
                        "data": {d: data[d] for d in sorted(used)}})


class ProxyTrainer(Protocol):
    """What a swarm needs of a trainer. ``flat`` maps each component to its tokenized
    directory and weight; ``eval_domains`` names held-out tokenized directories."""

    def prepare(self, directories: set[str], seq_len: int, cache_dir: str) -> None:
        """Make each tokenized directory ready for many proxies (once, before any task)."""

    def train(self, flat: dict[str, tuple[str, float]], eval_domains: dict[str, str],
              proxy: ProxyConfig, out_dir: str, cache_dir: str) -> dict[str, float]:
        """Train one proxy in ``out_dir``; bits per byte per eval domain."""


@dataclass
class ProxyTask(Task):
    """One proxy's training: writes its result file ``<workdir>/runs/<fingerprint>.json``."""

    mix: dict[str, float]
    flat: dict[str, tuple[str, float]]
    eval_domains: dict[str, str]
    proxy: ProxyConfig
    trainer: ProxyTrainer
    workdir: str

    def run(self) -> tuple[list[dict], dict[str, StageStats]]:
        t0 = time.perf_counter()
        out_dir = os.path.join(self.workdir, "proxies", self.fingerprint)
        shutil.rmtree(out_dir, ignore_errors=True)  # a half-done earlier attempt
        bpb = self.trainer.train(self.flat, self.eval_domains, self.proxy, out_dir,
                                 os.path.join(self.workdir, "cache"))
        result = {"fingerprint": self.fingerprint, "mix": self.mix,
                  "flat": {k: {"dir": d, "weight": w} for k, (d, w) in self.flat.items()},
                  "bpb": {k: float(v) for k, v in bpb.items()}, "proxy": asdict(self.proxy),
                  "seconds": time.perf_counter() - t0}
        path = _result_path(self.workdir, self.fingerprint)
        fs.write_json(path, result)
        return [{"path": path}], {}


def _result_path(workdir: str, fp: str) -> str:
    return os.path.join(workdir, "runs", f"{fp}.json")


@dataclass
class SwarmResult:
    results: list[dict]  # one per mixture, in the order given: mix, flat, bpb, fingerprint
    trained: list[str] = field(default_factory=list)  # fingerprints trained by this call
    reused: list[str] = field(default_factory=list)  # fingerprints read from the work dir

    def matrix(self, domains: list[str], evals: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Mixture weights ``(n, len(domains))`` and BPB ``(n, len(evals))``."""
        w = np.array([[r["mix"].get(d, 0.0) for d in domains] for r in self.results])
        y = np.array([[r["bpb"][e] for e in evals] for r in self.results])
        return w, y


def run_swarm(mixtures: list[dict[str, float]], domains: dict[str, Domain],
              eval_domains: dict[str, str], workdir: str, trainer: ProxyTrainer,
              proxy: ProxyConfig | None = None, executor: str | Executor = "ray",
              **executor_options) -> SwarmResult:
    """Train one proxy per mixture not already finished in ``workdir`` with ``trainer``, as
    tasks on ``executor`` (``"ray"``, ``"local"`` or an ``Executor``; options as
    ``make_executor``'s), and return every mixture's result."""
    proxy = proxy or ProxyConfig()
    os.makedirs(os.path.join(workdir, "runs"), exist_ok=True)
    flats = [flatten(mix, domains) for mix in mixtures]
    data = data_identity({d for flat in flats for d, _ in flat.values()}
                         | set(eval_domains.values()))
    jobs = [(proxy_fingerprint(flat, proxy, eval_domains, data), mix, flat)
            for mix, flat in zip(mixtures, flats, strict=True)]
    done = {fp: json.loads(fs.read_bytes(p)) for fp, _, _ in jobs
            if os.path.exists(p := _result_path(workdir, fp))}
    pending = {fp: (mix, flat) for fp, mix, flat in jobs if fp not in done}
    reused = [fp for fp, _, _ in jobs if fp in done]
    if pending:
        dirs = {d for _, flat in pending.values() for d, _ in flat.values()}
        trainer.prepare(dirs | set(eval_domains.values()), proxy.seq_len,
                        os.path.join(workdir, "cache"))
        tasks = [ProxyTask("swarm", "train", i, fp,
                           os.path.join(workdir, "records", f"{fp}.json"), f"mixture {mix}",
                           mix, flat, eval_domains, proxy, trainer, workdir)
                 for i, (fp, (mix, flat)) in enumerate(pending.items())]
        own = not isinstance(executor, Executor)
        ex = make_executor(executor, **executor_options) if own else executor
        try:
            ex.run(tasks, lambda _record: None)
        finally:
            if own:
                ex.close()
        done |= {fp: json.loads(fs.read_bytes(_result_path(workdir, fp))) for fp in pending}
    # a reused result may come from another swarm's domains: report it in this one's
    return SwarmResult([done[fp] | {"mix": mix} for fp, mix, _ in jobs], list(pending), reused)
