"""Tokens and n-gram hashes: normalisation, spans into the original text, n-grams equal exactly
when their token sequences are, none across document boundaries."""

from __future__ import annotations

import numpy as np

from curation.decon.tokens import Tokens, ngrams, normalize


def test_normalize_case_punctuation_whitespace():
    assert normalize("  Hello,\tWORLD!! foo_bar--42 ") == "hello world foo bar 42"
    tokens = Tokens()
    a = tokens.text("What IS the (total) distance?\n\nIt is 40 km.")
    b = tokens.text("what is the total distance it is 40 km")
    assert a.tolist() == b.tolist()
    assert tokens.text("distance").tolist() != tokens.text("distances").tolist()


def test_batch_and_spans_agree_and_spans_point_at_words():
    tokens = Tokens()
    texts = ["Ünïcödé café, naïve!", "", "one two  three", "x"]
    hashes, offsets = tokens.batch(texts)
    assert offsets.tolist() == [0, 3, 3, 6, 7]
    for i, text in enumerate(texts):
        h, starts, ends = tokens.spans(text)
        assert h.tolist() == hashes[offsets[i] : offsets[i + 1]].tolist()
        words = [text[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
        assert " ".join(words).lower() == normalize(text)


def test_ngrams_match_brute_force_and_respect_boundaries():
    rng = np.random.default_rng(0)
    lengths = [0, 3, 5, 17, 4, 30]
    seqs = [rng.integers(0, 4, size=k).astype(np.uint64) for k in lengths]  # tiny vocab: repeats
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    grams, starts = ngrams(np.concatenate(seqs), offsets, 5)
    expected_starts = [offsets[d] + i for d, k in enumerate(lengths) for i in range(k - 4)]
    assert starts.tolist() == expected_starts
    flat = np.concatenate(seqs).tolist()
    tuples = [tuple(flat[s : s + 5]) for s in starts.tolist()]
    for i in range(len(tuples)):
        for j in range(len(tuples)):
            assert (grams[i] == grams[j]) == (tuples[i] == tuples[j])


def test_tokenizer_ids_and_spans(tokenizer_path):
    tokens = Tokens(tokenizer_path)
    text = "The QUICK brown fox, jumps over the lazy dog."
    hashes, offsets = tokens.batch([text, "the quick brown fox jumps over the lazy dog"])
    assert hashes[offsets[0] : offsets[1]].tolist() == hashes[offsets[1] : offsets[2]].tolist()
    h, starts, ends = tokens.spans(text)
    assert h.tolist() == hashes[offsets[0] : offsets[1]].tolist()
    assert starts[0] == 0 and ends[-1] == len(text) - 1
    assert all(s < e for s, e in zip(starts.tolist(), ends.tolist(), strict=True))


# Texts whose words polars' regex engine (the batch path) and Python's ``re`` split differently:
# combining marks (decomposed accents, Devanagari vowel signs) are word characters to polars
# and not to ``re``; "½" and "²" (category No) the other way round.
UNICODE_EDGE = [
    "cafe\u0301 nai\u0308ve re\u0301sume\u0301 x",
    "नमस्ते दुनिया, यह एक परीक्षण वाक्य है।",
    "½ cup and x² plus 𝔘𝔫𝔦 \U0001f600 done",
    "Ǆ\u0301\u0327 and e\u20dd end",
]


def test_batch_and_spans_agree_on_combining_marks_and_numerics():
    tokens = Tokens()
    hashes, offsets = tokens.batch(UNICODE_EDGE)
    for i, text in enumerate(UNICODE_EDGE):
        h, starts, ends = tokens.spans(text)
        assert h.tolist() == hashes[offsets[i] : offsets[i + 1]].tolist(), text
        words = [text[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
        assert tokens.text(" ".join(words)).tolist() == h.tolist()


def test_tokenizer_spans_agree_with_batch_on_combining_marks(tokenizer_path):
    tokens = Tokens(tokenizer_path)
    hashes, offsets = tokens.batch(UNICODE_EDGE)
    for i, text in enumerate(UNICODE_EDGE):
        h, starts, ends = tokens.spans(text)
        assert h.tolist() == hashes[offsets[i] : offsets[i + 1]].tolist(), text
        assert len(starts) == len(ends) == len(h)
        assert all(0 <= s <= e <= len(text) for s, e in zip(starts, ends, strict=True))
