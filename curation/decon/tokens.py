"""Normalisation, tokens and n-gram hashes, shared by eval items and documents.

Normalisation: lowercase, every character that is not a letter or a digit (punctuation,
symbols, ``_``) becomes a space, whitespace runs collapse. Tokens are then either the words
(``tokenizer=None``, the default) or the ids a Hugging Face ``tokenizers`` file (tokenizer.json)
gives the normalised text. Each token is a uint64: the polars hash (seed 0) of the lowercased
word, or the token id. Polars' hash is stable within one polars version only, so index
fingerprints include that version.

With a tokenizer, every text is encoded with one space in front (as AI2 decon pads every eval
and training text): an eval item's first word then gets the same token as the same word in the
middle of a document (byte-level BPE: "Ġthe", not "the"). Leading tokens that cover nothing but
that space (a lone "Ġ" or "▁") are dropped. Token counts, and so the length rule of the SIMPLE
scan, are in the tokenizer's tokens.

``Tokens.batch`` is the vectorised hot path (polars regex + hash over the whole batch, flat
arrays and offsets); ``Tokens.spans`` is the per-document path used only for documents that hit
an index: it also gives each token's character span in the original text (Unicode code points,
end exclusive).

An n-gram hash combines n consecutive token hashes with a polynomial (order-sensitive) then a
SplitMix64 finaliser; n-grams never straddle a document boundary.
"""

from __future__ import annotations

import re
from functools import cached_property

import numpy as np
import polars as pl

WORD = r"[^\W_]+"  # a run of letters and digits
_WORD_RE = re.compile(WORD)
_PRIME = np.uint64(0x100000001B3)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _words(text: str) -> list[str]:
    """The words of one text, found by polars' regex engine as in ``Tokens.batch``: Python's
    ``re`` reads ``WORD`` differently (combining marks, "½"), so it must not split them."""
    return pl.Series([text], dtype=pl.String).str.extract_all(WORD)[0].to_list()


def normalize(text: str) -> str:
    """Lowercase, non-alphanumerics to spaces, whitespace collapsed and stripped (Python's
    ``re``: combining marks split words here, unlike in ``Tokens``)."""
    return " ".join(m.group().lower() for m in _WORD_RE.finditer(text))


def _hash_words(words: pl.Series) -> np.ndarray:
    return words.str.to_lowercase().hash(seed=0).to_numpy().astype(np.uint64, copy=False)


class Tokens:
    """Tokenisation of texts into uint64 token hashes; ``tokenizer`` is a tokenizer.json path."""

    def __init__(self, tokenizer: str | None = None):
        self.tokenizer = tokenizer

    @cached_property
    def _hf(self):
        from tokenizers import Tokenizer

        return Tokenizer.from_file(self.tokenizer)

    def batch(self, texts: list[str] | pl.Series) -> tuple[np.ndarray, np.ndarray]:
        """(token hashes uint64 [T], offsets int64 [len(texts) + 1]): text i's tokens are
        ``hashes[offsets[i]:offsets[i + 1]]``."""
        series = texts if isinstance(texts, pl.Series) else pl.Series(texts, dtype=pl.String)
        words = series.str.extract_all(WORD)
        if self.tokenizer is None:
            lengths = words.list.len().fill_null(0).to_numpy().astype(np.int64)
            hashes = _hash_words(words.explode().drop_nulls())
        else:
            normalised = (" " + words.list.join(" ").str.to_lowercase().fill_null("")).to_list()
            encodings = self._hf.encode_batch(normalised, add_special_tokens=False)
            ids = [e.ids[_padding(e.offsets):] for e in encodings]
            lengths = np.fromiter(map(len, ids), np.int64, len(ids))
            hashes = np.fromiter((i for e in ids for i in e), np.uint64, int(lengths.sum()))
        offsets = np.zeros(len(lengths) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return hashes, offsets

    def spans(self, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(token hashes uint64, char starts int64, char ends int64) of one text."""
        found = _words(text)
        starts = np.zeros(len(found), np.int64)
        at = 0
        for i, word in enumerate(found):  # the gap before a word holds no word character
            starts[i] = at = text.index(word, at)
            at += len(word)
        ends = starts + np.fromiter(map(len, found), np.int64, len(found))
        words = pl.Series(found, dtype=pl.String)
        if self.tokenizer is None:
            return _hash_words(words), starts, ends
        lowered = words.str.to_lowercase().to_list()
        word_len = ends - starts
        low_len = np.fromiter(map(len, lowered), np.int64, len(lowered))
        # where each word starts in the encoded text: " " + the lowered words joined by " "
        norm_starts = np.ones(len(lowered), np.int64)
        if lowered:
            norm_starts[1:] += np.cumsum(low_len[:-1] + 1)
        encoding = self._hf.encode(" " + " ".join(lowered), add_special_tokens=False)
        skip = _padding(encoding.offsets)
        offsets = np.asarray(encoding.offsets[skip:], np.int64).reshape(-1, 2)
        ids = np.asarray(encoding.ids[skip:], np.uint64)
        if len(ids) == 0:
            return ids, np.zeros(0, np.int64), np.zeros(0, np.int64)
        # a token starts at its first word character: one starting in the gap before a word
        # (byte-level BPE's "Ġword") starts at that word; it ends after its last word character
        # (a token of the gap alone is an empty span at the next word)
        w = np.maximum(np.searchsorted(norm_starts, offsets[:, 0], side="right") - 1, 0)
        into = offsets[:, 0] - norm_starts[w]
        gap = into >= low_len[w]
        nxt = np.minimum(w + 1, len(lowered) - 1)
        token_starts = np.where(gap, starts[nxt], starts[w] + np.clip(into, 0, word_len[w]))
        we = np.maximum(np.searchsorted(norm_starts, offsets[:, 1] - 1, side="right") - 1, 0)
        token_ends = starts[we] + np.clip(offsets[:, 1] - norm_starts[we], 0, word_len[we])
        return ids, token_starts, np.maximum(token_ends, token_starts)  # a gap-only token: empty

    def text(self, text: str) -> np.ndarray:
        """Token hashes of one text (uint64)."""
        return self.batch([text])[0]


def _padding(offsets: list[tuple[int, int]]) -> int:
    """How many leading tokens of a text encoded with one space in front cover only that
    space."""
    k = 0
    while k < len(offsets) and offsets[k][1] <= 1:
        k += 1
    return k


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser, elementwise on uint64 (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _MIX1
    x = x ^ (x >> np.uint64(27))
    x = x * _MIX2
    return x ^ (x >> np.uint64(31))


def ngrams(hashes: np.ndarray, offsets: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(n-gram hashes uint64 [G], start token index int64 [G]) of every text, in order.

    The n-gram starting at token i of the flat array covers tokens ``i .. i + n - 1`` of the
    same text; a text with fewer than n tokens has none.
    """
    total = len(hashes)
    if total < n:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    count = total - n + 1
    acc = hashes[:count].copy()
    with np.errstate(over="ignore"):
        for k in range(1, n):
            np.multiply(acc, _PRIME, out=acc)
            np.add(acc, hashes[k : k + count], out=acc)
        grams = mix64(acc)
    starts = np.arange(count, dtype=np.int64)
    # start i is valid when i + n <= end of its text: the last n - 1 starts of each text are not
    ends = offsets[1:]
    valid = np.ones(count + n, bool)
    cut = np.repeat(ends, n - 1) - np.tile(np.arange(n - 1, 0, -1), len(ends))
    valid[cut[cut >= 0]] = False
    valid = valid[:count]
    return grams[valid], starts[valid]
