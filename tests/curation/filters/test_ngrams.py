"""curation.filters.ngrams: the n-gram kernel against datatrove 0.10.1's own functions
(``get_n_grams`` + ``find_top_duplicate``, ``find_all_duplicate``) per document and n, and
the Arrow buffers it reads."""

from __future__ import annotations

import glob
import os
import sysconfig

import numpy as np
import pyarrow as pa
import pytest
from datatrove.pipeline.filters.gopher_repetition_filter import (
    find_all_duplicate,
    find_top_duplicate,
    get_n_grams,
)

from curation.core.arrow_strings import string_buffers
from curation.filters.ngrams import _P, _mulmod, repeated_chars
from curation.filters.text import ratio

TOP = (2, 3, 4)
DUP = (5, 6, 7, 8, 9, 10)


def reference(words: list[str], rules) -> list[int]:
    """datatrove's repeated characters per rule (-1: a top rule it skips, fewer words than
    n)."""
    out = []
    for n, top in rules:
        if top:
            grams = get_n_grams(words, n)
            out.append(find_top_duplicate(grams) if grams else -1)
        else:
            out.append(find_all_duplicate(words, n))
    return out


def kernel(docs: list[list[str]], rules, fracs=None, text_len=None, exact=True,
           array_type=None) -> np.ndarray:
    array_type = array_type or pa.large_string()
    data, offsets = string_buffers(pa.array([w for d in docs for w in d], array_type))
    doc_off = np.concatenate([[0], np.cumsum([len(d) for d in docs])]).astype(np.int64)
    if text_len is None:
        text_len = [len(" ".join(d)) for d in docs]
    if fracs is None:
        fracs = [np.inf] * len(rules)
    return repeated_chars(data, offsets[:-1], offsets[1:], doc_off,
                          np.asarray(text_len, dtype=np.int64),
                          np.array([n for n, _ in rules], dtype=np.int64),
                          np.array([top for _, top in rules], dtype=np.bool_),
                          np.asarray(fracs, dtype=np.float64), exact)


def check(docs: list[list[str]], rules=tuple((n, True) for n in TOP)
          + tuple((n, False) for n in DUP)) -> None:
    got = kernel(docs, rules)
    want = np.array([reference(d, rules) for d in docs], dtype=np.int64).reshape(got.shape)
    bad = np.flatnonzero((got != want).any(axis=1))
    assert not len(bad), [(docs[i], got[i].tolist(), want[i].tolist()) for i in bad[:3]]


@pytest.mark.parametrize("seed", range(4))
def test_random_words_from_small_vocabularies(seed):
    """Many repeats, runs and overlapping n-grams; words that concatenate alike ("ab" "c" and
    "a" "bc"), multibyte words."""
    rng = np.random.default_rng(seed)
    vocab = ["a", "b", "ab", "c", "bc", "abc", "é", "中", "😀", "the", "x", "éa", "aé"]
    docs = []
    for size in rng.integers(0, 120, 300):
        words = vocab[:int(rng.integers(1, len(vocab) + 1))]
        docs.append([words[i] for i in rng.integers(0, len(words), size)])
    check(docs)


def test_short_and_empty_documents():
    docs = [[], ["a"], ["a", "b"], ["a", "a"], ["a", "b", "c"], ["x"] * 4, ["x"] * 5,
            ["x"] * 9, ["x"] * 10, ["x"] * 11, ["é"] * 10, [], ["中", "中", "中"]]
    check(docs)
    got = kernel([[]] * 3, [(2, True), (5, False)])
    assert got.tolist() == [[-1, 0]] * 3  # no 2-gram: datatrove skips; no 5-gram: 0


def test_concatenation_without_separator():
    """find_all_duplicate joins a window's words without separator: ("ab", "c") equals ("a",
    "bc") there, while the top n-grams keep the spaces."""
    docs = [["ab", "c", "a", "bc"], ["ab", "c", "d", "e", "f", "g", "a", "bc", "d", "e", "f"],
            ["==", "=", "=", "=", "=", "=", "=", "=", "==", "=", "="]]
    check(docs)
    assert kernel(docs[:1], [(2, False), (2, True)]).tolist() == [[3, 4]]
    assert kernel(docs[1:2], [(5, False)]).tolist() == [[6]]


def test_greedy_scan_skips():
    """A seen n-gram jumps the scan n words: the windows it skips are not added to the seen
    set, so a later copy of one of them is new (the case the scan's order decides)."""
    docs = [list("abcabcab"), list("aaaaaaaaaaaa"), list("abababababa"), list("aabaabaab")]
    check(docs, rules=[(n, False) for n in range(1, 6)] + [(n, True) for n in range(1, 6)])


def test_unicode_characters_not_bytes():
    docs = [["é", "é", "é", "é"], ["中文", "中文", "中文"], ["😀a", "😀a", "😀a", "b"]]
    check(docs, rules=[(1, True), (2, True), (1, False), (2, False)])
    assert kernel(docs[:1], [(2, True)]).tolist() == [[3 * 3]]  # "é é" (3 chars), 3 times


