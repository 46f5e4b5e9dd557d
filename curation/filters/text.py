"""Text pieces shared by the heuristic filters, as long polars tables keyed by document index.

Everything here is computed for a whole batch at once: a document's lines, paragraphs or words
become rows ``(doc, pos, piece)`` with ``doc`` the row index in the batch and ``pos`` the
piece's index in its document, in text order. Lengths are in Unicode characters (Python's
``len``). Words are the tokens datatrove 0.10.1 counts for a language
(``curation.filters.languages``): spaCy's blank tokenizer of the language for ``en de fr es
ru xx``, jieba's words for ``zh`` and Sudachi's for ``ja``, from one of two tokenizers (a
filter's ``tokenizer=`` option):

- ``"fast"`` (the default): for the spaCy languages the same algorithm re-expressed as
  vectorised regex passes over the batch's distinct chunks (``curation.filters.words``), no
  Python per document or token; for ``zh`` and ``ja`` the segmenter run once per distinct
  block or line of the batch (``curation.filters.segment``);
- ``"spacy"``: spaCy itself (for ``zh``/``ja`` with jieba or Sudachi as its tokenizer), a
  Python object per document and token, exact by definition.

Each keeps the words of the texts of its latest call (per language), so that filters chained
on one batch tokenize each text once.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from datatrove.utils.text import TERMINAL_PUNCTUATION

from curation.core.arrow_strings import gather_bytes
from curation.filters.batch_words import BatchWords
from curation.filters.segment import SEGMENTED, segment, spacy_pipeline

# Python's str.splitlines() separators; \r\n first so that it counts as one break.
LINE_BREAK = r"\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\x{2028}\x{2029}]"
_SPLIT_MARK = "\x00"  # what _split_parts turns separators into
PY_WORD = r"[^\s\x1c-\x1f]+"  # one item of Python's str.split()
# Python's whitespace (str.isspace, what str.strip removes): Unicode's White_Space, which
# polars' strip_chars() uses by default, plus the separators \x1c-\x1f.
PY_SPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
            "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_RESET_STRINGS = 2_000_000  # rebuild the tokenizer once its string store holds this many


def char_class(chars: set[str] | str, negate: bool = False) -> str:
    """A Rust-regex character class of exactly ``chars`` (each written as ``\\x{HEX}``)."""
    body = "".join(f"\\x{{{ord(c):x}}}" for c in sorted(set(chars)))
    return f"[{'^' if negate else ''}{body}]"


TERMINAL = char_class(TERMINAL_PUNCTUATION)


def texts_of(batch: pa.Table) -> pl.Series:
    """The ``text`` column as a polars string series (nulls read as empty texts)."""
    text = batch.column("text")
    return pl.Series("text", text.combine_chunks() if isinstance(text, pa.ChunkedArray)
                     else text).cast(pl.String).fill_null("")


def explode(pieces: pl.Series, n_docs: int) -> pl.DataFrame:
    """A list series (one list per document) as rows ``doc, pos, piece``."""
    df = pl.DataFrame({"doc": pl.arange(0, n_docs, dtype=pl.UInt32, eager=True),
                       "piece": pieces})
    df = df.with_columns(pl.col("piece").list.len().alias("n")).explode("piece")
    df = df.filter(pl.col("n") > 0).drop("n")
    return df.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).over("doc").alias("pos"))


def split_lines(texts: pl.Series) -> pl.DataFrame:
    """Python ``str.splitlines()`` of every text: no piece for the empty text, and none after a
    final line break."""
    parts = _split_parts(texts.str.replace(f"(?:{LINE_BREAK})$", ""), LINE_BREAK)
    parts = pl.select(pl.when(texts.str.len_chars() > 0).then(parts)
                      .otherwise(pl.lit([], pl.List(pl.String)))).to_series()
    return explode(parts, len(texts))


def _split_parts(texts: pl.Series, pattern: str) -> pl.Series:
    """``re.split(pattern, text)`` as a list per text. Matches become a NUL and the texts are
    split on it; the rare texts that hold a NUL themselves go through pyarrow's (slower)
    regex split instead."""
    parts = texts.str.replace_all(pattern, _SPLIT_MARK).str.split(_SPLIT_MARK)
    marked = texts.str.contains(_SPLIT_MARK, literal=True)
    if marked.any():
        odd = pl.select(pl.when(marked).then(texts).otherwise(pl.lit(""))).to_series()
        exact = pl.Series(pc.split_pattern_regex(odd.to_arrow(), pattern))
        parts = pl.select(pl.when(marked).then(exact.cast(pl.List(pl.String)))
                          .otherwise(parts)).to_series()
    return parts


def split_literal(texts: pl.Series, sep: str) -> pl.DataFrame:
    """Python ``text.split(sep)`` of every text."""
    return explode(texts.str.split(sep, inclusive=False), len(texts))


class _Tokenizer:
    """spaCy's blank tokenizer of ``language``, rebuilt when its string store grows past a
    bound so that memory stays bounded over a long run. The spans of the previous call's
    texts are kept, so that filters chained on the same batch tokenize each text once."""

    def __init__(self, language: str = "en") -> None:
        self.language = language
        self._nlp = None
        self._last: dict[str, np.ndarray] = {}

    def _tokenize(self, texts: list[str]) -> list[np.ndarray]:
        from spacy.attrs import IDX, LENGTH

        if self._nlp is None or len(self._nlp.vocab.strings) > _RESET_STRINGS:
            import spacy

            if self.language in SEGMENTED:
                self._nlp = spacy_pipeline(self.language)
                spacy_pipeline.cache_clear()  # a fresh one next time
            else:
                self._nlp = spacy.blank(self.language)
        return [doc.to_array([IDX, LENGTH]).reshape(-1, 2)
                for doc in self._nlp.tokenizer.pipe(texts, batch_size=256)]

    def spans(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(document index, start, length) of every token, in text order; lengths in chars."""
        last = self._last
        missing = [t for t in dict.fromkeys(texts) if t not in last]
        found = dict(zip(missing, self._tokenize(missing), strict=True))
        arrays = [last.get(t) if t in last else found[t] for t in texts]
        self._last = {**{t: last[t] for t in texts if t in last}, **found}
        counts = np.fromiter((len(a) for a in arrays), np.int64, len(arrays))
        flat = np.concatenate(arrays) if arrays else np.zeros((0, 2), np.uint64)
        docs = np.repeat(np.arange(len(texts), dtype=np.uint32), counts)
        return docs, flat[:, 0].astype(np.int64), flat[:, 1].astype(np.int64)


