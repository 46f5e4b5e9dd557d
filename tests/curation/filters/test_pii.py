"""MaskPII: precision and recall per kind on labelled cases (pii_cases.py), the vectorised path
against Python's ``re.sub`` one document at a time with the same patterns, kinds and
placeholders, spans, counts, nulls, sentinel collisions, and a run's stats and side output."""

from __future__ import annotations

import json
import os
import random
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from corpora import write_jsonl
from pii_cases import HAND_WRITTEN, KNOWN_MISSES, all_cases, generated

from curation import Pipeline, read
from curation.core.stage import BatchContext
from curation.core.stats import StageStats
from curation.filters import MaskPII
from curation.filters.pii import (
    _SENTINEL_POOL,
    DEFAULT_PLACEHOLDERS,
    KINDS,
    REJECT,
    combined_pattern,
)

# measured on all_cases() (275 spans, 296 near-misses): precision 1.00 for every kind; recall
# e-mail 0.985, IPv4 1.00, IPv6 1.00, phone 0.96 (the misses are KNOWN_MISSES: a non-ASCII
# local part, space-only, bare-digit and 7-digit phone numbers); see the printed table
PRECISION, RECALL = 0.98, 0.95


def run(stage: MaskPII, texts: list[str | None]) -> tuple[pa.Table, BatchContext]:
    batch = pa.table({"id": [f"d{i}" for i in range(len(texts))],
                      "text": pa.array(texts, pa.large_string())})
    ctx = BatchContext(seed=0, shard=0, stats=StageStats())
    return stage.process(batch, ctx), ctx


def spans_of(ctx: BatchContext) -> list[dict]:
    return [r for t in ctx.side.get("pii_spans", []) for r in t.to_pylist()]


REFERENCE = re.compile(combined_pattern(), re.ASCII)


def reference(text: str, kinds=KINDS, placeholders=None) -> tuple[str, list[tuple]]:
    """``re.sub`` with the stage's patterns: the masked text and the spans (kind, start, end,
    text) masked."""
    placeholders = {**DEFAULT_PLACEHOLDERS, **(placeholders or {})}
    spans = []

    def replace(m: re.Match) -> str:
        kind = m.lastgroup
        rejected = kind in REJECT and re.fullmatch(REJECT[kind], m.group(), re.ASCII)
        if kind == "skip" or kind not in kinds or rejected:
            return m.group()
        spans.append((kind, m.start(), m.end(), m.group()))
        return placeholders[kind]

    return REFERENCE.sub(replace, text), spans


def fuzz_texts(n: int, seed: int) -> list[str]:
    """Random strings of the pieces the patterns' boundaries turn on."""
    rng = random.Random(seed)
    pieces = ["1", "12", "192", "255", "256", "0", "4567", "555", "800", ".", ":", "::", "-", " ",
              "  ", "+", "+1", "+44", "(", ")", "(0)", "@", "a", "ff", "db8", "x", "com", "org",
              "é", "日", "\n", "version ", "§", "==", "git@", "2x", "ISBN ", "_", "/", "%", ",",
              "e", "Z", "\u200d", "\ufdd0", "https://", "www."]
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 40))) for _ in range(n)]


def test_labelled_cases_are_enough():
    cases = all_cases()
    assert sum(len(c.pii) for c in cases) >= 150
    assert sum(len(c.near) for c in cases) >= 100
    assert generated(0)[0].text == generated(0)[0].text  # deterministic


def test_precision_and_recall_per_kind():
    cases = all_cases()
    out, ctx = run(MaskPII(spans=True), [c.text for c in cases])
    found = {(int(s["id"][1:]), s["kind"], s["start"], s["end"]) for s in spans_of(ctx)}
    labelled = {(i, *span) for i, c in enumerate(cases) for span in c.pii}
    lines = [f"{'kind':6} {'labelled':>8} {'found':>6} {'right':>6} {'precision':>9} "
             f"{'recall':>7}"]
    for kind in KINDS:
        want = {s for s in labelled if s[1] == kind}
        got = {s for s in found if s[1] == kind}
        right = len(want & got)
        precision, recall = right / max(len(got), 1), right / max(len(want), 1)
        lines.append(f"{kind:6} {len(want):>8} {len(got):>6} {right:>6} {precision:>9.3f} "
                     f"{recall:>7.3f}")
        assert want and precision >= PRECISION and recall >= RECALL, (kind, want ^ got)
    touched = [(i, a, b) for i, c in enumerate(cases) for a, b in c.near
               if any(s[0] == i and s[2] < b and a < s[3] for s in found)]
    n_near = sum(len(c.near) for c in cases)
    lines.append(f"near-misses left alone: {n_near - len(touched)}/{n_near}")
    print("\n" + "\n".join(lines))
    assert not touched
    missed = {(i, *s) for i, c in enumerate(cases) for s in c.pii} - found
    known = {len(cases) - len(HAND_WRITTEN) + i for i, c in enumerate(HAND_WRITTEN)
             if c in KNOWN_MISSES}
    assert {m[0] for m in missed} == known  # nothing missed but the documented misses


