"""Mixing laws fitted to a swarm, and the mixture they recommend.

**The law.** For each eval domain ``d``, bits per byte as a function of the mixture ``w``
(weights over the swarm's domains, summing to 1) follow a log-linear law::

    BPB_d(w) = c_d + k_d exp(sum_j t_dj w_j)

On the simplex ``k_d`` and a common shift of the ``t_dj`` are the same thing
(``k exp(t.w) = exp((t + log k).w)`` when ``sum w = 1``), so we fit ``c_d`` and ``t_d`` with
``k_d`` absorbed, and report the identifiable pair ``k_d = exp(mean_j t_dj)`` and centred
``t_dj - mean_j t_dj``. ``c_d`` is kept in ``[0, min observed BPB]`` and ``|t_dj| <= 50``.
The fit is robust: ``scipy.optimize.least_squares`` with the
``soft_l1`` loss (residual scale from the data), from several starts (``c`` below the smallest
observed BPB, ``t`` by linear least squares of ``log(BPB - c)`` on ``w``), keeping the lowest
cost, then refitted three times with the loss's scale set to the residuals' robust spread
(1.4826 x median absolute deviation), so that a few broken proxy runs barely pull the fit.
``cv_rmse`` is the K-fold cross-validated RMSE of each domain's predictions (BPB).

**The proposal** (``propose_mix``) minimises the mean predicted BPB over eval domains (or a
weighted mean) plus ``kl_weight x KL(w || prior)`` over the simplex with per-domain upper
bounds ``w_j <= u_j`` (``u_j = capacity_j / budget``: tokens the domain can supply within its
repetition cap over tokens of the run). The objective is convex (exponentials of linear
functions plus KL); we minimise it by mirror descent (exponentiated gradient) with a
backtracking step, each step followed by the exact KL (Bregman) projection onto the capped
simplex, ``w_j = min(u_j, z v_j)`` with ``z`` found by bisection; so every iterate, and the
answer, respects every cap.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from curation.core import fs


@dataclass(frozen=True)
class DomainLaw:
    """``BPB(w) = c + exp(t . w)`` for one eval domain (``t`` has ``k`` absorbed)."""

    c: float
    t: tuple[float, ...]

    def predict(self, w: np.ndarray) -> np.ndarray:
        return self.c + np.exp(np.asarray(w) @ np.array(self.t))

    @property
    def k(self) -> float:
        return float(np.exp(np.mean(self.t)))

    @property
    def t_centred(self) -> np.ndarray:
        return np.array(self.t) - np.mean(self.t)


@dataclass(frozen=True)
class MixingLaw:
    domains: tuple[str, ...]  # the mixture's domains, the columns of w
    laws: dict[str, DomainLaw]  # eval domain -> its law
    cv_rmse: dict[str, float]  # eval domain -> K-fold cross-validated RMSE (BPB)

    def predict(self, w: np.ndarray) -> dict[str, np.ndarray]:
        return {e: law.predict(w) for e, law in self.laws.items()}

    def to_dict(self) -> dict:
        return {"domains": list(self.domains), "cv_rmse": self.cv_rmse,
                "laws": {e: {"c": law.c, "k": law.k, "t": [float(x) for x in law.t_centred]}
                         for e, law in self.laws.items()}}


def _fit_one(w: np.ndarray, y: np.ndarray, ridge: float = 1e-4, t_bound: float = 50.0,
             max_nfev: int = 200) -> DomainLaw:
    """Robust fit of ``y = c + exp(w @ t)`` with ``0 <= c <= min(y)`` (BPB is non-negative and
    ``c`` is the part no mixture removes) and ``|t_j| <= t_bound``; a tiny ridge on the centred
    ``t`` keeps domains that no mixture varied from drifting."""
    n, m = w.shape
    lowest = float(y.min())
    spread = float(y.max() - lowest) or 1e-3
    scale = max(1.4826 * float(np.median(np.abs(y - np.median(y)))), 1e-4)
    centre = np.sqrt(ridge) * (np.eye(m) - 1.0 / m)

    def residuals(theta: np.ndarray) -> np.ndarray:
        pred = theta[0] + np.exp(w @ theta[1:])
        return np.concatenate([pred - y, centre @ theta[1:]])

    def jacobian(theta: np.ndarray) -> np.ndarray:
        e = np.exp(w @ theta[1:])
        top = np.column_stack([np.ones(n), e[:, None] * w])
        return np.vstack([top, np.column_stack([np.zeros(m), centre])])

    bounds = (np.concatenate([[0.0], np.full(m, -t_bound)]),
              np.concatenate([[max(lowest, 1e-9)], np.full(m, t_bound)]))

    def solve(x0: np.ndarray, f_scale: float):
        x0 = np.clip(x0, bounds[0], bounds[1])
        return least_squares(residuals, x0, jac=jacobian, bounds=bounds, loss="soft_l1",
                             f_scale=f_scale, max_nfev=max_nfev, x_scale="jac")

    best = None
    for below in (0.05, 0.5, 4.0):
        c0 = max(0.0, lowest - below * spread)
        c0 = c0 if c0 < lowest else 0.5 * lowest
        t0, *_ = np.linalg.lstsq(w, np.log(y - c0), rcond=None)
        fit = solve(np.concatenate([[c0], t0]), scale)
        if best is None or fit.cost < best.cost:
            best = fit
    for _ in range(3):  # rescale the robust loss to the residuals of the fit so far
        r = best.fun[:n]
        scale = max(1.4826 * float(np.median(np.abs(r - np.median(r)))), 1e-6 * spread)
        best = solve(best.x, scale)
    return DomainLaw(float(best.x[0]), tuple(float(v) for v in best.x[1:]))


def fit_law(w: np.ndarray, y: dict[str, np.ndarray], domains: Sequence[str],
            k_folds: int = 5, seed: int = 0) -> MixingLaw:
    """Fit one law per eval domain: ``w`` is ``(n, len(domains))`` mixtures, ``y[e]`` the
    ``n`` observed BPB of eval domain ``e``."""
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] != len(domains):
        raise ValueError(f"w must be (n, {len(domains)}), not {w.shape}")
    n = len(w)
    if n < 3:
        raise ValueError(f"need at least 3 mixtures to fit a law, not {n}")
    folds = np.array_split(np.random.default_rng(seed).permutation(n), min(k_folds, n))
    laws, cv = {}, {}
    for e in sorted(y):
        ys = np.asarray(y[e], dtype=np.float64)
        laws[e] = _fit_one(w, ys)
        errors = []
        for held in folds:
            train = np.setdiff1d(np.arange(n), held)
            errors.append(_fit_one(w[train], ys[train]).predict(w[held]) - ys[held])
        cv[e] = float(np.sqrt(np.mean(np.concatenate(errors) ** 2)))
    return MixingLaw(tuple(domains), laws, cv)


def project_capped_simplex_kl(v: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """KL projection of a positive ``v`` onto ``{w >= 0, sum w = 1, w <= upper}``:
    ``min(upper, z v)`` with ``z`` such that the sum is 1 (requires ``sum upper >= 1``)."""
    if upper.sum() < 1 - 1e-12:
        raise ValueError(f"caps sum to {upper.sum():.6g} < 1: no mixture fits them")
    lo, hi = 0.0, 1.0
    while np.minimum(upper, hi * v).sum() < 1:
        hi *= 2
        if hi > 1e300:
            raise ValueError("cannot reach a sum of 1 within the caps")
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if np.minimum(upper, mid * v).sum() < 1:
            lo = mid
        else:
            hi = mid
    w = np.minimum(upper, hi * v)
    free = w < upper
    if free.any():  # put the bisection's last rounding on the uncapped weights
        w[free] *= (1 - w[~free].sum()) / w[free].sum()
    return np.minimum(w, upper)


def propose_mix(law: MixingLaw, prior: dict[str, float], upper: dict[str, float] | None = None,
                kl_weight: float = 0.1, eval_weights: dict[str, float] | None = None,
                iterations: int = 2000, tol: float = 1e-12) -> dict[str, float]:
    """The mixture minimising mean predicted BPB + ``kl_weight x KL(w || prior)`` with
    ``w_j <= upper[j]`` (see the module doc). Domains missing from ``upper`` are uncapped."""
    names = list(law.domains)
    p = np.array([prior[n] for n in names], dtype=np.float64)
    if (p <= 0).any():
        raise ValueError("prior weights must be positive")
    p /= p.sum()
    u = np.array([(upper or {}).get(n, 1.0) for n in names], dtype=np.float64)
    ev = eval_weights or {e: 1.0 for e in law.laws}
    total = sum(ev.values())
    c = sum(ev[e] * law.laws[e].c for e in ev) / total
    t = np.array([law.laws[e].t for e in ev])
    a = np.array([ev[e] for e in ev]) / total

    def objective(w: np.ndarray) -> float:
        kl = float(np.sum(np.where(w > 0, w * np.log(np.maximum(w, 1e-300) / p), 0.0)))
        return c + float(a @ np.exp(t @ w)) + kl_weight * kl

    def gradient(w: np.ndarray) -> np.ndarray:
        return (a * np.exp(t @ w)) @ t + kl_weight * (np.log(np.maximum(w, 1e-300) / p) + 1)

    w = project_capped_simplex_kl(p, u)
    f, step = objective(w), 1.0
    for _ in range(iterations):
        g = gradient(w)  # shifted by its minimum below: the projection absorbs any shift
        if not np.isfinite(g).all():
            break
        fc, cand = math.inf, w
        while step >= 1e-12:  # backtrack until the objective does not increase
            cand = project_capped_simplex_kl(w * np.exp(-step * (g - g.min())) + 1e-300, u)
            fc = objective(cand)
            if math.isfinite(fc) and fc <= f:
                break
            step *= 0.5
        if not (math.isfinite(fc) and fc <= f):
            break  # no step improves: converged to machine precision
        converged = f - fc < tol
        w, f, step = cand, fc, min(step * 2, 1e3)
        if converged:
            break
    return {n: float(x) for n, x in zip(names, w, strict=True)}


def fit_and_propose(results: list[dict], domains: Sequence[str], prior: dict[str, float],
                    workdir: str, upper: dict[str, float] | None = None,
                    kl_weight: float = 0.1, k_folds: int = 5) -> tuple[MixingLaw, dict]:
    """Fit the law on swarm results (``mix`` and ``bpb`` per result), propose a mixture, and
    write ``<workdir>/law.json`` and ``<workdir>/proposed_mix.json``."""
    evals = sorted(results[0]["bpb"])
    w = np.array([[r["mix"].get(d, 0.0) for d in domains] for r in results])
    y = {e: np.array([r["bpb"][e] for r in results]) for e in evals}
    law = fit_law(w, y, domains, k_folds)
    mix = propose_mix(law, prior, upper, kl_weight)
    pred = {e: float(v[0]) for e, v in law.predict(np.array([[mix[d] for d in domains]])).items()}
    os.makedirs(workdir, exist_ok=True)
    fs.write_json(os.path.join(workdir, "law.json"), law.to_dict() | {"n_runs": len(results)})
    proposal = {"mix": mix, "predicted_bpb": pred, "prior": prior, "upper": upper,
                "kl_weight": kl_weight}
    fs.write_json(os.path.join(workdir, "proposed_mix.json"), proposal)
    return law, proposal
