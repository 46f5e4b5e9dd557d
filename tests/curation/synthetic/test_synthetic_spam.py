"""Spam repeats its lines; low-quality pages are mostly fragments with a marker."""

from __future__ import annotations

from synthetic_corpus import rows


def test_spam_and_low_quality_look_bad(corpus):
    for row in rows(corpus, "spam"):
        lines = corpus["docs"][row["id"]]["text"].split("\n")
        assert len(set(lines)) <= len(lines) / 2  # heavily repeated lines
    for row in rows(corpus, "low_quality"):
        text = corpus["docs"][row["id"]]["text"]
        assert "{" in text or "lorem ipsum" in text.lower() or "javascript" in text.lower()
        lines = text.split("\n")
        assert sum(len(line) < 50 for line in lines) >= len(lines) / 2  # mostly fragments
