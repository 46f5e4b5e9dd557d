"""The compiled tokenizer loop against its references: its three matchers against spaCy's
own ``find_prefix``, ``find_suffix`` and ``find_infix``, its tokens against spaCy's tokenizer
and against the column-wise path on every chunk of real pages."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import polars as pl
import pytest
import spacy
from filter_agreement import read_texts
from test_words import TRICKY

from curation.filters import affixes, spacy_rules, words
from curation.samples.python_docs import build_python_docs_corpus

COMPILED = ("en", "de", "es", "ru", "xx")
ALPHABET = "aAbZé09.,;:!?()[]{}'\"-=+/$%…#*&_@<>°Fkm²’«»—–~^"


def random_strings(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 8))) for _ in range(n)]


@pytest.mark.parametrize("language", COMPILED)
def test_matchers_equal_spacys(language):
    rules, tokenizer = affixes.compile_rules(language), spacy.blank(language).tokenizer
    for text in random_strings(3000) + TRICKY:
        want = (tokenizer.find_prefix(text) or 0, tokenizer.find_suffix(text) or 0,
                [(m.start(), m.end()) for m in tokenizer.find_infix(text)])
        assert affixes.matches(text, rules) == want, text


def test_languages_with_a_token_match_are_not_compiled():
    assert affixes.compile_rules("fr") is None


@pytest.mark.parametrize("pattern", ["a*b", "(?i)ab", "(?<!a)b", "(ab)+", "a|(?=b)c"])
def test_rules_of_other_shapes_are_refused(pattern):
    with pytest.raises(affixes.Unsupported):
        affixes.parse(pattern, affixes._Atoms())


def split(chunks: list[str], language: str = "en") -> list[list[str]]:
    tokens, columnwise = affixes.split(pl.Series(chunks, dtype=pl.String),
                                       affixes.compile_rules(language))
    assert not columnwise.any()
    grouped = dict(tokens.group_by("id", maintain_order=True).agg("token").iter_rows())
    return [grouped.get(i, []) for i in range(len(chunks))]


def test_tricky_chunks_equal_spacys_tokens():
    tokenizer = spacy.blank("en").tokenizer
    assert split(TRICKY) == [[t.text for t in tokenizer(c)] for c in TRICKY]


@pytest.mark.parametrize("language", COMPILED)
def test_random_chunks_equal_spacys_tokens(language):
    """Special cases, URLs and re-merged special cases included (no look-around is
    approximated here, unlike the column-wise path)."""
    tokenizer = spacy.blank(language).tokenizer
    chunks = random_strings(2000, seed=1) + [":):)", "(:))", "e.g.)", "x.Y:)", "a.b.c:("]
    assert split(chunks, language) == [[t.text for t in tokenizer(c)] for c in chunks]


def test_real_chunks_equal_the_columnwise_path(tmp_path):
    texts = read_texts(build_python_docs_corpus(str(tmp_path)))
    chunks = pl.Series(texts).str.extract_all(words.CHUNK).explode().unique(maintain_order=True)
    got = words.split_chunks(chunks)
    want = words.split_chunks_columnwise(chunks)
    assert got.equals(want)


def test_too_many_special_case_runs_go_columnwise():
    chunk = ":)" * (affixes.MAX_MERGES + 1)
    _, columnwise = affixes.split(pl.Series([chunk, "ok"]), affixes.compile_rules("en"))
    assert columnwise.tolist() == [True, False]
    got = words.split_chunks(pl.Series([chunk]))["token"].to_list()
    assert got == [t.text for t in spacy.blank("en").tokenizer(chunk)]


def test_special_cases_are_compared_not_only_hashed():
    """A chunk whose hash equals a special case's but whose characters differ is not it."""
    rules = affixes.compile_rules("en")
    s = list(spacy_rules.raw_rules("en")["specials"]).index("don't")
    collision = dataclasses.replace(
        rules, special_hash=np.array([affixes.hash_chars(affixes._codes("zzz"))], np.uint64),
        special_index=np.array([s], dtype=np.int64),
        special_filter=np.full(1024, 2**64 - 1, dtype=np.uint64))  # every hash passes
    tokens, _ = affixes.split(pl.Series(["zzz", "don't"]), collision)
    assert tokens["token"].to_list() == ["zzz", "don't"]
    assert split(["don't", "dont'"]) == [["do", "n't"], ["do", "nt", "'"]]


def test_url_cores_are_decided_by_spacys_pattern():
    """The Rust regex only screens cores for Python's ``re``: private addresses (look-aheads
    it lacks) and numeric word characters (Python's ``\\w``) are decided as spaCy does."""
    chunks = ["x.Y/a-b", "http://10.0.0.1/a-b", "http://8.8.8.8/a-b", "ab\u00b2://example.com/a-b",
              "www.example.com/a=b", "e.g.x-y", "foo.bar=Baz"]
    tokenizer = spacy.blank("en").tokenizer
    assert split(chunks) == [[t.text for t in tokenizer(c)] for c in chunks]


@pytest.mark.parametrize("language", COMPILED)
def test_remerged_special_cases_equal_spacys_tokens(language):
    """Every special case that the affix rules split and spaCy merges back, alone, twice and
    among affixes: runs are looked for only where their first tokens begin a special case's
    (``window_filter``), never missing one; a run whose tokens several special cases share
    (Spanish "Ee.Uu." and "Ee. Uu.") becomes the special case of its own text, as in spaCy.
    The column-wise path too."""
    raw = spacy_rules.raw_rules(language)
    windows = {k: tuple(v) for k, v in raw["matched_specials"].items()
               if len(v) > 1 or raw["specials"][k] != v}
    merged = [k for k in windows if not any(c.isspace() for c in k)]  # a chunk has no space
    assert merged
    chunks = [c for k in merged for c in (k, k + k, f"({k})", f"{k},", f"x{k}:)")]
    tokenizer = spacy.blank(language).tokenizer
    want = [[t.text for t in tokenizer(c)] for c in chunks]
    assert split(chunks, language) == want
    columnwise = words.split_chunks_columnwise(pl.Series(chunks), language)
    assert columnwise.group_by("id", maintain_order=True).agg("token")["token"].to_list() == want
