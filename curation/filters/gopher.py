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
from curation.filters.ngrams import repeated_chars
from curation.filters.repeats import marked_lines, repeated_pieces
from curation.filters.text import (
    check_tokenizer,
    first_reason,
    ratio,
    texts_of,
    word_buffers,
)
from curation.filters.word_stats import word_stats

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

    # 2: strips Python's whitespace (\x1c-\x1f too); 3: the fast tokenizer; 4: a special-case
    # run of tokens takes the special case of its own text, as spaCy (Spanish, Russian)
    version = 4
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
        w = word_buffers(texts, self.tokenizer, self.language)
        n_words, n_non_symbol, non_symbol_chars, n_alpha, n_stop = word_stats(
            w, n, self.stop_words).T
        with np.errstate(invalid="ignore", divide="ignore"):  # no words: NaN, no drop
            avg_len = non_symbol_chars / n_non_symbol
        hashes = texts.str.count_matches("#", literal=True).to_numpy()
        ellipses = (texts.str.count_matches("...", literal=True)
                    + texts.str.count_matches("…", literal=True)).to_numpy()
        n_lines, bullets, ellipsis_lines = marked_lines(texts).T
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
             lambda t: ratio(bullets, n_lines) > t),
            ("gopher_too_many_end_ellipsis", self.max_ellipsis_lines_ratio,
             lambda t: ratio(ellipsis_lines, n_lines) > t),
            ("gopher_below_alpha_threshold", self.max_non_alpha_words_ratio,
             lambda t: ratio(n_alpha, n_words) < t),
            ("gopher_enough_stop_words", self.min_stop_words, lambda t: n_stop < t),
        ]
        with np.errstate(invalid="ignore"):  # the mean length of no words is NaN: no drop
            return first_reason(n, [(name, test(t)) for name, t, test in rules if t])


class GopherRepetition(LanguageAware, Filter):
    """Fractions of duplicated paragraphs (split on 2+ newlines) and lines (split on 1+
    newlines), by count and by characters of the text; the character fraction of the most
    frequent word n-gram for each ``(n, max)`` in ``top_n_grams``; the character fraction of
    duplicated n-grams for each ``(n, max)`` in ``dup_n_grams``. The empty text is dropped as
    ``empty``. ``None`` disables a fraction rule, as in datatrove. ``tokenizer`` picks the
    word tokenizer (``"fast"`` or ``"spacy"``, see ``curation.filters.text``); ``language``,
    ``thresholds`` and ``fallback`` the language of the words and the thresholds per language
    (see ``curation.filters.languages``)."""

    # 2: strips Python's whitespace (\x1c-\x1f too); 3: the fast tokenizer; 4: duplicated
    # n-grams compared as datatrove does, words joined without separator (("ab", "c") now
    # equals ("a", "bc")), which changes the decision on rare documents; 5: a special-case
    # run of tokens takes the special case of its own text, as spaCy (Spanish, Russian)
    version = 5
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
        if any(k < 1 for k, _ in self.top_n_grams + self.dup_n_grams):
            raise ValueError("n-gram sizes must be at least 1")

    def reasons(self, batch: pa.Table) -> pa.Array:
        return self.per_language(batch, lambda stage, rows: stage._reasons(rows))

    def _reasons(self, batch: pa.Table) -> pa.Array:
        texts = texts_of(batch)
        n = len(texts)
        length = texts.str.len_chars().to_numpy()
        lines, paras = repeated_pieces(texts)  # columns: pieces, repeated, their characters
        checks: list[tuple[str, np.ndarray]] = [("empty", length == 0)]
        if self.dup_para_frac:
            checks.append(("dup_para_frac",
                           ratio(paras[:, 1], paras[:, 0]) > self.dup_para_frac))
        if self.dup_para_char_frac:
            checks.append(("dup_para_char_frac",
                           ratio(paras[:, 2], length) > self.dup_para_char_frac))
        if self.dup_line_frac:
            checks.append(("dup_line_frac",
                           ratio(lines[:, 1], lines[:, 0]) > self.dup_line_frac))
        if self.dup_line_char_frac:
            checks.append(("dup_line_char_frac",
                           ratio(lines[:, 2], length) > self.dup_line_char_frac))
        alive = first_reason(n, checks).is_null().to_numpy(zero_copy_only=False)
        checks += self._ngram_checks(texts, length, alive)
        return first_reason(n, checks)

    def _ngram_checks(self, texts: pl.Series, length: np.ndarray,
                      alive: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """The n-gram rules (the top rules, then the duplicated rules, each in its configured
        order) for the documents that passed the line and paragraph rules, as datatrove
        computes them (``find_top_duplicate`` on ``" ".join`` n-grams, ``find_all_duplicate``
        on ``"".join`` n-grams), by ``curation.filters.ngrams.repeated_chars``: one numba
        loop per document over the words' UTF-8 bytes (the Arrow buffers of the word column,
        no Python per word). It stops at a document's first failed rule (its later rules are
        false here, which ``first_reason`` never reads) and skips a top rule that a bound
        from the word counts shows the document passes. Repeated characters and text
        lengths in characters, tested as ``ratio(repeated, length) > frac``. N-grams are
        compared by 61-bit polynomial hashes: a document of ``w`` windows of at most ``L``
        bytes merges two different n-grams with probability about ``w**2 * L / 2**62``.
        No limit on rows or words a batch; the kernel's scratch memory is about 200 bytes
        per word of the longest document."""
        n = len(texts)
        idx = np.flatnonzero(alive)
        w = word_buffers(texts.gather(idx), self.tokenizer, self.language)
        rules = [(k, True, f) for k, f in self.top_n_grams]
        rules += [(k, False, f) for k, f in self.dup_n_grams]
        live_length = np.asarray(length, dtype=np.int64)[idx]
        counts = repeated_chars(w.data, w.lo, w.hi, w.doc_offsets(len(idx)), live_length,
                                np.array([k for k, _, _ in rules], dtype=np.int64),
                                np.array([top for _, top, _ in rules], dtype=np.bool_),
                                np.array([f for _, _, f in rules], dtype=np.float64), False)
        checks: list[tuple[str, np.ndarray]] = []
        for r, (k, top, frac) in enumerate(rules):
            hit = np.zeros(n, dtype=bool)
            hit[idx] = (counts[:, r] >= 0) & (ratio(counts[:, r], live_length) > frac)
            checks.append((f"top_{k}_gram" if top else f"duplicated_{k}_n_grams", hit))
        return checks
