"""The fast word tokenizer against spaCy's blank English tokenizer, its reference: the frozen
rules are the installed spaCy's, tricky chunks and real pages tokenize the same, random
punctuation-heavy chunks almost always do, and the chunk cache never changes a result."""

from __future__ import annotations

import json
import random

import polars as pl
import pytest
import spacy
from filter_agreement import read_texts

from curation.filters import spacy_rules, words
from curation.samples.python_docs import build_python_docs_corpus

TRICKY = [
    "don't", "(don't)", "don't.", "I'm,", "you'd've", "'s", "\"'d'\".", "''", "cannot", "gonna",
    "):", ":*", ":)", "(:", "<3", ";-)", "e.g.,", "i.e.", "e.V.", "U.S.A.", "Mr.)", "Dr.",
    "https://example.com/a?b=c).", "www.python.org,", "user@example.com", "10km", "5.5kg.",
    "$5", "5$", "US$10", "+++", "+1", "1+1", "1-2-3", "a-b-c", "co-operate", "foo/bar",
    "a=b", "x:y", "a,b", "1,000", "3.14", "a...b", "...", "…", "hello…", "😀😀", "(((x)))",
    "=" * 80, "—hello—", "«quote»", "C++", "°F.", "10°C.", "AB.", "ab.", "[1]", "{x}", "#tag",
    "**bold**", "`code`", "f(x):", "${section.key}", "\\\")", "O'Neill's", "rock'n'roll",
]


def spacy_tokens(texts: list[str]) -> list[list[str]]:
    nlp = spacy.blank("en")
    return [[t.text for t in doc if not t.text.isspace()] for doc in nlp.tokenizer.pipe(texts)]


def ours(texts: list[str]) -> list[list[str]]:
    out = words.tokenize(pl.Series(texts, dtype=pl.String))
    grouped = dict(out.group_by("doc", maintain_order=True).agg("token").iter_rows())
    return [grouped.get(i, []) for i in range(len(texts))]


def test_rules_file_is_the_installed_spacys(tmp_path):
    with open(spacy_rules.RULES_FILE, encoding="utf-8") as f:
        shipped = json.load(f)
    assert words.freeze(str(tmp_path / "rules.json")) == shipped, \
        "run `python -m curation.filters.words` to refresh the frozen rules"


@pytest.mark.parametrize("chunk", TRICKY)
def test_tricky_chunks_match_spacy(chunk):
    words.reset_cache()
    assert ours([chunk]) == spacy_tokens([chunk])


def test_real_pages_match_spacy(tmp_path):
    texts = read_texts(build_python_docs_corpus(str(tmp_path)))
    assert ours(texts) == spacy_tokens(texts)


def test_random_punctuation_chunks_almost_always_match_spacy():
    """Look-around rules are matched with consumed context here: on chunks made to collide
    rules (letters, digits, quotes and punctuation at random) a few could split differently."""
    rng = random.Random(0)
    alphabet = "aAbZ09.,;:!?()[]{}'\"-=+/$%…#*&_@<>"
    chunks = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
              for _ in range(3000)]
    agree = sum(a == b for a, b in zip(ours(chunks), spacy_tokens(chunks), strict=True))
    assert agree / len(chunks) >= 0.995  # all 3000 agreed when this test was written


def test_peel_one_is_spacys_loop():
    """The one-at-a-time tail agrees with spaCy's own explanation of its affix rules."""
    tokenizer = spacy.blank("en").tokenizer
    for chunk in ["(((x)))", "=" * 20, "((don't))", "[[1]].", "...hello..."]:
        pre, core, suf = words._peel_one(chunk)
        explained = [t for _, t in tokenizer.explain(chunk)]
        assert pre == explained[: len(pre)]
        assert list(reversed(suf)) == explained[len(explained) - len(suf):]


def test_cache_never_changes_a_result():
    texts = TRICKY + [" ".join(TRICKY)] * 3 + ["plain words only"] * 2
    words.reset_cache()
    cold = ours(texts)
    assert ours(texts) == cold  # warm
    for restarting in (words.ChunkTable(words.split_chunks, max_chunks=5),
                       words.ChunkCache(max_chunks=5)):  # restart on every call
        words._CACHES["en"] = restarting
        assert ours(texts) == cold and ours(texts[::-1]) == cold[::-1]
    words.reset_cache()
