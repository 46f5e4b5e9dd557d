"""Mixing laws: planted parameters recovered from noisy data; the optimiser respects caps."""

from __future__ import annotations

import numpy as np
import pytest

from curation.mixing import fit_law, project_capped_simplex_kl, propose_mix, sample_mixtures

DOMAINS = ("books", "code", "math", "web")
PLANTED = {  # eval domain -> (c, k, t): BPB = c + k exp(t . w)
    "prose": (0.8, 0.9, np.array([-1.2, 0.4, 0.3, -0.8])),
    "code": (0.5, 1.1, np.array([0.5, -1.8, -0.2, 0.3])),
}


def planted_bpb(w: np.ndarray, e: str) -> np.ndarray:
    c, k, t = PLANTED[e]
    return c + k * np.exp(w @ t)


def synthetic(n: int, noise: float, seed: int = 0, outliers: int = 0):
    prior = {"books": 0.2, "code": 0.2, "math": 0.1, "web": 0.5}
    mixes = sample_mixtures(prior, n, seed=seed, min_weight=0.0, strength=(0.5, 4.0))
    w = np.array([[m[d] for d in DOMAINS] for m in mixes])
    rng = np.random.default_rng(seed)
    y = {e: planted_bpb(w, e) + rng.normal(0, noise, n) for e in PLANTED}
    for e in y:
        y[e][:outliers] += 0.5  # a few broken proxy runs
    return w, y


def test_fit_recovers_planted_parameters_despite_noise_and_outliers():
    w, y = synthetic(60, noise=0.003, outliers=3)
    law = fit_law(w, y, DOMAINS)
    for e, (c, k, t) in PLANTED.items():
        got = law.laws[e]
        assert got.c == pytest.approx(c, abs=0.02)
        assert got.k == pytest.approx(k * np.exp(t.mean()), rel=0.03)
        assert got.t_centred == pytest.approx(t - t.mean(), abs=0.05)
        assert law.cv_rmse[e] < 0.5 * np.sqrt(3 / 60) + 0.01  # the outliers' own share
    clean_w, _ = synthetic(20, noise=0.0, seed=9)
    for e in PLANTED:
        assert law.laws[e].predict(clean_w) == pytest.approx(planted_bpb(clean_w, e), abs=0.01)


def test_cross_validated_error_reflects_the_noise():
    w, y = synthetic(40, noise=0.002, seed=2)
    low = fit_law(w, y, DOMAINS)
    w, y = synthetic(40, noise=0.05, seed=2)
    high = fit_law(w, y, DOMAINS)
    for e in PLANTED:
        assert low.cv_rmse[e] < 0.005 < 0.03 < high.cv_rmse[e]


@pytest.fixture(scope="module")
def law():
    w, y = synthetic(40, noise=0.002)
    return fit_law(w, y, DOMAINS)


def test_kl_projection_onto_the_capped_simplex():
    upper = np.array([0.1, 0.5, 0.2, 1.0])
    w = project_capped_simplex_kl(np.array([5.0, 1.0, 3.0, 0.5]), upper)
    assert w.sum() == pytest.approx(1) and (w <= upper).all() and (w >= 0).all()
    assert w[0] == 0.1 and w[2] == 0.2  # capped
    assert w[1] / w[3] == pytest.approx(2)  # free weights keep their ratio
    with pytest.raises(ValueError, match="no mixture fits"):
        project_capped_simplex_kl(np.ones(2), np.array([0.3, 0.3]))


@pytest.mark.parametrize("kl_weight", [0.0, 0.05, 1.0])
def test_optimiser_never_exceeds_caps_and_improves_on_the_prior(law, kl_weight):
    prior = {"books": 0.2, "code": 0.2, "math": 0.1, "web": 0.5}
    upper = {"books": 0.25, "code": 0.3, "math": 0.15, "web": 0.9}
    mix = propose_mix(law, prior, upper, kl_weight=kl_weight)
    assert sum(mix.values()) == pytest.approx(1)
    for d in DOMAINS:
        assert 0 <= mix[d] <= upper[d] + 1e-12
    x = np.array([[mix[d] for d in DOMAINS]])
    p = np.array([[prior[d] for d in DOMAINS]])
    mean = lambda v: np.mean([law.laws[e].predict(v)[0] for e in PLANTED])  # noqa: E731
    assert mean(x) <= mean(p) + 1e-9
    if kl_weight == 0:  # unregularised: the caps of the helpful domains bind
        assert mix["books"] == pytest.approx(0.25) and mix["code"] == pytest.approx(0.3)
    if kl_weight == 1.0:  # strong pull: stays near the prior
        assert max(abs(mix[d] - prior[d]) for d in DOMAINS) < 0.15


def test_optimum_matches_a_brute_force_grid(law):
    prior = {d: 0.25 for d in DOMAINS}
    upper = {"books": 0.4, "code": 0.4, "math": 0.4, "web": 0.4}
    mix = propose_mix(law, prior, upper, kl_weight=0.02)

    def objective(v: np.ndarray) -> np.ndarray:
        pred = np.mean([law.laws[e].predict(v) for e in PLANTED], axis=0)
        kl = np.sum(np.where(v > 0, v * np.log(np.maximum(v, 1e-300) / 0.25), 0), axis=1)
        return pred + 0.02 * kl

    g = np.arange(0, 41) / 100
    grid = np.array([(a, b, c, 1 - a - b - c) for a in g for b in g for c in g
                     if 0 <= 1 - a - b - c <= 0.4 + 1e-12])
    best = objective(grid).min()
    assert objective(np.array([[mix[d] for d in DOMAINS]]))[0] <= best + 1e-9
