"""Word segmentation for Chinese and Japanese, the languages written without spaces, as
datatrove 0.10.1's word tokenizers intend it, over the distinct pieces of a batch.

- Chinese (``zh``): jieba 0.42.1's accurate mode with its HMM (the dictionary ships in the
  jieba package), which spaCy's Chinese tokenizer runs for ``segmenter="jieba"``, the
  configuration datatrove asks for. jieba cuts a text into blocks of CJK ideographs and ASCII
  letters, digits and ``+#&._%-`` and segments each block on its own; every other character
  is a word by itself and whitespace is no word. So each *distinct block* of a batch goes
  through jieba once per run (a ``words.ChunkCache``) and the rest is one regex pass: the
  same words as jieba on the whole text, by construction.

  datatrove 0.10.1 itself does not get there with spaCy 3.8: ``spacy.blank("zh",
  config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})`` builds spaCy's default rule-based
  tokenizer (the multi-language ``xx`` rules), so its Chinese "words" are runs between
  spaces and punctuation. ``language="xx"`` gives exactly that, if wanted.

- Japanese (``ja``): SudachiPy with the ``sudachidict_core`` dictionary (both packages from
  PyPI, the dictionary inside the wheel) in split mode A, as datatrove's Japanese tokenizer
  (spaCy's, with datatrove's memory-leak fix) runs it: the words are the morphemes' surfaces,
  whitespace dropped. Each *distinct line* of a batch, with the line breaks around it, is
  analysed once per run (lines over ``SUDACHI_MAX_BYTES`` UTF-8 bytes in pieces of that
  size, as datatrove cuts texts over 40,000 bytes). Sudachi finds the best path over its
  whole input and a line break is a morpheme of its own, so a line between its breaks splits
  as inside its text (not so a line alone: ``"\\nメタデータプール"`` keeps the katakana
  word whole, the line alone splits it).

Neither library is vectorised: jieba is plain Python (about 0.5-1 MB/s a core), Sudachi is
Rust behind one Python object per morpheme (about 1.5 MB/s a core); the caching of distinct
blocks and lines is what this module adds.
"""

from __future__ import annotations

import functools

import polars as pl

from curation.core.errors import CurationError
from curation.filters.words import ChunkCache, tokenize_chunks, tokenize_pieces

# jieba 0.42.1's re_han_default (the blocks it segments) and any other non-space character
JIEBA_BLOCK = r"[\x{4E00}-\x{9FD5}a-zA-Z0-9+#&._%\-]+"
ZH_PIECE = JIEBA_BLOCK + r"|[^\s\x1c-\x1f]"
SUDACHI_MAX_BYTES = 40_000
SEGMENTED = ("zh", "ja")


def _missing(language: str, error: ImportError) -> CurationError:
    return CurationError(f"the filters' language={language!r} needs {error.name} (the "
                         "'multilingual' extra): pip install 'curation[multilingual]'")


@functools.cache
def _jieba():
    import logging

    try:
        import jieba
    except ImportError as e:
        raise _missing("zh", e) from None

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba.dt


def _split_zh(chunks: pl.Series) -> pl.DataFrame:
    """jieba's words of each piece (a block or one character): rows ``id, token``."""
    cut = _jieba().cut
    ids, tokens = [], []
    for i, chunk in enumerate(chunks.to_list()):
        for word in cut(chunk, cut_all=False, HMM=True):
            ids.append(i)
            tokens.append(word)
    return pl.DataFrame({"id": pl.Series(ids, dtype=pl.UInt32),
                         "token": pl.Series(tokens, dtype=pl.String)})


@functools.cache
def _sudachi():
    try:
        from sudachipy import dictionary, tokenizer

        return dictionary.Dictionary().tokenizer(mode=tokenizer.Tokenizer.SplitMode.A)
    except ImportError as e:  # sudachipy, or its dictionary package sudachidict_core
        raise _missing("ja", e) from None


def _pieces(line: str, max_bytes: int = SUDACHI_MAX_BYTES) -> list[str]:
    """``line`` cut into pieces of at most ``max_bytes`` UTF-8 bytes (Sudachi's input limit
    is about 49 KB)."""
    if len(line) * 4 <= max_bytes or len(line.encode()) <= max_bytes:
        return [line]
    out, start, size = [], 0, 0
    for i, c in enumerate(line):
        n = len(c.encode())
        if size + n > max_bytes:
            out.append(line[start:i])
            start, size = i, 0
        size += n
    out.append(line[start:])
    return out


def _split_ja(chunks: pl.Series) -> pl.DataFrame:
    """Sudachi's (split mode A) non-space surfaces of each line: rows ``id, token``."""
    tokenize = _sudachi().tokenize
    ids, tokens = [], []
    for i, line in enumerate(chunks.to_list()):
        for piece in _pieces(line):
            for m in tokenize(piece):
                word = m.surface().strip()
                if word:
                    ids.append(i)
                    tokens.append(word)
    return pl.DataFrame({"id": pl.Series(ids, dtype=pl.UInt32),
                         "token": pl.Series(tokens, dtype=pl.String)})


def _lines_in_context(texts: pl.Series) -> pl.DataFrame:
    """Every line of every text (split at ``\\n``) with the line breaks around it, as Sudachi
    sees it inside the text: rows ``doc, chunk``. Whitespace is a morpheme of its own, so the
    best path before and after a line break meet only there: a line between its breaks
    segments as in the whole text."""
    lines = pl.DataFrame({"doc": pl.arange(0, len(texts), dtype=pl.UInt32, eager=True),
                          "line": texts.str.split("\n")}).explode("line")
    first = pl.int_range(pl.len()).over("doc") == 0
    last = pl.int_range(pl.len()).over("doc") == pl.len().over("doc") - 1
    nl = pl.lit("\n")
    chunk = pl.concat_str([pl.when(first).then(pl.lit("")).otherwise(nl), pl.col("line"),
                           pl.when(last).then(pl.lit("")).otherwise(nl)])
    return (lines.with_columns(chunk.alias("chunk"))
            .filter(pl.col("line").str.contains(r"[^\s\x1c-\x1f]")).select("doc", "chunk"))


_SPLITS = {"zh": _split_zh, "ja": _split_ja}
_CACHES: dict[str, ChunkCache] = {}


def reset_cache() -> None:
    """Forget every block and line segmented so far."""
    _CACHES.clear()


def segment(texts: pl.Series, language: str) -> pl.DataFrame:
    """The words of every text in ``language`` (``zh`` or ``ja``) as rows ``doc, token`` in
    text order."""
    if language not in _CACHES:
        _CACHES[language] = ChunkCache(max_chunks=500_000, split=_SPLITS[language])
    if language == "zh":
        return tokenize_chunks(texts, ZH_PIECE, _CACHES[language])
    return tokenize_pieces(_lines_in_context(texts), _CACHES[language])


@functools.cache
def spacy_pipeline(language: str):
    """The spaCy pipeline datatrove means for ``language`` (``zh``: Chinese with jieba;
    ``ja``: Japanese with datatrove's Sudachi tokenizer), with a sentencizer: the reference of
    the ``"spacy"`` tokenizer option."""
    import spacy

    if language == "zh":
        nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {
            "@tokenizers": "spacy.zh.ChineseTokenizer", "segmenter": "jieba"}}})
    else:
        from datatrove.utils.japanese_tokenizer import JapaneseTokenizer  # noqa: F401

        nlp = spacy.blank("ja", config={"nlp": {"tokenizer": {
            "@tokenizers": "datatrove.ja.JapaneseTokenizer"}}})
    nlp.add_pipe("sentencizer")
    return nlp