def test_equals_python_re_one_document_at_a_time():
    texts = [c.text for c in all_cases()] + fuzz_texts(3000, seed=7)
    for kinds, placeholders in [(KINDS, None), (("phone", "ipv4"), {"phone": "<$1 \\1 PHONE>"})]:
        stage = MaskPII(kinds=kinds, placeholders=placeholders, spans=True)
        out, ctx = run(stage, texts)
        expected = [reference(t, kinds, placeholders) for t in texts]
        assert out.column("text").to_pylist() == [e[0] for e in expected]
        assert out.column("pii_count").to_pylist() == [len(e[1]) for e in expected]
        assert [(int(s["id"][1:]), s["kind"], s["start"], s["end"], s["text"])
                for s in spans_of(ctx)] == [(i, *s) for i, e in enumerate(expected)
                                            for s in e[1]]
        counted = {f"masked_{k}": sum(s[0] == k for e in expected for s in e[1]) for k in kinds}
        assert ctx.stats.counts == {k: v for k, v in counted.items() if v}


def test_kinds_placeholders_and_nulls():
    text = "Mail li@example.com from 10.0.0.1, call 212-555-0199."
    out, ctx = run(MaskPII(kinds=["email"], placeholders={"email": "[EMAIL]"}), [text, None, ""])
    assert out.column("text").to_pylist() == [
        "Mail [EMAIL] from 10.0.0.1, call 212-555-0199.", None, ""]
    assert out.column("pii_count").to_pylist() == [1, 0, 0]
    assert out.schema.field("text").type == pa.large_string()
    assert "pii_spans" not in ctx.side  # spans only when asked
    out, _ = run(MaskPII(), [text])
    assert out.column("text")[0].as_py() == ("Mail |||EMAIL_ADDRESS||| from |||IP_ADDRESS|||, "
                                             "call |||PHONE_NUMBER|||.")
    with pytest.raises(ValueError, match="unknown PII kinds"):
        MaskPII(kinds=["ssn"])
    with pytest.raises(ValueError, match="unknown PII kinds"):
        MaskPII(placeholders={"ip": "x"})


def test_texts_holding_the_sentinels():
    """Texts that hold noncharacters get other sentinels; a batch holding every candidate is
    masked in halves; the result is the reference's either way."""
    pool = _SENTINEL_POOL
    texts = ["".join(pool[:33]) + " 10.0.0.1 " + "".join(pool[33:40]),
             "".join(pool[33:]) + " mail li@example.com",
             "\ufdd0 212-555-0199 \ufdd1"]
    out, ctx = run(MaskPII(spans=True), texts)
    assert out.column("text").to_pylist() == [reference(t)[0] for t in texts]
    assert [(s["id"], s["start"]) for s in spans_of(ctx)] == [
        (f"d{i}", s[1]) for i, t in enumerate(texts) for s in reference(t)[1]]


def test_a_run_counts_kinds_and_writes_spans(tmp_path):
    docs = [{"id": f"d{i}", "text": t} for i, t in enumerate(
        ["write to li@example.com or 10.0.0.1", "nothing here", "call +44 20 7946 0958"])]
    os.makedirs(tmp_path / "in")
    write_jsonl(tmp_path / "in" / "a.jsonl", docs)
    p = Pipeline("pii", str(tmp_path / "w"))
    p.sink(p.source(read(str(tmp_path / "in"), source="s")) >> MaskPII(spans=True),
           str(tmp_path / "o"))
    result = p.run(progress=False)
    assert result.stats["mask_pii"].counts == {"masked_email": 1, "masked_ipv4": 1,
                                                "masked_phone": 1}
    with open(tmp_path / "w" / "stats.json") as f:
        assert json.load(f)["stages"]["mask_pii"]["counts"]["masked_email"] == 1
    out = pa.concat_tables(pq.read_table(f) for f in result.outputs["sink"])
    assert out.column("pii_count").to_pylist() == [2, 0, 1]
    side = pq.read_table(tmp_path / "w" / "_side" / "mask_pii" / "pii_spans")
    assert side.column("kind").to_pylist() == ["email", "ipv4", "phone"]
