"""Gopher's quality and repetition rules (Rae et al. 2021, table A1), as datatrove 0.10.1
applies them, vectorised over a batch.

Reasons are datatrove's (``gopher_short_doc``, ``dup_line_frac``, ``top_2_gram``...); a
document gets the reason of the first rule it fails, in datatrove's order. Words are
datatrove's English words (see ``curation.filters.text``); lengths are in characters.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from curation.core.stage import Filter
from curation.filters.text import (
    NOT_PUNCTUATION,
    PY_SPACE,
    check_tokenizer,
    duplicates,
    first_reason,
    per_doc,
    ratio,
    split_lines,
    split_regex,
    texts_of,
    words,
)

STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")


class GopherQuality(Filter):
    """Word count of non-symbol words in ``[min_doc_words, max_doc_words]``, their mean length
    in ``[min_avg_word_length, max_avg_word_length]``, ``#`` and ellipses per word at most
    ``max_symbol_word_ratio``, at most ``max_bullet_lines_ratio`` of lines starting with
    ``•``/``-`` and ``max_ellipsis_lines_ratio`` ending with an ellipsis, at least
    ``max_non_alpha_words_ratio`` (datatrove's name) of words with a letter, and at least
    ``min_stop_words`` distinct stop words. ``None`` (or 0) disables a rule, as in datatrove.
    ``tokenizer`` picks the word tokenizer (``"fast"`` or ``"spacy"``, see
    ``curation.filters.text``)."""

    version = 3  # 2: strips Python's whitespace (\x1c-\x1f too); 3: the fast tokenizer

    def __init__(
        self,
        min_doc_words: int | None = 50,
        max_doc_words: int | None = 100_000,
        min_avg_word_length: float | None = 3,
        max_avg_word_length: float | None = 10,
        max_symbol_word_ratio: float | None = 0.1,
        max_bullet_lines_ratio: float | None = 0.9,
        max_ellipsis_lines_ratio: float | None = 0.3,
        max_non_alpha_words_ratio: float | None = 0.8,
        min_stop_words: int | None = 2,
        stop_words: tuple[str, ...] = STOP_WORDS,
        tokenizer: str = "fast",
        **options,
    ):
        super().__init__(**options)
        self.tokenizer = check_tokenizer(tokenizer)
        self.min_doc_words, self.max_doc_words = min_doc_words, max_doc_words
        self.min_avg_word_length = min_avg_word_length
        self.max_avg_word_length = max_avg_word_length
        self.max_symbol_word_ratio = max_symbol_word_ratio
        self.max_bullet_lines_ratio = max_bullet_lines_ratio
        self.max_ellipsis_lines_ratio = max_ellipsis_lines_ratio
        self.max_non_alpha_words_ratio = max_non_alpha_words_ratio
        self.min_stop_words = min_stop_words
        self.stop_words = tuple(sorted(set(stop_words)))

    def reasons(self, batch: pa.Table) -> pa.Array:
        texts = texts_of(batch)
        n = len(texts)
        w = words(texts, self.tokenizer)
        stats = per_doc(
            w.with_columns(pl.col("piece").str.contains(NOT_PUNCTUATION).alias("word"),
                           pl.col("piece").str.len_chars().alias("len")),
            n,
            pl.len().alias("n_words"),
            pl.col("word").sum().alias("n_non_symbol"),
            pl.col("len").filter(pl.col("word")).mean().alias("avg_len"),
            pl.col("piece").str.contains(r"\p{L}").sum().alias("n_alpha"),
            pl.col("piece").filter(pl.col("piece").is_in(self.stop_words)).n_unique()
            .alias("n_stop"),
        )
        n_words = stats["n_words"].fill_null(0).to_numpy()
        n_non_symbol = stats["n_non_symbol"].fill_null(0).to_numpy()
        avg_len = stats["avg_len"].fill_null(float("nan")).to_numpy()
        hashes = texts.str.count_matches("#", literal=True).to_numpy()
        ellipses = (texts.str.count_matches("...", literal=True)
                    + texts.str.count_matches("…", literal=True)).to_numpy()
        lines = split_lines(texts).with_columns(
            pl.col("piece").str.strip_chars_start(PY_SPACE).str.contains(r"^[•\-]").alias("bullet"),
            pl.col("piece").str.strip_chars_end(PY_SPACE).str.contains(r"(?:\.\.\.|…)$").alias("ell"))
        line_stats = per_doc(lines, n, pl.len().alias("n"), pl.col("bullet").sum().alias("b"),
                             pl.col("ell").sum().alias("e")).fill_null(0)
        n_lines = line_stats["n"].to_numpy()
        n_alpha = stats["n_alpha"].fill_null(0)
        n_stop = stats["n_stop"].fill_null(0).to_numpy()
        rules = [  # (reason, threshold, test); a falsy threshold disables the rule
            ("gopher_short_doc", self.min_doc_words, lambda t: n_non_symbol < t),
            ("gopher_long_doc", self.max_doc_words, lambda t: n_non_symbol > t),
            ("gopher_below_avg_threshold", self.min_avg_word_length, lambda t: avg_len < t),
            ("gopher_above_avg_threshold", self.max_avg_word_length, lambda t: avg_len > t),
            ("gopher_too_many_hashes", self.max_symbol_word_ratio,
             lambda t: ratio(hashes, n_words) > t),
            ("gopher_too_many_ellipsis", self.max_symbol_word_ratio,
             lambda t: ratio(ellipses, n_words) > t),
            ("gopher_too_many_bullets", self.max_bullet_lines_ratio,
             lambda t: ratio(line_stats["b"], n_lines) > t),
            ("gopher_too_many_end_ellipsis", self.max_ellipsis_lines_ratio,
             lambda t: ratio(line_stats["e"], n_lines) > t),
            ("gopher_below_alpha_threshold", self.max_non_alpha_words_ratio,
             lambda t: ratio(n_alpha, n_words) < t),
            ("gopher_enough_stop_words", self.min_stop_words, lambda t: n_stop < t),
        ]
        with np.errstate(invalid="ignore"):  # the mean length of no words is NaN: no drop
            return first_reason(n, [(name, test(t)) for name, t, test in rules if t])


class _NgramKeys:
    """A 64-bit key per window of ``k`` consecutive word hashes starting at each position
    (positions past ``len(h) - k`` get meaningless keys). Asked for growing ``k``, each key
    array extends the previous one by one word at a time."""

    def __init__(self, h: np.ndarray):
        self.h, self.k, self.key = h, 0, np.zeros(len(h), dtype=np.uint64)

    def __call__(self, k: int) -> np.ndarray:
        if k < self.k:
            self.k, self.key = 0, np.zeros(len(self.h), dtype=np.uint64)
        while self.k < k:
            shifted = np.zeros(len(self.h), dtype=np.uint64)
            shifted[: len(self.h) - self.k] = self.h[self.k:]
            key = (self.key ^ shifted) * np.uint64(0x100000001B3)
            self.key, self.k = key ^ (key >> np.uint64(29)), self.k + 1
        return self.key


def _greedy_duplicates(doc: np.ndarray, pos: np.ndarray, key: np.ndarray, chars: np.ndarray,
                       n: int, n_docs: int) -> np.ndarray:
    """datatrove's ``find_all_duplicate`` over the candidate windows (those whose key occurs
    more than once in their document), sorted by (doc, pos): a window seen before counts its
    characters and skips the next ``n - 1`` windows. Windows that occur once never count and
    never matter to the others, so they are left out. Returns repeated characters per doc."""
    out = np.zeros(n_docs, dtype=np.int64)
    current, next_allowed, seen = -1, 0, set()
    for d, p, k, c in zip(doc.tolist(), pos.tolist(), key.tolist(), chars.tolist(), strict=True):
        if d != current:
            current, next_allowed, seen = d, 0, set()
        if p < next_allowed:
            continue
        if k in seen:
            out[d] += c
            next_allowed = p + n
        else:
            seen.add(k)
    return out


class GopherRepetition(Filter):
    """Fractions of duplicated paragraphs (split on 2+ newlines) and lines (split on 1+
    newlines), by count and by characters of the text; the character fraction of the most
    frequent word n-gram for each ``(n, max)`` in ``top_n_grams``; the character fraction of
    duplicated n-grams for each ``(n, max)`` in ``dup_n_grams``. The empty text is dropped as
    ``empty``. ``None`` disables a fraction rule, as in datatrove. ``tokenizer`` picks the
    word tokenizer (``"fast"`` or ``"spacy"``, see ``curation.filters.text``)."""

    version = 3  # 2: strips Python's whitespace (\x1c-\x1f too); 3: the fast tokenizer

    def __init__(
        self,
        dup_line_frac: float | None = 0.3,
        dup_para_frac: float | None = 0.3,
        dup_line_char_frac: float | None = 0.2,
        dup_para_char_frac: float | None = 0.2,
        top_n_grams: tuple[tuple[int, float], ...] = ((2, 0.2), (3, 0.18), (4, 0.16)),
        dup_n_grams: tuple[tuple[int, float], ...] = (
            (5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)),
        tokenizer: str = "fast",
        **options,
    ):
        super().__init__(**options)
        self.tokenizer = check_tokenizer(tokenizer)
        self.dup_line_frac, self.dup_para_frac = dup_line_frac, dup_para_frac
        self.dup_line_char_frac, self.dup_para_char_frac = dup_line_char_frac, dup_para_char_frac
        self.top_n_grams = tuple((int(k), float(f)) for k, f in top_n_grams)
        self.dup_n_grams = tuple((int(k), float(f)) for k, f in dup_n_grams)

    def reasons(self, batch: pa.Table) -> pa.Array:
        texts = texts_of(batch)
        n = len(texts)
        length = texts.str.len_chars().to_numpy()
        para_df = split_regex(texts.str.strip_chars(PY_SPACE), r"\n{2,}")
        paras = duplicates(para_df, n)
        n_paras = per_doc(para_df, n, pl.len().alias("n"))["n"].fill_null(1)
        line_df = split_regex(texts, r"\n+")
        lines = duplicates(line_df, n)
        n_lines = per_doc(line_df, n, pl.len().alias("n"))["n"].fill_null(1)
        checks: list[tuple[str, np.ndarray]] = [("empty", length == 0)]
        if self.dup_para_frac:
            checks.append(("dup_para_frac",
                           ratio(paras["dup_count"], n_paras) > self.dup_para_frac))
        if self.dup_para_char_frac:
            checks.append(("dup_para_char_frac",
                           ratio(paras["dup_chars"], length) > self.dup_para_char_frac))
        if self.dup_line_frac:
            checks.append(("dup_line_frac",
                           ratio(lines["dup_count"], n_lines) > self.dup_line_frac))
        if self.dup_line_char_frac:
            checks.append(("dup_line_char_frac",
                           ratio(lines["dup_chars"], length) > self.dup_line_char_frac))
        alive = first_reason(n, checks).is_null().to_numpy(zero_copy_only=False)
        checks += self._ngram_checks(texts, length, alive)
        return first_reason(n, checks)

    def _ngram_checks(self, texts: pl.Series, length: np.ndarray,
                      alive: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """The n-gram rules, computed only for documents that passed the line rules.

        Each n-gram gets a key ``doc << 40 | hash40(words)``; grouping the keys (hash tables,
        no sort) gives the counts, the first occurrence of each n-gram and the candidates for
        the greedy duplicate scan without any per-document loop. Limits: fewer than 2**24 rows
        and 2**32 words a batch; two different n-grams of one document share a 40-bit hash with
        probability about ``windows**2 / 2**41`` (1e-6 for a 1,500-word document)."""
        n = len(texts)
        if n >= 2**24:
            raise ValueError(f"GopherRepetition takes batches of fewer than 2**24 rows, not {n}")
        idx = np.flatnonzero(alive).astype(np.uint32)
        w = words(texts.gather(idx), self.tokenizer)
        doc = idx[w["doc"].to_numpy()].astype(np.uint64)
        pos = w["pos"].to_numpy().astype(np.int64)
        h = w["piece"].hash(seed=0).to_numpy()
        wlen = w["piece"].str.len_chars().to_numpy().astype(np.int64)
        n_words = np.bincount(doc.astype(np.int64), minlength=n)
        cum = np.concatenate([[0], np.cumsum(wlen)])
        checks: list[tuple[str, np.ndarray]] = []
        failed = np.zeros(n, dtype=bool)
        rules = [(True, k, f) for k, f in self.top_n_grams]
        rules += [(False, k, f) for k, f in self.dup_n_grams]
        ngram_keys = _NgramKeys(h)
        for top, k, frac in rules:  # a document that already failed is not looked at again
            keys = ngram_keys(k)
            rows = np.flatnonzero((pos + k <= n_words[doc]) & ~failed[doc])
            if len(rows) == 0:  # no document has k words left to look at
                checks.append((f"top_{k}_gram" if top else f"duplicated_{k}_n_grams",
                               np.zeros(n, dtype=bool)))
                continue
            key = (doc[rows] << np.uint64(40)) | (keys[rows] >> np.uint64(24))
            if top:  # per document: the most frequent n-gram, the earliest on ties
                groups = (pl.DataFrame({"key": key, "row": rows.astype(np.uint64)})
                          .group_by("key").agg(pl.len().cast(pl.UInt64).alias("count"),
                                               pl.col("row").min().alias("first")))
                score = (groups["count"].to_numpy() << np.uint64(32)) | (
                    np.uint64(2**32 - 1) - groups["first"].to_numpy())
                best_per_doc = (pl.DataFrame({"doc": groups["key"].to_numpy() >> np.uint64(40),
                                              "score": score})
                                .group_by("doc").agg(pl.col("score").max()))
                best = np.zeros(n, dtype=np.uint64)
                best[best_per_doc["doc"].to_numpy().astype(np.int64)] = \
                    best_per_doc["score"].to_numpy()
                has = best > 0
                count = (best >> np.uint64(32)).astype(np.int64)
                row = (np.uint64(2**32 - 1) - (best & np.uint64(2**32 - 1))).astype(np.int64)
                chars = np.where(has, cum[np.where(has, row + k, 0)] - cum[np.where(has, row, 0)]
                                 + (k - 1), 0)
                hit = ratio(count * chars, length) > frac
                failed |= hit
                checks.append((f"top_{k}_gram", hit))
                continue
            # candidate windows (their n-gram occurs again in the document), in (doc, pos) order
            c = rows[pl.Series(key).is_duplicated().to_numpy()]
            repeated = _greedy_duplicates(doc[c], pos[c], keys[c],
                                          cum[c + k] - cum[c], k, n)
            hit = ratio(repeated, length) > frac
            failed |= hit
            checks.append((f"duplicated_{k}_n_grams", hit))
        return checks
