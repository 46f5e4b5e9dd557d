"""The four heuristic filters per language, on real text in that language, against datatrove
0.10.1's filters with the same language and parameters.

Text: ``curation.samples.multilingual`` (the translated message catalogs of the machine's
Debian packages; English: their source strings), at most ``SAMPLE_DOCS`` documents a
language, whatever corpus ``curate bench`` was given. One row a language: the four filters
fused (``GopherRepetition >> GopherQuality >> C4Quality >> FineWebQuality`` on batches of 2048
documents, ``language=`` the text's, thresholds from ``curation.filters.languages.THRESHOLDS``)
vs datatrove's four on each document in turn at the parameters ours resolves to, with the
share of documents on which the keep/drop decisions agree. Each side first runs on two
documents, untimed (datatrove loads its tokenizer; ours loads its compiled code and the
language's rules), then ours starts with empty word caches, as a run does (jieba's dictionary
load included for Chinese). Chinese on
datatrove's side: its spaCy tokenizer with the jieba segmenter it asks for (see
``curation.filters.segment``). Per core: run with ``POLARS_MAX_THREADS=1``.
"""

from __future__ import annotations

import polars as pl

from curation.bench.common import Corpus, text_mb
from curation.bench.filters import _batches, _ours_chain, _row, _theirs_chain
from curation.filters import segment, words
from curation.filters.fineweb import FineWebQuality
from curation.filters.gopher import GopherQuality, GopherRepetition
from curation.samples.multilingual import documents

SAMPLE_DOCS = 400
LANGUAGES = ("en", "de", "fr", "es", "ru", "zh", "ja")


def datatrove_language(language: str):
    """What to pass datatrove as ``language``: the code, or for Chinese a spaCy tokenizer
    with jieba, as datatrove means it."""
    if language != "zh":
        return language
    from datatrove.utils.word_tokenizers import SpaCyTokenizer

    class ChineseWithJieba(SpaCyTokenizer):
        def __init__(self):
            super().__init__("zh")
            self.config = {"nlp": {"tokenizer": {"@tokenizers": "spacy.zh.ChineseTokenizer",
                                                 "segmenter": "jieba"}}}

    return ChineseWithJieba()


def datatrove_filters(language: str) -> list:
    """datatrove's four filters at the parameters ours resolve to for ``language``, in the
    order of ``curation.bench.filters``."""
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    dt = datatrove_language(language)
    r = GopherRepetition(language=language).for_language(language)
    q = GopherQuality(language=language).for_language(language)
    f = FineWebQuality(language=language).for_language(language)
    return [
        GopherRepetitionFilter(dup_line_frac=r.dup_line_frac, top_n_grams=r.top_n_grams,
                               dup_n_grams=r.dup_n_grams, language=dt),
        GopherQualityFilter(min_avg_word_length=q.min_avg_word_length,
                            max_avg_word_length=q.max_avg_word_length,
                            max_non_alpha_words_ratio=q.max_non_alpha_words_ratio,
                            stop_words=list(q.stop_words), language=dt),
        C4QualityFilter(language=dt),
        FineWebQualityFilter(line_punct_thr=f.line_punct_thr, new_line_ratio=f.new_line_ratio,
                             language=dt),
    ]


def _cold_chain(batches, language: str) -> list[bool]:
    words.reset_cache()
    segment.reset_cache()
    return _ours_chain(batches, "fast", language=language)


def run(corpus: Corpus, workdir: str) -> dict:
    import spacy  # noqa: F401  (imported before either side is timed)

    rows, sizes = [], {}
    for language in LANGUAGES:
        texts = [d["text"] for d in documents(language)][:SAMPLE_DOCS]
        if not texts:
            continue
        docs, mb = len(texts), text_mb(texts)
        sizes[language] = {"docs": docs, "mb": mb}
        batches = _batches(texts)
        theirs = datatrove_filters(language)
        _theirs_chain(texts[:2], theirs)  # load datatrove's tokenizer before timing
        _cold_chain(_batches(texts[:2]), language)  # and our compiled code and rules
        rows.append(_row(f"four filters fused, language={language!r}, {docs:,} docs "
                         f"({mb:.2f} MB) of message catalogs",
                         "datatrove, same four filters and language per document",
                         lambda b=batches, lang=language: _cold_chain(b, lang),
                         lambda t=texts, f=theirs: _theirs_chain(t, f), docs, mb))
    return {"rows": rows, "input_kind": "real",
            "input": "translated message catalogs (curation.samples.multilingual)",
            "languages": sizes, "polars_threads": pl.thread_pool_size()}
