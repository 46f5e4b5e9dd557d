"""Python's whitespace (``str.strip``/``str.isspace``) includes the separators ``\\x1c``-``\\x1f``
that Unicode's White_Space (polars' ``strip_chars``) does not: datatrove strips lines and words
with Python, so the filters must too. Each text below is decided differently by a filter that
strips with polars' default set."""

from __future__ import annotations

import pyarrow as pa
import pytest
from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
)
from filter_agreement import datatrove_reasons

from curation.filters import C4Quality, FineWebQuality, GopherQuality, GopherRepetition

PROSE = ("The quick brown fox jumps over the lazy dog and that is what we have to say of it "
         "with some more words. ")
TEXTS = [
    "\x1c   ",
    "\u3000 \x1e",
    "http://x.com/a?b=c\x1c ",
    "extraordinary \x1c ",
    PROSE * 6 + " \x1f \x1c " * 60,
    "\n".join(f"\x1d- remember to pack the {w} carefully, with the others" for w in range(12)),
    "\n".join(f"the story of the brave knight number {i} who rode on…\x1e" for i in range(12)),
    ("\x1c\n" * 3 + PROSE + "\n") * 3,
    "\x1f" + PROSE * 3 + "\x1f",
    "\n".join(f"{PROSE} Number {i} of them.\x1c" for i in range(8)),
]


@pytest.mark.parametrize("ours,theirs", [
    (GopherQuality, GopherQualityFilter),
    (GopherRepetition, GopherRepetitionFilter),
    (C4Quality, C4QualityFilter),
    (FineWebQuality, FineWebQualityFilter),
], ids=["gopher_quality", "gopher_repetition", "c4", "fineweb"])
def test_python_whitespace_agrees_with_datatrove(ours, theirs):
    got = ours().reasons(pa.table({"text": TEXTS})).to_pylist()
    assert got == datatrove_reasons(theirs(), TEXTS)


def test_c4_rewritten_text_strips_python_whitespace():
    from datatrove.data import Document

    text = "\n".join(f"\x1c{PROSE}Sentence number {i} is here.\x1f" for i in range(6))
    reasons, rewritten = C4Quality().evaluate(pa.table({"text": [text]}))
    doc = Document(text=text, id="0")
    assert C4QualityFilter().filter(doc) is True and reasons.to_pylist() == [None]
    assert rewritten.to_pylist() == [doc.text]