class _FastWords:
    """The fast tokenizer of ``language`` (``words.batch_words`` or ``segment.segment``) with
    the words of the latest call's texts kept: ``_texts`` (a 64-bit hash and the byte length
    of each distinct text, with its words' ``start`` and ``count`` in ``_lo``/``_hi``, byte
    ranges of ``_data``)."""

    def __init__(self, language: str = "en") -> None:
        self.language = language
        self._texts = pl.DataFrame(schema={"key": pl.UInt64, "len": pl.UInt32,
                                           "start": pl.Int64, "count": pl.Int64})
        self._data = np.zeros(0, dtype=np.uint8)
        self._lo = self._hi = np.zeros(0, dtype=np.int64)
        self._source = None

    def _split(self, texts: pl.Series) -> BatchWords:
        from curation.filters.words import batch_words

        if self.language in SEGMENTED:
            made = segment(texts, self.language)
            return BatchWords.of(made["doc"], made["token"])
        return batch_words(texts, self.language)

    def __call__(self, texts: pl.Series) -> BatchWords:
        n = len(texts)
        keyed = pl.DataFrame({"doc": pl.arange(0, n, dtype=pl.UInt32, eager=True),
                              "key": texts.hash(seed=0), "len": texts.str.len_bytes()})
        keyed = keyed.join(self._texts, on=["key", "len"], how="left", maintain_order="left")
        missing = keyed.filter(pl.col("start").is_null())
        fresh = missing.unique(["key", "len"], keep="first", maintain_order=True)
        if 0 < fresh.height == n:  # every text new and distinct: the words as made, in order
            made = self._split(texts)
            count = np.bincount(made.doc, minlength=n)
            self._data, self._lo, self._hi, self._source = made.data, made.lo, made.hi, made.source
            self._texts = fresh.select("key", "len", pl.Series("start", np.cumsum(count) - count),
                                       pl.Series("count", count))
            return made
        if fresh.height:
            made = self._split(texts.gather(fresh["doc"]))
        else:
            made = BatchWords(self._data, self._lo[:0], self._hi[:0],
                              np.zeros(0, np.uint32), self._source)
        made_count = np.bincount(made.doc, minlength=fresh.height)
        fresh = fresh.with_columns(
            pl.Series("start", np.cumsum(made_count) - made_count + len(self._lo)),
            pl.Series("count", made_count))
        located = keyed.update(missing.select("doc", "key", "len").join(
            fresh.select("key", "len", "start", "count"), on=["key", "len"], how="left"),
            on="doc")
        start, count = located["start"].to_numpy(), located["count"].to_numpy()
        ends = np.cumsum(count)
        index = np.repeat(start - (ends - count), count) + np.arange(ends[-1] if n else 0)
        old = index < len(self._lo)  # words kept from the previous call
        if not old.any():
            data, source = made.data, made.source
            lo, hi = made.lo[index - len(self._lo)], made.hi[index - len(self._lo)]
        elif old.all() or (made.source is not None and made.source == self._source):
            # one store: the newest holds every earlier range
            data, source = (self._data if old.all() else made.data), self._source
            lo = np.concatenate([self._lo, made.lo])[index]
            hi = np.concatenate([self._hi, made.hi])[index]
        else:  # two stores: this call's words copied into one buffer, the kept ones first
            lo = np.concatenate([self._lo, made.lo])[index]
            hi = np.concatenate([self._hi, made.hi])[index]
            data = np.concatenate([gather_bytes(self._data, lo[old], hi[old])[0],
                                   gather_bytes(made.data, lo[~old], hi[~old])[0]])
            order = np.concatenate([np.flatnonzero(old), np.flatnonzero(~old)])
            sizes = hi - lo
            lo = np.empty_like(lo)
            lo[order] = np.cumsum(sizes[order]) - sizes[order]
            hi, source = lo + sizes, None
        self._data, self._lo, self._hi, self._source = data, lo, hi, source
        self._texts = located.select("key", "len", pl.Series("start", ends - count),
                                     "count").unique(["key", "len"], keep="first")
        return BatchWords(data, lo, hi, np.repeat(np.arange(n, dtype=np.uint32), count), source)


