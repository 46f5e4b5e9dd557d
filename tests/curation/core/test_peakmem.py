"""The peak resident memory of a stretch of work, reset between tasks, and recorded per task."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_executors import build, make_inputs

from curation.core import peakmem


def test_the_peak_covers_what_was_held_since_the_reset():
    if not peakmem.reset():
        pytest.skip("no /proc/self/clear_refs here")
    before = peakmem.peak()
    held = np.ones(200 << 20, np.uint8)  # 200 MiB, touched
    del held
    assert peakmem.peak() >= before + (190 << 20)
    peakmem.reset()
    assert peakmem.peak() < before + (100 << 20)  # the old peak is forgotten


def test_every_task_record_says_when_it_ran_and_its_peak(tmp_path):
    inputs = make_inputs(tmp_path / "in", shards=2, docs=40)
    build(inputs, str(tmp_path / "w"), str(tmp_path / "o")).run("local", progress=False)
    records = [json.loads(p.read_text()) for p in (tmp_path / "w" / "_tasks").rglob("*.json")]
    assert records
    for r in records:
        assert r["started"] <= r["finished"]
        assert r["peak_rss"] is None or r["peak_rss"] > 10 << 20
