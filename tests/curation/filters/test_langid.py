"""Language ID with lid.176.ftz: accuracy on a hand-written 10-language sample, tagging,
filtering by language and score, and clear errors for missing or broken models."""

from __future__ import annotations

import json
import os

import pyarrow as pa
import pytest

from curation.core.errors import CurationError
from curation.core.stage import BatchContext
from curation.core.stats import StageStats
from curation.filters import LanguageID

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "data", "langid_sample.jsonl")


def sample() -> tuple[list[str], list[str]]:
    with open(SAMPLE, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return [r["text"] for r in rows], [r["lang"] for r in rows]


def batch_of(texts: list[str]) -> pa.Table:
    return pa.table({"id": [str(i) for i in range(len(texts))],
                     "text": pa.array(texts, pa.large_string())})


def test_accuracy_on_the_multilingual_sample():
    texts, langs = sample()
    assert len(set(langs)) >= 5
    out = LanguageID(mode="tag").process(batch_of(texts), BatchContext(0, 0, StageStats()))
    predicted = out.column("lang").to_pylist()
    accuracy = sum(p == t for p, t in zip(predicted, langs, strict=True)) / len(langs)
    assert accuracy >= 0.95, list(zip(predicted, langs, strict=True))
    assert out.column("language_id_reason").null_count == len(texts)  # tag mode keeps all


def test_keep_and_threshold_drop_with_reasons():
    texts, langs = sample()
    texts = texts + ["asdf qwer zxcv 1234 ;;;", "ok"]
    stats = StageStats()
    out = LanguageID(keep=["en", "fr"], min_score=0.5).process(
        batch_of(texts), BatchContext(0, 0, stats))
    kept = set(out.column("lang").to_pylist())
    assert kept <= {"en", "fr"} and len(out) >= 7
    assert stats.dropped["language"] >= 30
    assert sum(stats.dropped.values()) == len(texts) - len(out)


def test_missing_and_broken_models(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATE_LID_MODEL", str(tmp_path / "absent.ftz"))
    with pytest.raises(CurationError, match="no language-ID model at .*absent.ftz"):
        LanguageID()
    bad = tmp_path / "bad.ftz"
    bad.write_bytes(b"not a model")
    stage = LanguageID(model=str(bad))
    with pytest.raises(CurationError, match="bad.ftz: not a fastText model"):
        stage.setup()


def test_null_text_reads_as_empty():
    texts = ["The committee met on Tuesday and approved the budget for next year.", None]
    out = LanguageID(mode="tag").process(batch_of(texts), BatchContext(0, 0, StageStats()))
    empty = LanguageID(mode="tag").process(batch_of(["", texts[0]]),
                                           BatchContext(0, 0, StageStats()))
    assert out.column("lang").to_pylist() == empty.column("lang").to_pylist()[::-1]
    assert out.column("lang_score").to_pylist() == empty.column("lang_score").to_pylist()[::-1]