_FAST_WORDS: dict[str, _FastWords] = {}
_TOKENIZERS: dict[str, _Tokenizer] = {}
TOKENIZERS = ("fast", "spacy")


def check_tokenizer(name: str) -> str:
    """``name`` if it names a word tokenizer, else a ValueError listing them."""
    if name not in TOKENIZERS:
        raise ValueError(f"tokenizer must be one of {TOKENIZERS}, not {name!r}")
    return name


def _fast(language: str) -> _FastWords:
    if language not in _FAST_WORDS:
        _FAST_WORDS[language] = _FastWords(language)
    return _FAST_WORDS[language]


def tokens(texts: pl.Series, tokenizer: str = "fast", language: str = "en") -> pl.DataFrame:
    """Every token of ``language`` as rows ``doc, pos, piece`` (with ``"spacy"``, whitespace
    tokens included; the fast tokenizer makes none)."""
    if check_tokenizer(tokenizer) == "fast":
        return _fast(language)(texts).frame()
    if language not in _TOKENIZERS:
        _TOKENIZERS[language] = _Tokenizer(language)
    docs, start, length = _TOKENIZERS[language].spans(texts.to_list())
    df = pl.DataFrame({"doc": docs, "start": start, "length": length})
    df = df.with_columns(texts.gather(df["doc"]).alias("text"))
    df = df.select("doc", pl.col("text").str.slice(pl.col("start"), pl.col("length"))
                   .alias("piece"))
    return df.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).over("doc").alias("pos"))


