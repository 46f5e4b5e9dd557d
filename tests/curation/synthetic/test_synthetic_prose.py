"""English originals read like prose; non-English documents use only their language's words."""

from __future__ import annotations

import re

from synthetic_corpus import rows

from curation.synthetic import normalize, vocab


def test_originals_read_like_prose(corpus):
    for row in rows(corpus, "original"):
        text = corpus["docs"][row["id"]]["text"]
        assert 80 <= len(text.split()) <= 600
        for paragraph in text.split("\n\n"):
            for sentence in re.split(r"(?<=\.) ", paragraph):
                assert sentence[0].isupper() and sentence.endswith(".")
                assert 8 <= len(sentence.split()) <= 25
        words = normalize(text).split()
        assert sum(w in ("the", "of", "and", "to", "with") for w in words) >= 2


def test_non_english_documents(corpus):
    for row in corpus["truth"]:
        assert (row["lang"] != "en") == (row["kind"] == "non_english")
    langs = set()
    for row in rows(corpus, "non_english"):
        words = normalize(corpus["docs"][row["id"]]["text"]).split()
        known = set(vocab.LANGUAGES[row["lang"]])
        assert sum(w in known for w in words) == len(words)
        langs.add(row["lang"])
    assert langs == set(vocab.LANGUAGES)
