"""C4's line and page rules (Raffel et al. 2020), as datatrove 0.10.1's ``C4QualityFilter``
applies them with its defaults (lines are ``str.splitlines()``), vectorised over a batch.

A line is removed when it has a word longer than ``max_word_length``, does not end in
terminal punctuation (``. ? ! " '``, and not ``...``) once Wikipedia-style citations are cut,
has fewer than ``min_words_per_line`` words, mentions javascript, or holds a cookie/terms
phrase. A page is dropped when a surviving line holds "lorem ipsum" (``lorem_ipsum``) or a
``{`` (``curly_bracket``), or when its kept lines hold fewer than ``min_num_sentences``
sentences (``too_few_sentences``, sentences as spaCy's sentencizer splits them). With
``filter_lines`` (the default, as C4 and datatrove do) a kept document's ``text`` becomes its
kept lines, stripped and joined by ``\\n``; ``-1`` disables a numeric rule.

``language`` picks the tokenizer that counts sentences (per row with ``language="auto"``, see
``curation.filters.languages``); the table sets no C4 threshold. As in datatrove, a line's
words for ``min_words_per_line`` and ``max_word_length`` are ``str.split()``'s in every
language, so Chinese and Japanese lines (no spaces) mostly fall under the minimum.

Not carried over from datatrove: its ``split_paragraph=False`` mode (rules per spaCy sentence
instead of per line).
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from curation.core.stage import BatchContext, Filter
from curation.filters.languages import LanguageAware, records_explicit
from curation.filters.text import (
    PY_SPACE,
    PY_WORD,
    check_tokenizer,
    first_reason,
    split_lines,
    texts_of,
    tokens,
)
from curation.filters.words import sentence_final

CITATION = r"\[\d*]|\[edit]|\[citation needed]"
END_PUNCTUATION = r"[.?!\"']$"
POLICY_SUBSTRINGS = ("terms of use", "privacy policy", "cookie policy", "uses cookies",
                     "use of cookies", "use cookies")


def sentence_counts(lines: pl.Series, tokenizer: str = "fast",
                    language: str = "en") -> np.ndarray:
    """Sentences per line as spaCy's default sentencizer splits them: a sentence starts at a
    token that is neither punctuation nor a sentence-final mark when the last such token or
    sentence-final mark before it was a sentence-final mark. A line without tokens has 0."""
    toks = tokens(lines, tokenizer, language)
    final = toks["piece"].is_in(sentence_final())
    punct = toks["piece"].str.contains(r"^\p{P}+$")
    marks = toks.with_columns(final.alias("final")).filter(final | ~punct)
    starts = marks.filter(~pl.col("final") & pl.col("final").shift(1).over("doc")
                          .fill_null(False))
    has_tokens = np.bincount(toks["doc"].to_numpy(), minlength=len(lines)) > 0
    return has_tokens + np.bincount(starts["doc"].to_numpy(), minlength=len(lines))


class C4Quality(LanguageAware, Filter):
    """C4's rules (see the module docstring); reasons ``lorem_ipsum``, ``curly_bracket``,
    ``too_few_sentences``. ``tokenizer`` picks the word tokenizer (``"fast"`` or ``"spacy"``, see
    ``curation.filters.text``); ``language`` and ``fallback`` the language of the sentence
    split (see ``curation.filters.languages``; ``thresholds`` is accepted for symmetry, the
    table sets nothing here)."""

    # 2: strips Python's whitespace (\x1c-\x1f too); 3: the fast tokenizer; 4: a special-case
    # run of tokens takes the special case of its own text, as spaCy (Spanish, Russian)
    version = 4

    @records_explicit
    def __init__(
        self,
        remove_citations: bool = True,
        filter_no_terminal_punct: bool = True,
        min_num_sentences: int = 5,
        min_words_per_line: int = 3,
        max_word_length: int = 1000,
        filter_lorem_ipsum: bool = True,
        filter_javascript: bool = True,
        filter_curly_bracket: bool = True,
        filter_policy: bool = True,
        filter_lines: bool = True,
        tokenizer: str = "fast",
        language: str = "en",
        thresholds: dict | str | None = None,
        fallback: str = "xx",
        **options,
    ):
        super().__init__(**options)
        self.tokenizer = check_tokenizer(tokenizer)
        self._init_language(language, thresholds, fallback)
        self.remove_citations, self.filter_no_terminal_punct = remove_citations, \
            filter_no_terminal_punct
        self.min_num_sentences, self.min_words_per_line = min_num_sentences, min_words_per_line
        self.max_word_length = max_word_length
        self.filter_lorem_ipsum, self.filter_javascript = filter_lorem_ipsum, filter_javascript
        self.filter_curly_bracket, self.filter_policy = filter_curly_bracket, filter_policy
        self.filter_lines = filter_lines

    def _line_table(self, texts: pl.Series) -> pl.DataFrame:
        """Every line with ``clean`` (stripped, citations cut), ``drop`` (line removed),
        ``doc_reason`` (line drops its page)."""
        lines = split_lines(texts).with_columns(
            pl.col("piece").str.strip_chars(PY_SPACE).alias("line"))
        line = pl.col("line")
        clean = line.str.replace_all(CITATION, "") if self.remove_citations else line
        lines = lines.with_columns(clean.alias("clean"), line.str.to_lowercase().alias("lower"))
        long_word = np.zeros(lines.height, dtype=bool)
        if self.max_word_length != -1:
            # only lines longer than the bound can hold such a word: check those in Python
            longer = np.flatnonzero((lines["line"].str.len_chars() > self.max_word_length)
                                    .to_numpy())
            for i in longer.tolist():
                long_word[i] = any(len(w) > self.max_word_length
                                   for w in lines["line"][i].split())
        gone = pl.Series(long_word, dtype=pl.Boolean)
        if self.filter_no_terminal_punct:
            c = lines["clean"]
            gone = gone | ~c.str.contains(END_PUNCTUATION) | c.str.ends_with("...")
        if self.min_words_per_line > 0:
            n_words = lines["line"].str.count_matches(PY_WORD)
            gone = gone | (n_words < self.min_words_per_line)
        lower, clean_s = lines["lower"], lines["clean"]
        false = pl.Series([False] * lines.height, dtype=pl.Boolean)
        lorem = ~gone & (lower.str.contains("lorem ipsum", literal=True)
                         if self.filter_lorem_ipsum else false)
        gone = gone | lorem
        if self.filter_javascript:
            gone = gone | lower.str.contains("javascript", literal=True)
        curly = ~gone & (clean_s.str.contains("{", literal=True)
                         if self.filter_curly_bracket else false)
        gone = gone | curly
        if self.filter_policy:
            policy = false
            for phrase in POLICY_SUBSTRINGS:
                policy = policy | lower.str.contains(phrase, literal=True)
            gone = gone | policy
        reason = (pl.when(lorem).then(pl.lit("lorem_ipsum"))
                  .when(curly).then(pl.lit("curly_bracket")).otherwise(None))
        return lines.select("doc", "pos", "clean", gone.alias("drop"),
                            pl.select(reason).to_series().alias("doc_reason"))

    def evaluate(self, batch: pa.Table) -> tuple[pa.Array, pa.Array]:
        """(reason per row, null = keep; the text of each kept row made of its kept lines)."""
        return self.per_language(batch, lambda stage, rows: stage._evaluate(rows))

    def _evaluate(self, batch: pa.Table) -> tuple[pa.Array, pa.Array]:
        texts = texts_of(batch)
        n = len(texts)
        lines = self._line_table(texts)
        first_bad = (lines.filter(pl.col("doc_reason").is_not_null())
                     .group_by("doc").agg(pl.col("doc_reason").first()))
        page_reason = np.full(n, None, dtype=object)
        page_reason[first_bad["doc"].to_numpy()] = first_bad["doc_reason"].to_numpy()
        kept = lines.filter(~pl.col("drop") & pl.col("doc_reason").is_null())
        sentences = np.zeros(n, dtype=np.int64)
        if self.min_num_sentences != -1:
            # every kept line holds at least one sentence: only pages with fewer kept lines
            # than the minimum need their sentences counted
            kept_lines = np.bincount(kept["doc"].to_numpy(), minlength=n)
            sentences[:] = kept_lines
            undecided = (page_reason == None) & (kept_lines < self.min_num_sentences)  # noqa: E711
            counted = kept.filter(pl.Series(undecided).gather(kept["doc"]))
            sentences[undecided] = 0
            np.add.at(sentences, counted["doc"].to_numpy(),
                      sentence_counts(counted["clean"], self.tokenizer, self.language))
        reason = first_reason(n, [("page", page_reason != None),  # noqa: E711
                                  ("too_few_sentences", sentences < self.min_num_sentences)])
        reason = pc.if_else(pc.equal(reason, "page"), pa.array(page_reason, pa.string()), reason)
        joined = (kept.group_by("doc", maintain_order=True)
                  .agg(pl.col("clean").str.join("\n").str.strip_chars(PY_SPACE)))
        text = np.full(n, "", dtype=object)
        text[joined["doc"].to_numpy()] = joined["clean"].to_numpy()
        return reason, pa.array(text, pa.large_string())

    def reasons(self, batch: pa.Table) -> pa.Array:
        return self.evaluate(batch)[0]

    def process(self, batch: pa.Table, ctx: BatchContext) -> pa.Table:
        """As ``Filter.process``; with ``filter_lines`` in filter mode the kept rows' text is
        rewritten to their kept lines (rejects keep their original text)."""
        reasons, text = self.evaluate(batch)
        kept = None
        if self.mode == "filter" and self.filter_lines:
            i = batch.schema.get_field_index("text")
            kept = batch.set_column(i, batch.schema.field(i), text.cast(batch.schema.field(i).type))
        return self.decide(batch, reasons, ctx, kept)


class C4Filter(C4Quality):
    """The former name of ``C4Quality``, deprecated. It keeps its node name (``c4_filter``) and
    fingerprint, so that pipelines written with it resume their work dirs unchanged."""

    def __init__(self, *args, **kwargs):
        warnings.warn("C4Filter is now C4Quality", DeprecationWarning, stacklevel=3)
        super().__init__(*args, **kwargs)
