"""Language-aware filters: words per language against their references, each filter's
decisions against datatrove 0.10.1's with the same language and parameters, ``language="auto"``
against each language's rows judged alone, and the thresholds table.

Real text: ``curation.samples.multilingual``, the translated gettext catalogs the machine's
Debian packages ship in ``/usr/share/locale`` (English: their source strings). Measured when
this test was written, on every document of each language (947 to 1,377 documents, 0.9 to 3 M
characters a language): spaCy's tokens equal ours on every document in German, French,
Russian and ``xx`` (on the Chinese text), on 1,237 of 1,238 in Spanish (spaCy's special case
"EE. UU.", a token with a space, see ``curation.filters.words``); jieba's and Sudachi's words
(through spaCy, as datatrove means them) equal ours on every Chinese and Japanese document;
each filter's decisions equal datatrove's on every one of 150 documents a language (agreement
1.0, 28 language-filter pairs). The tests here run smaller samples.

Chinese: datatrove 0.10.1 asks spaCy for jieba but gets spaCy's rule-based tokenizer (see
``curation.filters.segment``); its filters are compared here with the jieba tokenizer it asks
for (a ``WordTokenizer`` passed as ``language``), and its as-shipped Chinese words with ours
for ``language="xx"``.
"""

from __future__ import annotations

import json
import random

import polars as pl
import pyarrow as pa
import pytest
import spacy
from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
)
from datatrove.utils.word_tokenizers import SpaCyTokenizer, load_word_tokenizer, strip_strings
from filter_agreement import datatrove_reasons

from curation.filters import C4Quality, FineWebQuality, GopherQuality, GopherRepetition, words
from curation.filters.languages import THRESHOLDS, normalise
from curation.filters.segment import segment, spacy_pipeline
from curation.filters.text import words as text_words
from curation.samples.multilingual import documents, sample

SPACY_RULES = ("de", "fr", "es", "ru", "xx")
ALL = ("en", "de", "fr", "es", "ru", "zh", "ja")
FILTERS = ("gopher_quality", "gopher_repetition", "fineweb", "c4")


def texts_of(language: str, n: int) -> list[str]:
    source = "zh" if language == "xx" else language  # xx: spaCy's fallback, on Chinese
    texts = sample(source, n)
    if len(texts) < n // 2:
        pytest.skip(f"this machine ships too few {source} message catalogs")
    return texts


def grouped(df: pl.DataFrame, n: int) -> list[list[str]]:
    g = dict(df.group_by("doc", maintain_order=True).agg("token").iter_rows())
    return [g.get(i, []) for i in range(n)]


@pytest.mark.parametrize("language", [lang for lang in words.LANGUAGES if lang != "en"])
def test_rules_files_are_the_installed_spacys(language, tmp_path):
    with open(words.rules_file(language), encoding="utf-8") as f:
        shipped = json.load(f)
    assert words.freeze(str(tmp_path / "rules.json"), language) == shipped, \
        "run `python -m curation.filters.words` to refresh the frozen rules"


@pytest.mark.parametrize("language", SPACY_RULES)
def test_words_match_spacy_on_real_text(language):
    texts = texts_of(language, 300)
    words.reset_cache()
    ours = grouped(words.tokenize(pl.Series(texts, dtype=pl.String), language), len(texts))
    nlp = spacy.blank(language)
    theirs = [[t.text for t in doc if not t.text.isspace()] for doc in nlp.tokenizer.pipe(texts)]
    same = sum(a == b for a, b in zip(ours, theirs, strict=True))
    assert same / len(texts) >= 0.99  # 1.0 on all documents but one Spanish one


@pytest.mark.parametrize("language", SPACY_RULES)
def test_random_punctuation_chunks_match_spacy(language):
    """Look-around rules are matched with consumed context: chunks made to collide rules."""
    rng = random.Random(0)
    alphabet = "aAbZéÉя09.,;:!?()[]{}'’\"-–=+/$%…#*&_@<>«»"
    chunks = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
              for _ in range(1500)]
    words.reset_cache()
    ours = grouped(words.tokenize(pl.Series(chunks), language), len(chunks))
    nlp = spacy.blank(language)
    theirs = [[t.text for t in doc if not t.text.isspace()] for doc in nlp.tokenizer.pipe(chunks)]
    agree = sum(a == b for a, b in zip(ours, theirs, strict=True)) / len(chunks)
    assert agree >= 0.995  # every chunk agreed in every language when this test was written