def words(texts: pl.Series, tokenizer: str = "fast", language: str = "en") -> pl.DataFrame:
    """datatrove's ``split_into_words`` for ``language``: its tokens, stripped, empty ones
    dropped, as rows ``doc, piece, pos``."""
    if check_tokenizer(tokenizer) == "fast":  # its tokens hold no whitespace
        return _fast(language)(texts).frame()
    df = tokens(texts, tokenizer, language).with_columns(pl.col("piece").str.strip_chars(PY_SPACE))
    df = df.filter(pl.col("piece").str.len_chars() > 0)
    return df.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).over("doc").alias("pos"))


def word_buffers(texts: pl.Series, tokenizer: str = "fast", language: str = "en") -> BatchWords:
    """``words`` as byte ranges (what the compiled statistics read)."""
    if check_tokenizer(tokenizer) == "fast":
        return _fast(language)(texts)
    df = words(texts, tokenizer, language)
    return BatchWords.of(df["doc"], df["piece"])


def per_doc(df: pl.DataFrame, n_docs: int, *aggs: pl.Expr) -> pl.DataFrame:
    """``df`` aggregated by ``doc``, one row per document ``0..n_docs-1`` in order (documents
    without rows get nulls)."""
    every = pl.DataFrame({"doc": pl.arange(0, n_docs, dtype=pl.UInt32, eager=True)})
    if df.height == 0:
        return every.with_columns(*[pl.lit(None).alias(a.meta.output_name()) for a in aggs])
    return every.join(df.group_by("doc").agg(*aggs), on="doc", how="left", maintain_order="left")


def duplicates(df: pl.DataFrame, n_docs: int) -> pl.DataFrame:
    """datatrove's ``find_duplicates`` per document: ``dup_count`` (pieces equal to an earlier
    piece of the same document) and ``dup_chars`` (their total length); zero without pieces.

    Pieces are compared by a key ``doc * 2**40 + hash40(piece)`` (one hash-table pass, no
    string grouping): fewer than 2**24 documents a batch; two different pieces of one
    document share a key with probability about ``pieces**2 / 2**41``."""
    if n_docs >= 2**24:
        raise ValueError(f"duplicate pieces are counted in batches of fewer than 2**24 rows, "
                         f"not {n_docs}")
    key = (pl.col("doc").cast(pl.UInt64) * (1 << 40)
           + pl.col("piece").hash(seed=0) // (1 << 24))
    marked = df.with_columns(key.is_first_distinct().not_().alias("dup"))
    out = per_doc(marked, n_docs,
                  pl.col("dup").sum().alias("dup_count"),
                  pl.col("piece").str.len_chars().filter(pl.col("dup")).sum().alias("dup_chars"))
    return out.fill_null(0)


def first_reason(n: int, checks: list[tuple[str, np.ndarray]]) -> pa.Array:
    """Per row, the name of the first check that is true (in list order), else null."""
    reason = np.full(n, None, dtype=object)
    undecided = np.ones(n, dtype=bool)
    for name, failed in checks:
        hit = undecided & np.asarray(failed, dtype=bool)
        reason[hit] = name
        undecided &= ~hit
    return pa.array(reason, pa.string())


def ratio(num: pl.Series | np.ndarray, den: pl.Series | np.ndarray) -> np.ndarray:
    """``num / den`` as floats; ``x / 0`` is +inf for ``x > 0`` and 0 for ``x == 0``."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    return np.where(den == 0, np.where(num > 0, np.inf, 0.0), out)
