"""DocumentLength: bounds in characters, reasons counted, tag mode leaves rows untouched."""

from __future__ import annotations

import pyarrow as pa
import pytest

from curation.core.stage import BatchContext
from curation.core.stats import StageStats
from curation.filters import DocumentLength

TEXTS = ["", "short", "exactly ten", "é" * 12, "x" * 50]


def apply(stage, texts=TEXTS):
    ctx = BatchContext(seed=0, shard=0, stats=StageStats(), keep_rejects=True)
    out = stage.process(pa.table({"text": pa.array(texts, pa.large_string())}), ctx)
    return out, ctx


def test_bounds_are_in_characters_and_inclusive():
    out, ctx = apply(DocumentLength(min_chars=11, max_chars=12))
    assert out.column("text").to_pylist() == ["exactly ten", "é" * 12]
    assert ctx.stats.dropped == {"too_short": 2, "too_long": 1}
    rejected = pa.concat_tables(ctx.rejects)
    assert sorted(rejected.column("drop_reason").to_pylist()) == ["too_long", "too_short",
                                                                  "too_short"]


def test_tag_mode_adds_reason_column_only():
    out, ctx = apply(DocumentLength(min_chars=11, mode="tag"))
    assert out.column("text").to_pylist() == TEXTS
    assert out.column("document_length_reason").to_pylist() == [
        "too_short", "too_short", None, None, None]
    assert not ctx.stats.dropped


def test_bad_bounds():
    with pytest.raises(ValueError, match="above"):
        DocumentLength(min_chars=10, max_chars=5)


def test_null_text_has_no_characters():
    """A null text reads as the empty text (as in every other filter): too short, never kept
    by a lower bound."""
    out, ctx = apply(DocumentLength(min_chars=1), [None, "ok", None])
    assert out.column("text").to_pylist() == ["ok"]
    assert ctx.stats.dropped == {"too_short": 2}
    assert DocumentLength(min_chars=None, max_chars=5).reasons(
        pa.table({"text": pa.array([None], pa.large_string())})).to_pylist() == [None]
