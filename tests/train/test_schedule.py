"""Schedules: values at known steps."""

from __future__ import annotations

import math

import pytest

from train.config import StageConfig
from train.schedule import batch_size_warmup, cosine, linear_to_zero, lr_multiplier, wsd


def test_wsd_linear():
    kw = dict(max_lr=1.0, total_steps=100, warmup_steps=10, decay_steps=20, min_lr=0.1)
    assert wsd(0, **kw) == pytest.approx(0.1)  # (0 + 1) / 10
    assert wsd(4, **kw) == pytest.approx(0.5)
    assert wsd(9, **kw) == pytest.approx(1.0)
    assert wsd(10, **kw) == 1.0
    assert wsd(79, **kw) == 1.0
    assert wsd(80, **kw) == 1.0  # decay starts here at p = 0
    assert wsd(90, **kw) == pytest.approx(0.55)  # halfway: 0.1 + 0.9 * 0.5
    assert wsd(99, **kw) == pytest.approx(0.1 + 0.9 * 0.05)
    assert wsd(100, **kw) == pytest.approx(0.1)
    assert wsd(500, **kw) == pytest.approx(0.1)


def test_wsd_shapes_and_default_decay():
    kw = dict(max_lr=2.0, total_steps=100)  # decay_fraction 0.2: decay over steps 80..100
    assert wsd(79, **kw) == 2.0
    assert wsd(90, **kw) == pytest.approx(1.0)
    assert wsd(90, **kw, decay_shape="cosine") == pytest.approx(1.0)
    quarter = 2.0 * (1 + math.cos(math.pi / 4)) / 2
    assert wsd(85, **kw, decay_shape="cosine") == pytest.approx(quarter)
    assert wsd(85, **kw, decay_shape="sqrt") == pytest.approx(2.0 * (1 - math.sqrt(0.25)))
    assert wsd(100, **kw, decay_shape="sqrt") == 0.0
    assert wsd(50, max_lr=2.0, total_steps=100, decay_steps=0) == 2.0
    with pytest.raises(ValueError, match="decay_shape"):
        wsd(90, **kw, decay_shape="step")
    with pytest.raises(ValueError, match="step"):
        wsd(-1, **kw)


def test_cosine():
    kw = dict(max_lr=1.0, total_steps=110, warmup_steps=10, min_lr=0.0)
    assert cosine(0, **kw) == pytest.approx(0.1)
    assert cosine(10, **kw) == pytest.approx(1.0)
    assert cosine(60, **kw) == pytest.approx(0.5)
    assert cosine(35, **kw) == pytest.approx((1 + math.cos(math.pi / 4)) / 2)
    assert cosine(110, **kw) == pytest.approx(0.0)
    assert cosine(1000, max_lr=3e-4, total_steps=100, min_lr=3e-5) == pytest.approx(3e-5)


def test_linear_to_zero():
    assert linear_to_zero(0, start_lr=4e-4, total_steps=100) == pytest.approx(4e-4)
    assert linear_to_zero(25, start_lr=4e-4, total_steps=100) == pytest.approx(3e-4)
    assert linear_to_zero(99, start_lr=4e-4, total_steps=100) == pytest.approx(4e-6)
    assert linear_to_zero(100, start_lr=4e-4, total_steps=100) == 0.0
    warm = dict(start_lr=1.0, total_steps=20, warmup_steps=4)
    assert [linear_to_zero(s, **warm) for s in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert linear_to_zero(4, **warm) == 1.0
    assert linear_to_zero(12, **warm) == pytest.approx(0.5)


def test_batch_size_warmup():
    kw = dict(start=64, final=512, warmup_steps=8, multiple_of=32)
    assert batch_size_warmup(0, **kw) == 64
    assert batch_size_warmup(1, **kw) == 96  # 64 + 448/8 = 120, rounded down to 96
    assert batch_size_warmup(4, **kw) == 288
    assert batch_size_warmup(7, **kw) == 448  # 456 -> 448
    assert batch_size_warmup(8, **kw) == 512
    assert batch_size_warmup(10**6, **kw) == 512


def test_lr_multipliers():
    s = StageConfig("s", {}, 10, schedule="linear_to_zero", lr_scale=0.5)
    assert [lr_multiplier(s, i) for i in (0, 5, 10)] == [0.5, 0.25, 0.0]
    with pytest.raises(ValueError, match="unknown schedule"):
        lr_multiplier(StageConfig("s", {}, 10, schedule="nope"), 0)
