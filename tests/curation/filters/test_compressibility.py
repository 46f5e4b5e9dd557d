"""Compressibility: ratios against zlib directly, bounds and reasons, tag mode."""

from __future__ import annotations

import random
import string
import zlib

import pyarrow as pa
import pytest

from curation.core.stage import BatchContext
from curation.core.stats import StageStats
from curation.filters import Compressibility
from curation.filters.compressibility import compression_ratios

PROSE = (
    "Early on a misty autumn morning, the fishermen of the small harbour town gathered their "
    "nets and prepared to sail. Nobody expected that the weather would change so quickly, yet "
    "within an hour dark clouds had rolled in from the west. The oldest sailor, who had spent "
    "fifty years at sea, warned the younger crews to stay close to the shore. Some listened "
    "to his advice; others, eager to reach the richer waters beyond the cape, ignored him and "
    "pressed on with their journey.")
REPEATED = "buy cheap pills now " * 200
_RNG = random.Random(0)
RANDOM = "".join(_RNG.choice(string.printable[:94]) for _ in range(2000))
TEXTS = [PROSE, REPEATED, RANDOM, "", "ü" * 3 + " naïve café"]


def run(stage, texts=TEXTS):
    ctx = BatchContext(seed=0, shard=0, stats=StageStats(), keep_rejects=True)
    return stage.process(pa.table({"text": pa.array(texts, pa.large_string())}), ctx), ctx


def test_ratios_are_zlib_over_utf8_bytes():
    got = compression_ratios(pa.array(TEXTS))
    for text, r in zip(TEXTS, got, strict=True):
        if text:
            data = text.encode()
            assert r == len(zlib.compress(data, 6)) / len(data)
    assert got[1] < 0.05 and 0.3 < got[0] < 0.7 < 0.8 < got[2]


def test_bounds_and_reasons():
    out, ctx = run(Compressibility(min_ratio=0.2, max_ratio=0.75))
    assert out.column("text").to_pylist() == [PROSE, ""]  # the empty text is kept
    # a very short text pays zlib's header: it reads as incompressible
    assert ctx.stats.dropped == {"too_compressible": 1, "incompressible": 2}
    out, ctx = run(Compressibility(min_ratio=None, max_ratio=None))
    assert out.num_rows == len(TEXTS) and not ctx.stats.dropped


def test_tag_mode_leaves_rows_untouched():
    out, ctx = run(Compressibility(max_ratio=0.75, mode="tag"))
    assert out.column("text").to_pylist() == TEXTS
    assert out.column("compressibility_reason").to_pylist()[:3] == [
        None, "too_compressible", "incompressible"]
    assert not ctx.stats.dropped


def test_bad_parameters():
    with pytest.raises(ValueError, match="above"):
        Compressibility(min_ratio=0.5, max_ratio=0.4)
    with pytest.raises(ValueError, match="level"):
        Compressibility(level=12)
