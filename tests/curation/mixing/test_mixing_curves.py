"""Upsampling curves: the closed form against quadrature, the constraints, infeasible targets."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad

from curation.mixing import InfeasibleTarget, fit_curve, max_ratio, plot_curves, upsample_topics
from curation.mixing.curves import bucket_edges, shape_integral, snap_cut

EQUAL = [1000.0] * 20  # 20 equal vigintiles of 1,000 tokens: 20,000 tokens


@pytest.mark.parametrize("target", [2_000, 10_000, 20_000, 40_000, 84_000])
def test_twenty_equal_buckets_meet_every_constraint(target):
    curve = fit_curve(EQUAL, target / sum(EQUAL), cut=0.4, max_repeat=7)
    rates = curve.rates()
    assert curve.cut == pytest.approx(0.4)
    assert (rates[:8] == 0).all()  # below the cut: discarded
    assert (rates[8:] > 0).all()
    assert (np.diff(rates[8:]) >= -1e-12).all()  # monotone above it
    assert curve.top_mean() <= 7 + 1e-9
    assert abs(curve.yields(EQUAL).sum() - target) <= 10
    assert curve.p >= 0 and curve.lam >= 0


@pytest.mark.parametrize("ratio", [0.3, 1.0, 4.2])
def test_yield_is_exact_at_a_billion_tokens(ratio):
    tokens = [5e7] * 20
    assert abs(fit_curve(tokens, ratio).yields(tokens).sum() - ratio * 1e9) <= 10


def test_cap_binds_when_reachable_and_flat_curve_at_the_maximum():
    assert fit_curve(EQUAL, 1.0).top_mean() == pytest.approx(7)
    flat = fit_curve(EQUAL, 4.2)
    assert flat.p == 0 and flat.lam == 0
    assert flat.rates()[8:] == pytest.approx([7] * 12)


def test_tiny_ratio_uses_the_exponential_and_stays_under_the_cap():
    curve = fit_curve(EQUAL, 0.3)  # below 7 x 0.05: the cap cannot bind
    assert curve.p == 16 and curve.lam > 0
    assert curve.top_mean() <= 7
    assert curve.yields(EQUAL).sum() == pytest.approx(6_000)


def test_infeasible_target_is_refused_with_the_largest_feasible_ratio():
    assert max_ratio(EQUAL) == pytest.approx(4.2)
    with pytest.raises(InfeasibleTarget, match=r"largest feasible ratio is 4\.2\b"):
        fit_curve(EQUAL, 4.3, topic="science")
    with pytest.raises(InfeasibleTarget, match="'science'"):
        upsample_topics({"science": EQUAL}, {"science": 90_000})


@pytest.mark.parametrize(("p", "lam"), [(0.0, 0.0), (0.7, 0.0), (2.5, 3.0), (9.0, 20.0)])
def test_closed_form_integral_matches_quadrature(p, lam):
    for u in (0.05, 0.3, 0.6):
        ref, _ = quad(lambda t: t**p * np.exp(lam * t), 0, u, epsabs=1e-14, epsrel=1e-12)
        assert shape_integral(u, p, lam) == pytest.approx(ref, rel=1e-9)


def test_curve_integral_and_bucket_means_match_quadrature():
    tokens = [50, 400, 10, 0, 900, 300, 120, 700, 80, 1500] * 2  # unequal, one empty
    curve = fit_curve(tokens, 1.3, cut=0.45)
    edges = curve.edges
    total, _ = quad(curve, curve.cut, 1, epsabs=1e-12, limit=200)
    assert total == pytest.approx(1.3, rel=1e-8)
    rates = curve.rates()
    for b in range(len(tokens)):
        lo, hi = edges[b], edges[b + 1]
        if hi > lo and lo >= curve.cut:
            mean = quad(curve, lo, hi, epsabs=1e-13)[0] / (hi - lo)
            assert rates[b] == pytest.approx(mean, rel=1e-7)
    assert abs(curve.yields(tokens).sum() - 1.3 * sum(tokens)) <= 10


def test_no_bucket_is_repeated_beyond_the_cap():
    """Empty top buckets sit where f is steepest: their rate (the edge value) is capped too."""
    tokens = [100.0] * 17 + [300.0, 0.0, 0.0]
    curve = fit_curve(tokens, 1.5, max_repeat=4)
    assert curve(1.0) > 4  # the uncapped edge value
    assert curve.rates().max() == pytest.approx(4)
    assert curve.rates()[18:] == pytest.approx([4, 4])


def test_cut_snaps_down_to_an_unequal_bucket_edge():
    edges = bucket_edges([10, 30, 20, 40])  # edges 0, .1, .4, .6, 1
    assert snap_cut(edges, 0.39) == pytest.approx(0.1)
    assert snap_cut(edges, 0.4) == pytest.approx(0.4)
    curve = fit_curve([10, 30, 20, 40], 0.5, cut=0.39)
    assert curve.rates()[0] == 0 and curve.rates()[1] > 0


def test_plot_is_written(tmp_path):
    topics = upsample_topics({"a": EQUAL, "b": [100.0 * (i + 1) for i in range(20)]},
                             {"a": 20_000, "b": 30_000})
    path = plot_curves(topics, str(tmp_path / "curves.png"))
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def dolma3_reference(tokens, ratio, cut=0.4, max_repeat=7.0) -> np.ndarray:
    """Bucket rates of Dolma 3's solver, by brute force with numerical quadrature: p over 200
    evenly spaced values in [0.01, 2], lam over 201 in [0, 2]; the largest p with a feasible
    lam (top-bucket mean at most max_repeat once the integral is the ratio), then its largest
    feasible lam."""
    edges = np.concatenate([[0.0], np.cumsum(tokens) / np.sum(tokens)])
    a = max(e for e in edges if e <= cut + 1e-12)
    top = edges[-2]

    def shape(p, lam):
        return lambda x: (x - a) ** p * np.exp(lam * (x - a)) if x >= a else 0.0

    for p in np.linspace(0.01, 2.0, 200)[::-1]:
        for lam in np.linspace(0.0, 2.0, 201)[::-1]:
            f = shape(p, lam)
            scale = ratio / quad(f, a, 1.0, epsabs=1e-13, epsrel=1e-12)[0]
            top_mean = scale * quad(f, max(top, a), 1.0, epsabs=1e-13)[0] / (1.0 - max(top, a))
            if top_mean <= max_repeat * (1 + 1e-12):
                buckets = zip(edges[:-1], edges[1:], strict=True)
                return np.array([scale * quad(f, max(lo, a), hi, epsabs=1e-13)[0] / (hi - lo)
                                 if hi > a else 0.0 for lo, hi in buckets])
    raise AssertionError("nothing feasible on the grid")


@pytest.mark.parametrize("ratio", [0.6, 1.0, 1.5, 3.0])  # 1.5 and 3.0: inside the grid
def test_the_dolma3_preset_matches_a_brute_force_search_of_its_grid(ratio):
    tokens = [1.0] * 20
    curve = fit_curve(tokens, ratio, preset="dolma3")
    assert np.abs(curve.rates() - dolma3_reference(tokens, ratio)).max() < 1e-3
    assert 0.01 <= curve.p <= 2 and 0 <= curve.lam <= 2
    assert curve.integral(0.0, 1.0) == pytest.approx(ratio, rel=1e-9)
    assert curve.top_mean() <= 7 * (1 + 1e-9)


def test_the_dolma3_grid_caps_p_where_the_default_would_not():
    default, grid = fit_curve([1.0] * 20, 0.6), fit_curve([1.0] * 20, 0.6, preset="dolma3")
    assert default.p > 2 and default.top_mean() == pytest.approx(7)  # the cap binds
    assert grid.p == 2 and grid.top_mean() < 7  # flatter: less budget on the best bucket
    with pytest.raises(ValueError, match="preset must be one of"):
        fit_curve([1.0] * 20, 0.6, preset="dolma2")