def test_words_of_real_text():
    """Words of stdlib sources and licence texts (str.split), with repeated boilerplate."""
    files = sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "json", "*.py")))
    files += sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "email", "*.py")))
    files += [os.path.join(sysconfig.get_paths()["stdlib"], "..", "LICENSE.txt")]
    docs = []
    for path in files:
        if os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                words = f.read().split()
            docs += [words[i:i + 700] for i in range(0, len(words), 700)]
    assert len(docs) > 20
    check(docs)


def test_rules_stop_at_the_first_failure():
    """A document that fails a rule is not evaluated further (-1 after it); the test is
    ``ratio(count, length) > frac``, x / 0 being inf for x > 0."""
    docs = [["a", "b"] * 10, ["a", "b", "c", "d", "e", "f"], ["x"] * 6]
    rules = [(2, True), (5, False), (6, False)]
    full = kernel(docs, rules)
    got = kernel(docs, rules, fracs=[0.2, 0.0, 0.0], exact=True)
    text_len = [len(" ".join(d)) for d in docs]
    for d in range(len(docs)):
        failed = False
        for r, frac in enumerate([0.2, 0.0, 0.0]):
            assert got[d, r] == (-1 if failed else full[d, r])
            failed |= bool(got[d, r] >= 0 and ratio(got[d, r], text_len[d]) > frac)
    zero = kernel([["x"] * 6, ["y", "z"]], [(5, False)], fracs=[0.5], text_len=[0, 0])
    assert zero.tolist() == [[5], [0]]  # inf > 0.5 fails (and stops nothing more); 0 passes


@pytest.mark.parametrize("seed", range(3))
def test_bound_skips_only_rules_that_pass(seed):
    """Not exact, a top rule the word-count bound shows passing is -2; every decision (the
    first failed rule of each document) is the exact one."""
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(40)] + ["the", "of", "a"]
    docs = [[vocab[i] for i in rng.integers(0, int(rng.integers(2, len(vocab))), size)]
            for size in rng.integers(0, 200, 400)]
    rules = [(n, True) for n in TOP] + [(n, False) for n in DUP]
    fracs = [0.2, 0.18, 0.16, 0.15, 0.14, 0.13, 0.12, 0.11, 0.10]
    exact = kernel(docs, rules)
    fast = kernel(docs, rules, fracs=fracs, exact=False)
    text_len = [len(" ".join(d)) for d in docs]
    assert (fast == -2).any()
    for d in range(len(docs)):
        first = next((r for r in range(len(rules)) if exact[d, r] >= 0
                      and ratio(exact[d, r], text_len[d]) > fracs[r]), None)
        got = next((r for r in range(len(rules)) if fast[d, r] >= 0
                    and ratio(fast[d, r], text_len[d]) > fracs[r]), None)
        assert got == first, (docs[d], exact[d], fast[d])
        assert all(fast[d, r] in (exact[d, r], -2) for r in range(len(rules))
                   if first is None or r <= first)


def test_words_with_spaces():
    """A space inside a word: the top n-grams compare the joined strings (("a b", "c")
    equals ("a", "b c")), the pruning by repeated prefixes does not apply."""
    docs = [["a b", "c", "a", "b c", "x", "a b", "c"], ["a b"] * 3 + ["a", "b"] * 3]
    check(docs, rules=[(2, True), (3, True), (4, True), (2, False)])
    fast = kernel(docs, [(2, True), (3, True)], fracs=[0.9, 0.9], exact=False)
    assert (fast >= 0).all()  # no bound without words free of spaces


def test_array_types_and_long_words():
    docs = [["ab" * 3000, "c", "ab" * 3000, "c", "x"], ["é" * 2100] * 3,  # > 4096 bytes
            ["x" * 5000, "y", "x" * 4000, "x" * 1000 + "y"]]  # long and short words alike
    check(docs, rules=[(1, True), (2, True), (1, False), (2, False)])
    assert kernel(docs[2:], [(2, False)]).tolist() == [[5001]]
    for array_type in (pa.string(), pa.large_string(), pa.string_view()):
        got = kernel([["a", "b"] * 6], [(2, True), (5, False)], array_type=array_type)
        assert got.tolist() == [reference(["a", "b"] * 6, [(2, True), (5, False)])]
        assert got.tolist() == [[3 * 6, 10]]


def test_mulmod():
    rng = np.random.default_rng(0)
    p = int(_P)
    values = [0, 1, 2, p - 1, p - 2, 2**60, 2**61 - 2] + [int(x) for x in
                                                          rng.integers(0, p, 50, dtype=np.uint64)]

    for a in values:
        for b in values[:12]:
            assert int(_mulmod(np.uint64(a), np.uint64(b))) == a * b % p
