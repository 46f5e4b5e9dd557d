"""Gopher's per-document word statistics against a plain Python count over the same words."""

from __future__ import annotations

import numpy as np
import polars as pl
from datatrove.utils.text import PUNCTUATION_SET
from filter_agreement import read_texts

from curation.filters.batch_words import BatchWords
from curation.filters.text import word_buffers
from curation.filters.word_stats import word_stats
from curation.samples.python_docs import build_python_docs_corpus

STOP = ("the", "be", "to", "of", "and", "that", "have", "with")


def plain(doc_words: list[list[str]], stop: tuple[str, ...]) -> np.ndarray:
    rows = []
    for ws in doc_words:
        kept = [w for w in ws if any(c not in PUNCTUATION_SET for c in w)]
        rows.append((len(ws), len(kept), sum(len(w) for w in kept),
                     sum(any(c.isalpha() for c in w) for w in ws), len(set(ws) & set(stop))))
    return np.array(rows, dtype=np.int64).reshape(-1, 5)


def test_equals_a_plain_count_on_real_pages(tmp_path):
    texts = read_texts(build_python_docs_corpus(str(tmp_path)))[:400]
    texts += ["", "...", "the the THE to", "naïve café 中文 ٣ — «»", "#### !!! ?"]
    w = word_buffers(pl.Series(texts))
    doc_words = [[] for _ in texts]
    for d, piece in w.frame().select("doc", "piece").iter_rows():
        doc_words[d].append(piece)
    assert (word_stats(w, len(texts), STOP) == plain(doc_words, STOP)).all()


def test_no_words_and_no_stop_words():
    w = BatchWords.of(np.zeros(0, np.uint32), pl.Series([], dtype=pl.String))
    assert word_stats(w, 3, ()).tolist() == [[0] * 5] * 3


def test_stop_words_of_any_script_and_sharing_first_bytes():
    """Stop words are found whatever their first byte (multi-byte ones included), among
    words that share it or hold them as a prefix."""
    stop = ("и", "в", "не", "на", "der", "die", "über", "t", "to", "the")
    texts = ["и в не на нет ив", "der die das dies über übers", "t to the th them toe",
             "И В Не", "", "не не не в"]
    w = word_buffers(pl.Series(texts), language="xx")
    doc_words = [[] for _ in texts]
    for d, piece in w.frame().select("doc", "piece").iter_rows():
        doc_words[d].append(piece)
    got = word_stats(w, len(texts), stop)
    assert (got == plain(doc_words, stop)).all()
    assert got[:, 4].tolist() == [4, 3, 3, 0, 0, 2]