@pytest.mark.parametrize("chunk", ["l'homme", "d'accord", "aujourd'hui", "qu'il", "porte-monnaie",
                                   "anti-inflammatoire", "New-York", "(l'État)", "dit-il.",
                                   "va-t-en", "c'est-à-dire", "L’avion", "l'", "jusqu'à"])
def test_french_elisions_and_token_match(chunk):
    words.reset_cache()
    ours = grouped(words.tokenize(pl.Series([chunk]), "fr"), 1)[0]
    assert ours == [t.text for t in spacy.blank("fr")(chunk)]


def test_chinese_words_are_jiebas_through_spacy():
    texts = texts_of("zh", 120) + ["中文 mixed with English 和 数字 123，标点！", " \n", ""]
    ours = grouped(segment(pl.Series(texts), "zh"), len(texts))
    nlp = spacy_pipeline("zh")
    assert ours == [strip_strings([t.text for t in nlp.tokenizer(t)]) for t in texts]


def test_japanese_words_are_datatroves_sudachi():
    texts = texts_of("ja", 120) + ["東京大学で勉強しています。\nメタデータプールの読み込み", "\n\n"]
    ours = grouped(segment(pl.Series(texts), "ja"), len(texts))
    tokenizer = load_word_tokenizer("ja")
    assert ours == [tokenizer.word_tokenize(t) for t in texts]


def test_datatroves_chinese_words_are_the_xx_rules():
    """What datatrove 0.10.1 actually counts for Chinese (see the module docstring)."""
    texts = texts_of("zh", 60)
    ours = grouped(words.tokenize(pl.Series(texts), "xx"), len(texts))
    assert ours == [load_word_tokenizer("zh").word_tokenize(t) for t in texts]


class _ChineseWithJieba(SpaCyTokenizer):
    """datatrove's spaCy tokenizer with the Chinese configuration it means to use."""

    def __init__(self):
        super().__init__("zh")
        self.config = {"nlp": {"tokenizer": {"@tokenizers": "spacy.zh.ChineseTokenizer",
                                             "segmenter": "jieba"}}}


_ZH = _ChineseWithJieba()


def _pair(name: str, language: str):
    """Ours for ``language`` and datatrove's filter at the parameters ours resolves to."""
    dt_language = _ZH if language == "zh" else language
    if name == "gopher_quality":
        ours = GopherQuality(language=language)
        q = ours.for_language(language)
        return ours, GopherQualityFilter(
            min_doc_words=q.min_doc_words, max_doc_words=q.max_doc_words,
            min_avg_word_length=q.min_avg_word_length, max_avg_word_length=q.max_avg_word_length,
            max_symbol_word_ratio=q.max_symbol_word_ratio,
            max_bullet_lines_ratio=q.max_bullet_lines_ratio,
            max_ellipsis_lines_ratio=q.max_ellipsis_lines_ratio,
            max_non_alpha_words_ratio=q.max_non_alpha_words_ratio,
            min_stop_words=q.min_stop_words, stop_words=list(q.stop_words), language=dt_language)
    if name == "gopher_repetition":
        ours = GopherRepetition(language=language)
        r = ours.for_language(language)
        return ours, GopherRepetitionFilter(
            dup_line_frac=r.dup_line_frac, dup_para_frac=r.dup_para_frac,
            dup_line_char_frac=r.dup_line_char_frac, dup_para_char_frac=r.dup_para_char_frac,
            top_n_grams=r.top_n_grams, dup_n_grams=r.dup_n_grams, language=dt_language)
    if name == "fineweb":
        ours = FineWebQuality(language=language)
        f = ours.for_language(language)
        return ours, FineWebQualityFilter(line_punct_thr=f.line_punct_thr,
                                          new_line_ratio=f.new_line_ratio, language=dt_language)
    return C4Quality(language=language), C4QualityFilter(language=dt_language)


@pytest.mark.parametrize("name", FILTERS)
@pytest.mark.parametrize("language", ALL)
def test_decisions_match_datatrove(language, name):
    texts = texts_of(language, 60)
    ours, theirs = _pair(name, language)
    got = ours.reasons(pa.table({"text": pa.array(texts, pa.large_string())})).to_pylist()
    want = datatrove_reasons(theirs, texts)
    agree = sum(a == b for a, b in zip(got, want, strict=True)) / len(texts)
    assert agree >= 0.99, (language, name, agree)  # 1.0 on 150 documents a language
    assert got.count(None) > 0 or name == "c4"  # the sample exercises both outcomes
    assert got.count(None) < len(got) or name == "gopher_repetition"


