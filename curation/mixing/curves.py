"""Quality-aware upsampling curves: how often each quality bucket of a topic is repeated.

Along one topic's quality axis, ``x`` in ``[0, 1]`` is the cumulative fraction of the topic's
tokens, lowest quality first (bucket ``b`` of ``n`` covers ``[e_b, e_{b+1})`` with
``e_{b+1} - e_b`` = its share of the tokens; buckets need not be equal). The repetition density
is a truncated power-exponential curve::

    f(x) = 0                                   x < a
    f(x) = C (x - a)^p exp(lam (x - a))        x >= a,   with p >= 0, lam >= 0, C > 0

so ``f`` is non-decreasing (better data is never repeated less than worse data). A bucket's
**repetition rate** is the mean of ``f`` over its interval (how many times each of its tokens
appears in the mix; fractional rates are realised by sampling) and its **token yield** is
``rate x tokens``. The cut ``a`` (0.4 by default) snaps down to the nearest bucket edge, so a
bucket is either wholly discarded or wholly kept.

Constraints, for a topic with ``X`` available tokens and ``Z`` wanted:

- ``integral_0^1 f = R = Z / X`` (the yields then sum to ``Z`` exactly, up to float rounding);
- the mean of ``f`` over the top (last non-empty) bucket is at most ``M`` (7 by default).

The largest ratio any non-decreasing curve can reach under the cap is ``M (1 - a)`` (the flat
curve ``f = M`` above the cut); a target above it is refused with that number in the message.

**Closed form.** With ``u = x - a`` and ``s = lam u``::

    integral_0^u t^p exp(lam t) dt = u^(p+1) / (p+1) * 1F1(p+1; p+2; lam u)

(Kummer's confluent hypergeometric function, the lower incomplete gamma function continued to
a negative argument: ``(-lam)^-(p+1) gamma(p+1, -lam u)``), computed with
``scipy.special.hyp1f1``. The tests check it against numerical quadrature.

**Which curve.** ``C`` follows from the integral. For ``(p, lam)`` we spend the repetition
budget on the best data: the top-bucket mean is made equal to ``M`` (the cap binds) whenever the
family can reach it. The ratio ``g = top-bucket mean / integral`` grows with both ``p`` and
``lam``; like OLMo 3's curve fitting we prefer the **largest feasible ``p``** with ``lam = 0``:
``p`` solves ``g(p, 0) = M / R`` (Brent's method). Only when that ``p`` would exceed ``p_max``
is ``p = p_max`` kept and ``lam`` solved from ``g(p_max, lam) = M / R``; if even
``lam_max`` cannot reach the cap (a tiny ratio), ``(p_max, lam_max)`` is used and the cap does
not bind. ``R = M (1 - a)`` gives the flat curve ``p = lam = 0``.

**Preset ``dolma3``.** Dolma 3's solver searches a grid instead: ``p`` over ``DOLMA3_P`` (200
evenly spaced values in ``[0.01, 2]``) and ``lam`` over ``DOLMA3_LAM`` (201 in ``[0, 2]``); a
pair is feasible when, with ``C`` from the integral, the top-bucket mean is at most ``M``; it
takes the largest feasible ``p`` and, for that ``p``, the largest feasible ``lam``. It differs
from the default in two ways: the grid caps ``p`` and ``lam`` at 2, so at large ratios, where
the default's ``p`` would exceed 2 to make the cap bind, the grid keeps ``p = 2`` and spends
less of the budget on the best bucket (a flatter curve, more mid-quality repetition); and its
``p`` is a grid value (steps of 0.01) rather than the root of ``g = M / R``. The default finds
the exact curve on which the cap binds, which is the point of the cap; the preset reproduces
the published mixes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import hyp1f1

from curation.core.errors import CurationError

DEFAULT_CUT = 0.4
DEFAULT_MAX_REPEAT = 7.0
PRESETS = (None, "dolma3")
DOLMA3_P = np.linspace(0.01, 2.0, 200)
DOLMA3_LAM = np.linspace(0.0, 2.0, 201)


class InfeasibleTarget(CurationError):
    """A topic's target ratio cannot be reached under the repetition cap."""


def shape_integral(u: np.ndarray | float, p: float, lam: float) -> np.ndarray:
    """``integral_0^u t^p exp(lam t) dt`` for ``u >= 0`` (closed form, see the module doc)."""
    u = np.maximum(np.asarray(u, dtype=np.float64), 0.0)
    return u ** (p + 1) / (p + 1) * hyp1f1(p + 1, p + 2, lam * u)


def _log_shape_integral(u: float, p: float, lam: float) -> float:
    if u <= 0:
        return -math.inf
    return (p + 1) * math.log(u) - math.log(p + 1) + math.log(hyp1f1(p + 1, p + 2, lam * u))


