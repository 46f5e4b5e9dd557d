"""The word lists' invariants that the generators rely on."""

from __future__ import annotations

import re

from curation.synthetic import vocab


def test_vocab_invariants():
    assert len(vocab.TOPICS) == 24
    english = [w for ws in (*vocab.TOPICS.values(), *vocab.COMMON.values()) for w in ws]
    assert all(re.fullmatch(r"[a-z]+", w) for w in english)
    assert all(25 <= len(ws) <= 40 for ws in vocab.TOPICS.values())
    assert all(len(ws) >= 100 and all(w.isalpha() for w in ws) for ws in vocab.LANGUAGES.values())
    assert all(len(b.encode()) > 500 for b in vocab.BOILERPLATE)
