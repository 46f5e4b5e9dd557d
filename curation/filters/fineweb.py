"""FineWeb's extra quality rules (Penedo et al. 2024), as datatrove 0.10.1's
``FineWebQualityFilter`` applies them, vectorised over a batch."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from curation.core.stage import Filter
from curation.filters.languages import LanguageAware, records_explicit
from curation.filters.text import (
    PY_SPACE,
    TERMINAL,
    char_class,
    check_tokenizer,
    duplicates,
    first_reason,
    per_doc,
    ratio,
    split_literal,
    texts_of,
    word_buffers,
)


class FineWebQuality(LanguageAware, Filter):
    """Over the non-blank lines (split on ``\\n``): at least ``line_punct_thr`` of them end with
    a terminal punctuation mark (``stop_chars``; a ratio of exactly 0 passes when
    ``line_punct_exclude_zero``), at most ``short_line_thr`` of them have at most
    ``short_line_length`` characters, characters of duplicated lines at most
    ``char_duplicates_ratio`` of the text's non-newline characters, and newlines per word at
    most ``new_line_ratio``. A text without a non-blank line is dropped as ``empty``.
    Reasons: datatrove's (``line_punct_ratio``, ``short_line_ratio``, ``char_dup_ratio``,
    ``list_ratio``). ``tokenizer`` picks the word tokenizer (``"fast"`` or ``"spacy"``, see
    ``curation.filters.text``); ``language``, ``thresholds`` and ``fallback`` the language of
    the words and the thresholds per language (see ``curation.filters.languages``)."""

    # 2: strips Python's whitespace (\x1c-\x1f too); 3: the fast tokenizer; 4: a special-case
    # run of tokens takes the special case of its own text, as spaCy (Spanish, Russian)
    version = 4
    table_parameters = ("line_punct_thr", "new_line_ratio")

    @records_explicit
    def __init__(
        self,
        line_punct_thr: float = 0.12,
        line_punct_exclude_zero: bool = False,
        stop_chars: tuple[str, ...] | None = None,
        short_line_thr: float = 0.67,
        short_line_length: int = 30,
        char_duplicates_ratio: float = 0.01,
        new_line_ratio: float = 0.3,
        tokenizer: str = "fast",
        language: str = "en",
        thresholds: dict | str | None = None,
        fallback: str = "xx",
        **options,
    ):
        super().__init__(**options)
        self.tokenizer = check_tokenizer(tokenizer)
        self._init_language(language, thresholds, fallback)
        self.line_punct_thr, self.line_punct_exclude_zero = line_punct_thr, line_punct_exclude_zero
        self.stop_chars = None if stop_chars is None else tuple(stop_chars)
        self.short_line_thr, self.short_line_length = short_line_thr, short_line_length
        self.char_duplicates_ratio, self.new_line_ratio = char_duplicates_ratio, new_line_ratio

    def _stop_pattern(self) -> str:
        """Regex for "ends with one of the stop strings"."""
        if self.stop_chars is None:
            return f"{TERMINAL}$"
        if all(len(s) == 1 for s in self.stop_chars):
            return f"{char_class(''.join(self.stop_chars))}$"
        alternatives = "|".join("".join(f"\\x{{{ord(c):x}}}" for c in s) for s in self.stop_chars)
        return f"(?:{alternatives})$"

    def reasons(self, batch: pa.Table) -> pa.Array:
        return self.per_language(batch, lambda stage, rows: stage._reasons(rows))

    def _reasons(self, batch: pa.Table) -> pa.Array:
        texts = texts_of(batch)
        n = len(texts)
        lines = split_literal(texts, "\n").filter(pl.col("piece").str.strip_chars(PY_SPACE) != "")
        stats = per_doc(
            lines, n,
            pl.len().alias("n"),
            pl.col("piece").str.contains(self._stop_pattern()).sum().alias("punct"),
            (pl.col("piece").str.len_chars() <= self.short_line_length).sum().alias("short"),
        ).fill_null(0)
        n_lines = stats["n"].to_numpy()
        punct = ratio(stats["punct"], n_lines)
        low_punct = punct < self.line_punct_thr
        if self.line_punct_exclude_zero:
            low_punct &= punct != 0
        dup_chars = duplicates(lines, n)["dup_chars"]
        non_newline = (texts.str.len_chars() - texts.str.count_matches("\n", literal=True))
        checks = [
            ("empty", n_lines == 0),
            ("line_punct_ratio", low_punct),
            ("short_line_ratio", ratio(stats["short"], n_lines) > self.short_line_thr),
            ("char_dup_ratio", ratio(dup_chars, non_newline) > self.char_duplicates_ratio),
        ]
        alive = first_reason(n, checks).is_null().to_numpy(zero_copy_only=False).nonzero()[0]
        n_words = np.zeros(n, dtype=np.int64)
        w = word_buffers(texts.gather(alive.astype(np.uint32)), self.tokenizer, self.language)
        n_words[alive] = np.bincount(w.doc, minlength=len(alive))
        newlines = texts.str.count_matches("\n", literal=True)
        checks.append(("list_ratio", ratio(newlines, n_words) > self.new_line_ratio))
        return first_reason(n, checks)