@dataclass(frozen=True)
class Curve:
    """One topic's fitted curve: ``f(x) = scale (x - cut)^p exp(lam (x - cut))`` above ``cut``.

    ``edges`` (``n + 1`` values from 0 to 1) are the bucket edges on the token-fraction axis.
    """

    cut: float
    p: float
    lam: float
    scale: float
    edges: tuple[float, ...]
    ratio: float  # integral of f over [0, 1] = tokens wanted / tokens available
    max_repeat: float

    def __call__(self, x: np.ndarray | float) -> np.ndarray:
        """``f(x)``: the repetition density at token fraction ``x``."""
        u = np.asarray(x, dtype=np.float64) - self.cut
        safe = np.maximum(u, 0.0)
        out = self.scale * safe ** self.p * np.exp(self.lam * safe)
        return np.where(u >= 0, out, 0.0)

    def integral(self, lo: np.ndarray | float, hi: np.ndarray | float) -> np.ndarray:
        """``integral_lo^hi f(x) dx`` (closed form)."""
        return self.scale * (shape_integral(np.asarray(hi) - self.cut, self.p, self.lam)
                             - shape_integral(np.asarray(lo) - self.cut, self.p, self.lam))

    def rates(self) -> np.ndarray:
        """Repetition rate of each bucket: mean of ``f`` over its interval. A bucket without
        tokens takes ``f`` at its edge, capped at ``max_repeat`` (it can still hold documents
        of no tokens, which must not be repeated beyond the cap)."""
        lo, hi = np.array(self.edges[:-1]), np.array(self.edges[1:])
        width = hi - lo
        mean = self.integral(lo, hi) / np.where(width > 0, width, 1.0)
        return np.where(width > 0, mean, np.minimum(self(lo), self.max_repeat))

    def yields(self, tokens: Sequence[float]) -> np.ndarray:
        """Tokens each bucket contributes to the mix: ``rate x tokens``."""
        return self.rates() * np.asarray(tokens, dtype=np.float64)

    def top_mean(self) -> float:
        """Mean of ``f`` over the top non-empty bucket (at most ``max_repeat``)."""
        rates, widths = self.rates(), np.diff(self.edges)
        return float(rates[np.flatnonzero(widths > 0)[-1]])


def bucket_edges(tokens: Sequence[float]) -> np.ndarray:
    """Edges on the token-fraction axis (``n + 1`` values, 0 to 1) of buckets with these token
    counts, lowest quality first."""
    t = np.asarray(tokens, dtype=np.float64)
    if t.ndim != 1 or len(t) == 0 or (t < 0).any() or t.sum() <= 0:
        raise ValueError("bucket tokens must be a non-empty list of non-negative counts, not all 0")
    edges = np.concatenate([[0.0], np.cumsum(t) / t.sum()])
    edges[-1] = 1.0
    return edges


def snap_cut(edges: np.ndarray, cut: float) -> float:
    """The largest bucket edge at or below ``cut`` (``cut`` in ``[0, 1)``)."""
    if not 0 <= cut < 1:
        raise ValueError(f"cut must be in [0, 1), not {cut}")
    return float(edges[edges <= cut + 1e-12].max())


def max_ratio(tokens: Sequence[float], cut: float = DEFAULT_CUT,
              max_repeat: float = DEFAULT_MAX_REPEAT) -> float:
    """The largest reachable ``tokens wanted / tokens available``: ``M (1 - a)`` (a snapped)."""
    return max_repeat * (1.0 - snap_cut(bucket_edges(tokens), cut))


