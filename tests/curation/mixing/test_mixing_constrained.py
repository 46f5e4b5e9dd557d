"""Token-constrained allocation: caps respected, excess redistributed, infeasibility named."""

from __future__ import annotations

import pytest

from curation.mixing import InfeasibleMix, allocate


def test_unconstrained_weights_give_proportional_targets():
    a = allocate({"web": 3, "code": 1}, {"web": 1e6, "code": 1e6}, 4e5, caps=4)
    assert a.targets == pytest.approx({"web": 3e5, "code": 1e5})
    assert a.binding == () and a.shortfall == 0
    assert a.repetition["code"] == pytest.approx(0.1)


def test_excess_is_redistributed_proportionally():
    available = {"web": 1e6, "math": 1e4, "code": 2e5, "books": 1e5}
    weights = {"web": 0.4, "math": 0.3, "code": 0.2, "books": 0.1}
    caps = {"web": 1, "math": 4, "code": 2, "books": 7}
    a = allocate(weights, available, 1e6, caps)
    assert sum(a.targets.values()) == pytest.approx(1e6)
    for d in available:
        assert a.targets[d] <= available[d] * caps[d] + 1e-6
    assert a.targets["math"] == pytest.approx(4e4)
    assert "math" in a.binding
    # the 260k excess of math went to the others in proportion 0.4 : 0.2 : 0.1 (web 4:2:1)
    free = {d: a.targets[d] for d in ("web", "code", "books")}
    assert free["web"] / free["books"] == pytest.approx(4)
    assert free["code"] / free["books"] == pytest.approx(2)


def test_cascading_caps_and_infeasible_budget():
    available = {"a": 100, "b": 100, "c": 1000}
    a = allocate({"a": 0.5, "b": 0.3, "c": 0.2}, available, 1000, caps=2)
    assert a.targets["a"] == 200 and a.targets["b"] == 200 and a.targets["c"] == 600
    assert a.binding == ("a", "b")
    with pytest.raises(InfeasibleMix, match="at most 2400 tokens"):
        allocate({"a": 0.5, "b": 0.3, "c": 0.2}, available, 3000, caps=2)
    soft = allocate({"a": 0.5, "b": 0.5}, available, 1000, caps=2, strict=False)
    assert soft.shortfall == pytest.approx(600) and soft.binding == ("a", "b")
    assert soft.targets["c"] == 0