def test_spacy_tokenizer_option_per_language():
    for language in ("de", "fr", "zh", "ja"):
        texts = pl.Series(texts_of(language, 30))
        fast = text_words(texts, "fast", language).select("doc", "piece")
        exact = text_words(texts, "spacy", language).select("doc", "piece")
        assert fast.equals(exact), language


def _mixed_batch(per_language: int = 12) -> tuple[pa.Table, list[str]]:
    labels = {"en": "en", "de": "deu_Latn", "fr": "__label__fr", "es": "spa_Latn", "ru": "ru",
              "zh": "cmn_Hani", "ja": "ja"}
    rows = [(t, label) for lang, label in labels.items() for t in texts_of(lang, per_language)]
    rows += [(t, "sv") for t in texts_of("de", per_language)[:4]]  # not ours: the fallback
    rows += [(t, None) for t in texts_of("en", per_language)[:4]]
    random.Random(0).shuffle(rows)
    return (pa.table({"text": [t for t, _ in rows], "lang": [la for _, la in rows]}),
            [la for _, la in rows])


@pytest.mark.parametrize("cls", [GopherQuality, GopherRepetition, FineWebQuality, C4Quality])
def test_auto_equals_each_language_alone(cls):
    batch, labels = _mixed_batch()
    stage = cls(language="auto")
    got = stage.reasons(batch).to_pylist()
    want: list[str | None] = [None] * len(labels)
    for label in set(labels):
        rows = [i for i, la in enumerate(labels) if la == label]
        alone = cls(language=normalise(label) or "xx").reasons(batch.take(rows)).to_pylist()
        for i, reason in zip(rows, alone, strict=True):
            want[i] = reason
    assert got == want
    assert stage.requires == ("text", "lang")


def test_auto_c4_rewrites_texts_in_row_order():
    batch, labels = _mixed_batch(6)
    reasons, text = C4Quality(language="auto").evaluate(batch)
    for i, label in enumerate(labels):
        alone = C4Quality(language=normalise(label) or "xx").evaluate(batch.slice(i, 1))
        assert (reasons[i].as_py(), text[i].as_py()) == (alone[0][0].as_py(), alone[1][0].as_py())


def test_thresholds_table_and_overrides():
    de = GopherQuality(language="de").for_language("de")
    assert de.stop_words == tuple(sorted(THRESHOLDS["de"]["stop_words"]))
    assert de.max_avg_word_length == 15 and de.min_doc_words == 50  # table, then default
    explicit = GopherQuality(language="de", max_avg_word_length=12).for_language("de")
    assert explicit.max_avg_word_length == 12  # an explicit argument beats the table
    over = GopherQuality(language="de", max_avg_word_length=12,
                         thresholds={"deu_Latn": {"max_avg_word_length": 20}})
    assert over.for_language("de").max_avg_word_length == 20  # thresholds= beats both
    plain = GopherQuality(language="de", thresholds="datatrove").for_language("de")
    assert plain.max_avg_word_length == 10 and "the" in plain.stop_words
    rep = GopherRepetition(language="zh").for_language("zh")
    assert rep.top_n_grams == ((2, 0.256), (3, 0.201), (4, 0.171))
    assert FineWebQuality(language="ja").for_language("ja").line_punct_thr == 0.167
    with pytest.raises(ValueError, match="unknown thresholds"):
        GopherQuality(thresholds={"de": {"min_avg_word_lenght": 1}})
    with pytest.raises(ValueError, match="language must be one of"):
        GopherQuality(language="klingon")


def test_english_fingerprint_unchanged_and_others_fingerprinted():
    assert not {"language", "thresholds", "fallback", "settings"} & set(GopherQuality().config())
    de, de12 = GopherQuality(language="de"), GopherQuality(language="de", min_avg_word_length=1)
    assert de.identity() != de12.identity()  # the table's value is replaced: a new fingerprint
    assert de.config()["settings"]["de"]["max_avg_word_length"] == 15
    assert set(GopherRepetition(language="auto").config()["settings"]) >= set(ALL)


def test_documents_are_deterministic_and_in_their_language():
    for language in ALL:
        docs = documents(language)
        if not docs:
            continue
        assert all(d["lang"] == language and d["text"] for d in docs)
        assert len({d["id"] for d in docs}) == len(docs)
    documents.cache_clear()
    again = documents("de")
    assert again == documents("de")