def fit_curve(tokens: Sequence[float], ratio: float, cut: float = DEFAULT_CUT,
              max_repeat: float = DEFAULT_MAX_REPEAT, p_max: float = 16.0,
              lam_max: float = 64.0, topic: str = "", preset: str | None = None) -> Curve:
    """The curve of a topic whose buckets hold ``tokens`` (lowest quality first) for the target
    ``ratio`` = tokens wanted / tokens available; see the module doc for the choice of curve
    (``preset="dolma3"``: Dolma 3's grid search; ``p_max`` and ``lam_max`` are then unused).

    Raises ``InfeasibleTarget`` naming the largest feasible ratio when ``ratio`` exceeds it.
    """
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {PRESETS}, not {preset!r}")
    edges = bucket_edges(tokens)
    a = snap_cut(edges, cut)
    if ratio <= 0:
        raise ValueError(f"target ratio must be positive, not {ratio}")
    if max_repeat <= 0:
        raise ValueError(f"max_repeat must be positive, not {max_repeat}")
    length = 1.0 - a
    widths = np.diff(edges)
    top = int(np.flatnonzero(widths > 0)[-1])
    w = float(edges[top + 1] - max(edges[top], a))  # the top bucket lies above the cut
    limit = max_repeat * length
    name = f"topic {topic!r}" if topic else "this topic"
    if ratio > limit * (1 + 1e-12):
        raise InfeasibleTarget(
            f"target ratio {ratio:.6g} is infeasible for {name}: with the cut at {a:.4g} and at "
            f"most {max_repeat:g} repetitions in the top bucket, the largest feasible ratio is "
            f"{limit:.6g}")
    if preset == "dolma3":
        return _dolma3_curve(edges, a, w, ratio, max_repeat, name)
    want = max_repeat / ratio  # the top-bucket mean over the integral that makes the cap bind

    def g(p: float, lam: float) -> float:
        """Top-bucket mean / integral of the unscaled shape (log-space, stable for large p)."""
        below = _log_shape_integral(length - w, p, lam) - _log_shape_integral(length, p, lam)
        return -math.expm1(below) / w if below > -math.inf else 1.0 / w

    p, lam = 0.0, 0.0
    if want > g(0.0, 0.0) * (1 + 1e-12):
        if g(p_max, 0.0) >= want:
            p = brentq(lambda q: g(q, 0.0) - want, 0.0, p_max, xtol=1e-12)
        else:
            p = p_max
            if g(p_max, lam_max) >= want:
                lam = brentq(lambda q: g(p_max, q) - want, 0.0, lam_max, xtol=1e-12)
            else:
                lam = lam_max
    scale = ratio / float(shape_integral(length, p, lam))
    return Curve(a, float(p), float(lam), scale, tuple(float(e) for e in edges), ratio,
                 max_repeat)


def _dolma3_curve(edges: np.ndarray, a: float, w: float, ratio: float, max_repeat: float,
                  name: str) -> Curve:
    """Dolma 3's choice on the ``DOLMA3_P x DOLMA3_LAM`` grid (see the module doc): the largest
    feasible ``p``, then the largest feasible ``lam``."""
    length = 1.0 - a
    p, lam = np.meshgrid(DOLMA3_P, DOLMA3_LAM, indexing="ij")
    whole = shape_integral(length, p, lam)
    top_mean = ratio * (whole - shape_integral(length - w, p, lam)) / whole / w
    feasible = top_mean <= max_repeat * (1 + 1e-12)
    rows = np.flatnonzero(feasible.any(axis=1))
    if not len(rows):
        raise InfeasibleTarget(
            f"target ratio {ratio:.6g} is infeasible for {name} on Dolma 3's grid: even "
            f"p = {DOLMA3_P[0]:g}, lam = 0 puts more than {max_repeat:g} repetitions in the top "
            "bucket")
    i = int(rows[-1])
    j = int(np.flatnonzero(feasible[i])[-1])
    return Curve(a, float(DOLMA3_P[i]), float(DOLMA3_LAM[j]), ratio / float(whole[i, j]),
                 tuple(float(e) for e in edges), ratio, max_repeat)


@dataclass(frozen=True)
class TopicUpsampling:
    """One topic's buckets, curve, rates and yields (tokens)."""

    topic: str
    tokens: tuple[float, ...]
    curve: Curve

    @property
    def rates(self) -> np.ndarray:
        return self.curve.rates()

    @property
    def yields(self) -> np.ndarray:
        return self.curve.yields(self.tokens)


def upsample_topics(buckets: dict[str, Sequence[float]], targets: dict[str, float],
                    cut: float = DEFAULT_CUT, max_repeat: float = DEFAULT_MAX_REPEAT,
                    preset: str | None = None) -> dict[str, TopicUpsampling]:
    """Fit one curve per topic: ``buckets[topic]`` = tokens per quality bucket (lowest first),
    ``targets[topic]`` = tokens wanted from it."""
    out = {}
    for topic in sorted(buckets):
        tokens = tuple(float(t) for t in buckets[topic])
        curve = fit_curve(tokens, targets[topic] / sum(tokens), cut, max_repeat, topic=topic,
                          preset=preset)
        out[topic] = TopicUpsampling(topic, tokens, curve)
    return out


def plot_curves(topics: dict[str, TopicUpsampling], path: str) -> str:
    """Plot each topic's density ``f`` and its per-bucket rates (steps) to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    xs = np.linspace(0, 1, 501)
    for name, t in topics.items():
        (line,) = axes[0].plot(xs, t.curve(xs), label=f"{name} (R={t.curve.ratio:.2f})")
        edges = np.array(t.curve.edges)
        axes[0].stairs(t.rates, edges, color=line.get_color(), alpha=0.4)
        axes[1].bar(np.arange(len(t.rates)), t.rates, alpha=0.5, label=name)
    axes[0].set(xlabel="cumulative token fraction (quality ascending)", ylabel="f(x)",
                title="upsampling curves and bucket rates")
    axes[1].set(xlabel="quality bucket", ylabel="repetitions per token", title="bucket rates")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
