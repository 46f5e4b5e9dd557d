"""Gopher's quality and repetition rules (Rae et al. 2021, table A1), as datatrove 0.10.1
applies them, vectorised over a batch.

Reasons are datatrove's (``gopher_short_doc``, ``dup_line_frac``, ``top_2_gram``...); a
document gets the reason of the first rule it fails, in datatrove's order. Words are
datatrove's words of the filter's ``language`` (see ``curation.filters.text``; per row with
``language="auto"``, thresholds per language: ``curation.filters.languages``); lengths are in
characters.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from curation.core.stage import Filter
from curation.filters.languages import LanguageAware, records_explicit
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


class GopherQuality(LanguageAware, Filter):
    """Word count of non-symbol words in ``[min_doc_words, max_doc_words]``, their mean length
    in ``[min_avg_word_length, max_avg_word_length]``, ``#`` and ellipses per word at most
    ``max_symbol_word_ratio``, at most ``max_bullet_lines_ratio`` of lines starting with
    ``•``/``-`` and ``max_ellipsis_lines_ratio`` ending with an ellipsis, at least
    ``max_non_alpha_words_ratio`` (datatrove's name) of words with a letter, and at least
    ``min_stop_words`` distinct stop words. ``None`` (or 0) disables a rule, as in datatrove.
    ``tokenizer`` picks the word tokenizer (``"fast"`` or ``"spacy"``, see
    ``curation.filters.text``); ``language``, ``thresholds`` and ``fallback`` the language of
    the words and the thresholds and stop words per language (see
    ``curation.filters.languages``)."""

    version = 3  # 2: strips Python's whitespace (\x1c-\x1f too); 3: the fast tokenizer
    table_parameters = ("min_avg_word_length", "max_avg_word_length",
                        "max_non_alpha_words_ratio", "stop_words")
    _convert = {"stop_words": lambda v: tuple(sorted(set(v)))}

    @records_explicit
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
        language: str = "en",
        thresholds: dict | str | None = None,
        fallback: str = "xx",
        **options,
    ):
        super().__init__(**options)
        self.tokenizer = check_tokenizer(tokenizer)
        self._init_language(language, thresholds, fallback)
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
        return self.per_language(batch, lambda stage, rows: stage._reasons(rows))

    def _reasons(self, batch: pa.Table) -> pa.Array:
        texts = texts_of(batch)
        n = len(texts)
        w = words(texts, self.tokenizer, self.language)
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


def _extend(key: np.ndarray, word_hash: np.ndarray) -> np.ndarray:
    """Window keys one word longer: ``key`` of windows of j words mixed with the hash of
    each window's next word (a key depends on the words only, not on which rows are kept)."""
    key = (key ^ word_hash) * np.uint64(0x100000001B3)
    return key ^ (key >> np.uint64(29))


def _greedy_duplicates(doc: np.ndarray, pos: np.ndarray, key: np.ndarray, chars: np.ndarray,
                       n: int, n_docs: int) -> np.ndarray:
    """datatrove's ``find_all_duplicate``, one window at a time, over the candidate windows
    (those whose key occurs more than once in their document) sorted by (doc, pos): a window
    seen before counts its characters and skips the next ``n - 1`` windows. Windows that occur
    once never count and never matter to the others, so they are left out. Returns repeated
    characters per doc. The reference for ``_NgramGroups.greedy_repeats``, and its fallback."""
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


class _NgramGroups:
    """The windows ``rows`` (global word indices of window starts, ascending, documents
    contiguous) grouped by their 64-bit ``key`` (``doc << 40 | hash40``) with one sort:
    ``count`` and ``first`` (smallest row) per group, ``group`` per window. Sorted keys are
    document-major, so a document's groups are contiguous."""

    def __init__(self, key: np.ndarray, rows: np.ndarray):
        self.rows = rows
        self.order = np.argsort(key)
        sorted_key = key[self.order]
        new = np.ones(len(key), dtype=bool)
        new[1:] = sorted_key[1:] != sorted_key[:-1]
        self.starts = np.flatnonzero(new)
        self.count = np.diff(np.append(self.starts, len(key)))
        self.first = np.minimum.reduceat(rows[self.order], self.starts)
        self.group_doc = sorted_key[self.starts] >> np.uint64(40)
        self.group = np.empty(len(key), dtype=np.int64)
        self.group[self.order] = np.cumsum(new) - 1

    def top(self, n_docs: int) -> tuple[np.ndarray, np.ndarray]:
        """Per document: the count of its most frequent window key and that key's first row
        (the earliest on ties, as ``Counter.most_common``); count 0 for documents without
        windows."""
        score = (self.count.astype(np.uint64) << np.uint64(32)) | (
            np.uint64(2**32 - 1) - self.first.astype(np.uint64))
        doc_new = np.ones(len(score), dtype=bool)
        doc_new[1:] = self.group_doc[1:] != self.group_doc[:-1]
        doc_starts = np.flatnonzero(doc_new)
        best = np.zeros(n_docs, dtype=np.uint64)
        best[self.group_doc[doc_starts].astype(np.int64)] = np.maximum.reduceat(score, doc_starts)
        count = (best >> np.uint64(32)).astype(np.int64)
        first = (np.uint64(2**32 - 1) - (best & np.uint64(2**32 - 1))).astype(np.int64)
        return count, np.where(count > 0, first, 0)

    def duplicated(self) -> np.ndarray:
        """Per window: does its key occur again in its document?"""
        return self.count[self.group] > 1

    def greedy_repeats(self, doc: np.ndarray, chars: np.ndarray, n: int,
                       n_docs: int) -> np.ndarray:
        """``_greedy_duplicates`` for windows of ``n`` words, vectorised: repeated characters
        per document (``doc`` and ``chars`` per window). Every window of a repeated key must
        be among the rows.

        The scan's hits are first computed as if every window after the first of its key
        counted (a hit is the first such window at or past the previous hit + ``n``; runs of
        consecutive such windows are taken whole). That equals the scan wherever each hit has
        an earlier occurrence the scan did not skip; documents where one does not are redone
        by ``_greedy_duplicates``."""
        rows = self.rows
        repeated = self.duplicated()
        later = np.flatnonzero(repeated & (rows != self.first[self.group]))
        hits = later[_chain_hits(rows[later], doc[later], n)]  # window indices
        out = np.bincount(doc[hits], weights=chars[hits], minlength=n_docs).astype(np.int64)
        skipped = np.zeros(rows[-1] + n + 1, dtype=bool)
        for j in range(1, n):
            skipped[rows[hits] + j] = True
        unskipped = np.where(skipped[rows], np.iinfo(np.int64).max, rows)
        first_unskipped = np.minimum.reduceat(unskipped[self.order], self.starts)
        redo = np.unique(doc[hits[first_unskipped[self.group[hits]] >= rows[hits]]])
        if len(redo):
            c = np.flatnonzero(repeated & np.isin(doc, redo))
            out[redo] = _greedy_duplicates(doc[c], rows[c], self.group[c], chars[c], n,
                                           n_docs)[redo]
        return out


def _chain_hits(later: np.ndarray, doc: np.ndarray, n: int) -> np.ndarray:
    """Indices (into ``later``, ascending rows) of the greedy scan's hits if every row in
    ``later`` counted: per document, the first row, then the first row at or past the
    previous hit + ``n``, and so on. A run of consecutive rows is crossed in one step, so the
    loop turns once per run visited (all documents at once)."""
    if len(later) == 0:
        return np.zeros(0, dtype=np.int64)
    run_new = np.ones(len(later), dtype=bool)
    run_new[1:] = (later[1:] != later[:-1] + 1) | (doc[1:] != doc[:-1])
    run_last = (np.append(np.flatnonzero(run_new)[1:], len(later)) - 1)[np.cumsum(run_new) - 1]
    doc_new = np.ones(len(later), dtype=bool)
    doc_new[1:] = doc[1:] != doc[:-1]
    current = np.flatnonzero(doc_new)
    starts, counts = [], []
    while len(current):
        steps = (later[run_last[current]] - later[current]) // n + 1
        starts.append(current)
        counts.append(steps)
        following = np.searchsorted(later, later[current] + steps * n)
        inside = following < len(later)
        inside[inside] = doc[following[inside]] == doc[current[inside]]
        current = following[inside]
    start, count = np.concatenate(starts), np.concatenate(counts)
    offsets = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    return np.repeat(start, count) + offsets * n  # consecutive rows: index steps = row steps


def _top_chars(groups: _NgramGroups, cum: np.ndarray, word_doc: np.ndarray, k: int,
               n_docs: int) -> np.ndarray:
    """datatrove's ``find_top_duplicate`` per document: the characters of its most frequent
    k-gram, joining spaces included, times its count (the earliest on ties). ``groups`` holds
    every repeated window; a document with k words and no repeated window counts its first
    window once. ``cum``: cumulative word lengths; ``word_doc``: document of each word."""
    count, first = groups.top(n_docs)
    doc_start = np.searchsorted(word_doc, np.arange(n_docs))
    n_words = np.bincount(word_doc, minlength=n_docs)
    single = (count == 0) & (n_words >= k)
    count, first = np.where(single, 1, count), np.where(single, doc_start, first)
    out, some = np.zeros(n_docs, dtype=np.int64), count > 0
    out[some] = count[some] * (cum[first[some] + k] - cum[first[some]] + k - 1)
    return out


class GopherRepetition(LanguageAware, Filter):
    """Fractions of duplicated paragraphs (split on 2+ newlines) and lines (split on 1+
    newlines), by count and by characters of the text; the character fraction of the most
    frequent word n-gram for each ``(n, max)`` in ``top_n_grams``; the character fraction of
    duplicated n-grams for each ``(n, max)`` in ``dup_n_grams``. The empty text is dropped as
    ``empty``. ``None`` disables a fraction rule, as in datatrove. ``tokenizer`` picks the
    word tokenizer (``"fast"`` or ``"spacy"``, see ``curation.filters.text``); ``language``,
    ``thresholds`` and ``fallback`` the language of the words and the thresholds per language
    (see ``curation.filters.languages``)."""

    version = 3  # 2: strips Python's whitespace (\x1c-\x1f too); 3: the fast tokenizer
    table_parameters = ("dup_line_frac", "top_n_grams", "dup_n_grams")
    _convert = {"top_n_grams": lambda v: tuple((int(k), float(f)) for k, f in v),
                "dup_n_grams": lambda v: tuple((int(k), float(f)) for k, f in v)}

    @records_explicit
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
        language: str = "en",
        thresholds: dict | str | None = None,
        fallback: str = "xx",
        **options,
    ):
        super().__init__(**options)
        self.tokenizer = check_tokenizer(tokenizer)
        self._init_language(language, thresholds, fallback)
        self.dup_line_frac, self.dup_para_frac = dup_line_frac, dup_para_frac
        self.dup_line_char_frac, self.dup_para_char_frac = dup_line_char_frac, dup_para_char_frac
        self.top_n_grams = tuple((int(k), float(f)) for k, f in top_n_grams)
        self.dup_n_grams = tuple((int(k), float(f)) for k, f in dup_n_grams)

    def reasons(self, batch: pa.Table) -> pa.Array:
        return self.per_language(batch, lambda stage, rows: stage._reasons(rows))

    def _reasons(self, batch: pa.Table) -> pa.Array:
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

        Each n-gram gets a key ``doc << 40 | hash40(words)``; one sort of the keys
        (``_NgramGroups``) gives the counts, the first occurrence of each n-gram and the
        greedy duplicate scan without any per-document loop. Limits: fewer than 2**24 rows
        and 2**32 words a batch; two different n-grams of one document share a 40-bit hash with
        probability about ``windows**2 / 2**41`` (1e-6 for a 1,500-word document)."""
        n = len(texts)
        if n >= 2**24:
            raise ValueError(f"GopherRepetition takes batches of fewer than 2**24 rows, not {n}")
        idx = np.flatnonzero(alive).astype(np.uint32)
        w = words(texts.gather(idx), self.tokenizer, self.language)
        word_doc = idx[w["doc"].to_numpy()].astype(np.int64)
        word_hash = w["piece"].hash(seed=0).to_numpy()
        cum = np.concatenate([[0], np.cumsum(w["piece"].str.len_chars().to_numpy())])
        words_left = np.bincount(word_doc, minlength=n)[word_doc] - w["pos"].to_numpy()
        checks: list[tuple[str, np.ndarray]] = []
        failed = np.zeros(n, dtype=bool)
        rules = [(True, k, f) for k, f in self.top_n_grams]
        rules += [(False, k, f) for k, f in self.dup_n_grams]
        # windows still worth looking at: row (first word), key of its first `size` words
        rows, key, size = np.arange(len(word_doc)), np.zeros(len(word_doc), np.uint64), 0
        for top, k, frac in rules:  # a document that already failed is not looked at again
            if k < size:  # rules out of increasing order: start again from every window
                rows, key, size = np.arange(len(word_doc)), np.zeros(len(word_doc), np.uint64), 0
            while size < k:
                fits = words_left[rows] > size
                rows, key = rows[fits], _extend(key[fits], word_hash[rows[fits] + size])
                size += 1
            live = ~failed[word_doc[rows]]
            rows, key = rows[live], key[live]
            doc = word_doc[rows]
            groups = _NgramGroups((doc.astype(np.uint64) << np.uint64(40))
                                  | (key >> np.uint64(24)), rows)
            chars = cum[rows + k] - cum[rows]  # without the k - 1 joining spaces
            if top:
                repeated = _top_chars(groups, cum, word_doc, k, n)
            else:
                repeated = groups.greedy_repeats(doc, chars, k, n) if len(rows) else 0
            hit = ratio(repeated, length) > frac
            failed |= hit
            checks.append((f"top_{k}_gram" if top else f"duplicated_{k}_n_grams", hit))
            # a window of k + 1 words can only repeat where its first k words do
            repeats = groups.duplicated()
            rows, key = rows[repeats], key[repeats]
        return checks
