"""Languages of the word-based heuristic filters (``GopherQuality``, ``GopherRepetition``,
``FineWebQuality``, ``C4Quality``): which ones, how a ``LanguageID`` label names one, and the
per-language thresholds table.

Each filter takes ``language=``: one of ``LANGUAGES`` (default ``"en"``, the behaviour and
fingerprint the filters always had), or ``"auto"``: every row is judged in the language of its
``lang`` column (``LanguageID``'s: ``de``, or GlotLID's ``deu_Latn``...), rows of a batch
grouped by language; a row whose language is missing or not in ``LANGUAGES`` is judged in the
filter's ``fallback`` language (default ``"xx"``, spaCy's multi-language rules, which datatrove
also falls back on). A language decides

- the words: spaCy's blank tokenizer of that language for ``en de fr es ru xx``
  (``curation.filters.words``), jieba for ``zh`` and Sudachi for ``ja``
  (``curation.filters.segment``), as datatrove 0.10.1's ``load_word_tokenizer`` means them;
- the thresholds: ``THRESHOLDS[language]`` gives the parameters that differ from datatrove's
  defaults (the filters' constructor defaults), over which ``thresholds=`` (a mapping
  ``{language: {parameter: value}}``) wins. A parameter passed to the constructor explicitly
  wins over the table, not over ``thresholds=``. ``thresholds="datatrove"`` leaves the table
  out (datatrove's defaults in every language, English stop words included).

The table: English keeps datatrove's (= Gopher's, C4's, FineWeb's) defaults. For German,
French, Spanish, Russian, Chinese and Japanese it holds FineWeb-2's per-language values
(Penedo et al. 2025; ``configs/<lang>_<Script>.yml`` of the huggingface/fineweb-2 repository
at commits 05e6729 (deu, fra, rus, cmn) and baedee4 (spa, jpn), data under ODC-By): its
``dup_line_frac``, ``top_n_grams`` and ``dup_n_grams`` (GopherRepetition), ``line_punct_thr``
and ``new_line_ratio`` (FineWebQuality), ``min_avg_word_length``, ``max_avg_word_length``,
``max_non_alpha_words_ratio`` and ``stopwords`` (GopherQuality's ``stop_words``). Not carried
over: FineWeb-2's pipeline-wide choices (``dup_para_frac``, ``dup_para_char_frac`` and
``dup_line_char_frac`` off, ``short_line_thr`` off, ``char_duplicates_ratio`` 0.1, no C4
rules) and its ``language_score`` (a ``LanguageID(min_score=...)`` setting). datatrove ships
none of these; without them the defaults drop nearly every Chinese and Japanese document
(a mean word length of 3 to 10 characters, English stop words).
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

AUTO = "auto"
LANGUAGES = ("en", "de", "fr", "es", "ru", "zh", "ja", "xx")

# LanguageID labels (lid.176: ISO 639-1; GlotLID: ISO 639-3 with script) -> our codes
_CODES = {
    "en": "en", "eng": "en", "eng_latn": "en",
    "de": "de", "deu": "de", "deu_latn": "de", "ger": "de",
    "fr": "fr", "fra": "fr", "fra_latn": "fr", "fre": "fr",
    "es": "es", "spa": "es", "spa_latn": "es",
    "ru": "ru", "rus": "ru", "rus_cyrl": "ru",
    "zh": "zh", "zho": "zh", "cmn": "zh", "chi": "zh", "cmn_hani": "zh", "zho_hani": "zh",
    "zho_hans": "zh", "zho_hant": "zh", "cmn_hans": "zh", "cmn_hant": "zh", "zh-cn": "zh",
    "zh-tw": "zh", "zh_cn": "zh", "zh_tw": "zh",
    "ja": "ja", "jpn": "ja", "jpn_jpan": "ja",
    "xx": "xx",
}

_REPETITION = ("dup_line_frac", "top_n_grams", "dup_n_grams")
_FINEWEB = ("line_punct_thr", "new_line_ratio")
_QUALITY = ("min_avg_word_length", "max_avg_word_length", "max_non_alpha_words_ratio",
            "stop_words")


def _fineweb2(dup_line_frac, top, dup, line_punct_thr, new_line_ratio, min_avg, max_avg,
              alpha, stop_words) -> dict[str, Any]:
    return {"dup_line_frac": dup_line_frac,
            "top_n_grams": tuple(zip((2, 3, 4), top, strict=True)),
            "dup_n_grams": tuple(zip(range(5, 11), dup, strict=True)),
            "line_punct_thr": line_punct_thr, "new_line_ratio": new_line_ratio,
            "min_avg_word_length": min_avg,
            "max_avg_word_length": max_avg, "max_non_alpha_words_ratio": alpha,
            "stop_words": tuple(stop_words)}


THRESHOLDS: dict[str, dict[str, Any]] = {
    "en": {},
    "de": _fineweb2(0.263, (0.169, 0.153, 0.137), (0.141, 0.134, 0.126, 0.117, 0.108, 0.098),
                    0.0, 0.152, 0, 15, 0.774,
                    ("der", "und", "die", "in", "von", "im", "den", "des", "mit", "das", "er",
                     "dem", "als", "wurde", "für")),
    "fr": _fineweb2(0.264, (0.161, 0.149, 0.134), (0.15, 0.141, 0.131, 0.121, 0.111, 0.1),
                    0.1, 0.185, 2, 11, 0.812,
                    ("de", "la", "le", "et", "à", "en", "l'", "des", "du", "les", "est", "d'",
                     "un", "une", "il", "dans", "par", "au")),
    "es": _fineweb2(0.265, (0.077, 0.097, 0.112), (0.152, 0.137, 0.123, 0.114, 0.107, 0.099),
                    0.3, 0.171, 4, 14, 0.825,
                    ("de", "la", "en", "el", "y", "a", "que", "del", "los", "se", "por", "un",
                     "con", "una", "las", "su")),
    "ru": _fineweb2(0.322, (0.184, 0.164, 0.146), (0.168, 0.156, 0.145, 0.133, 0.121, 0.109),
                    0.231, 0.139, 3, 11, 0.713,
                    ("в", "и", "на", "с", "года", "по", "году", "из", "был", "к", "не", "от",
                     "что", "за", "для", "его", "как", "а", "он", "также", "до", "после")),
    "zh": _fineweb2(0.287, (0.256, 0.201, 0.171), (0.198, 0.182, 0.167, 0.154, 0.14, 0.127),
                    0.106, 0.178, 1, 5, 0.735,
                    ("的", "年", "在", "月", "是", "和", "日", "了", "於", "·", "為", "有", "被",
                     "人", "中", "为", "他", "與", "後", "也", "而", "由")),
    "ja": _fineweb2(0.375, (0.121, 0.129, 0.145), (0.307, 0.283, 0.264, 0.248, 0.234, 0.223),
                    0.167, 0.162, 1, 5, 0.759,
                    ("の", "に", "を", "は", "た", "て", "が", "と", "で", "年", "し", "・", "月",
                     "れ", "さ")),
    "xx": {},
}
TABLE_PARAMETERS = frozenset(_REPETITION + _FINEWEB + _QUALITY)


def normalise(label: str | None) -> str | None:
    """Our code (one of ``LANGUAGES``) for a language label, None if it names none."""
    if label is None:
        return None
    return _CODES.get(label.strip().lower().removeprefix("__label__"))


def check_language(language: str, auto: bool = True) -> str:
    """``language`` as one of ``LANGUAGES`` (or ``"auto"``), else a ValueError."""
    if auto and language == AUTO:
        return AUTO
    code = normalise(language)
    if code is None:
        raise ValueError(f"language must be one of {LANGUAGES}"
                         f"{' or ' + repr(AUTO) if auto else ''}, not {language!r}")
    return code


def records_explicit(init: Callable) -> Callable:
    """Decorates a filter's ``__init__`` to remember which parameters were passed
    (``self._explicit``): those win over the thresholds table."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        self._explicit = frozenset(signature.bind(self, *args, **kwargs).arguments) - {"self"}
        init(self, *args, **kwargs)

    return wrapper


class LanguageAware:
    """Mixin of the word-based filters: ``language``, ``thresholds``, ``fallback`` (see the
    module docstring). ``table_parameters``: the parameters of the filter the table may set;
    ``_convert``: how a parameter's value is normalised (as the constructor does)."""

    table_parameters: tuple[str, ...] = ()
    _convert: dict[str, Callable[[Any], Any]] = {}

    def _init_language(self, language: str, thresholds: Mapping | str | None,
                       fallback: str) -> None:
        self.language = check_language(language)
        self.fallback = check_language(fallback, auto=False)
        if isinstance(thresholds, str):
            if thresholds != "datatrove":
                raise ValueError(f"thresholds must be a mapping, None or 'datatrove', not "
                                 f"{thresholds!r}")
            self.thresholds: dict | str | None = thresholds
        elif thresholds is None:
            self.thresholds = None
        else:
            table: dict[str, dict[str, Any]] = {}
            for lang, values in thresholds.items():
                unknown = set(values) - TABLE_PARAMETERS
                if unknown:
                    raise ValueError(f"unknown thresholds {sorted(unknown)} for {lang!r}; "
                                     f"known: {sorted(TABLE_PARAMETERS)}")
                table[check_language(lang, auto=False)] = {
                    k: _plain(v) for k, v in sorted(values.items())}
            self.thresholds = table
        if self.language == AUTO:
            self.requires = ("text", "lang")
        self._clones: dict[str, Any] = {}

    def settings(self, language: str) -> dict[str, Any]:
        """The parameters that ``language``'s rows are judged with, where they differ from
        this filter's attributes (the table's values, then ``thresholds=``)."""
        out: dict[str, Any] = {}
        if self.thresholds != "datatrove":
            out = {k: v for k, v in THRESHOLDS[language].items()
                   if k in self.table_parameters and k not in self._explicit}
        if isinstance(self.thresholds, dict):
            out |= {k: v for k, v in self.thresholds.get(language, {}).items()
                    if k in self.table_parameters}
        return {k: self._convert.get(k, _plain)(v) for k, v in out.items()}

    def config(self) -> dict:
        config = super().config()  # type: ignore[misc]
        if self.language == "en" and self.thresholds is None:
            for key in ("language", "thresholds", "fallback"):  # the English fingerprint
                config.pop(key, None)
            return config
        languages = LANGUAGES if self.language == AUTO else (self.language,)
        config["settings"] = {lang: _plain(self.settings(lang)) for lang in languages}
        return config

    def for_language(self, language: str):
        """This filter as it judges ``language``'s rows (a copy with its settings)."""
        if language not in self._clones:
            clone = copy.copy(self)
            clone.language = language
            for key, value in self.settings(language).items():
                setattr(clone, key, value)
            self._clones[language] = clone
        return self._clones[language]

    def languages_of(self, batch: pa.Table) -> np.ndarray:
        """Each row's language (``"auto"``: its ``lang``, the fallback where none of ours)."""
        if self.language != AUTO:
            return np.full(batch.num_rows, self.language, dtype=object)
        labels = pl.Series(batch.column("lang").combine_chunks()).cast(pl.String)
        known = {label: normalise(label) or self.fallback
                 for label in labels.drop_nulls().unique().to_list()}
        return labels.replace_strict(known, default=self.fallback,
                                     return_dtype=pl.String).to_numpy()

    def per_language(self, batch: pa.Table, judge: Callable[[Any, pa.Table], Any]):
        """``judge(filter_for_language, rows)`` over the rows of each language of ``batch``,
        its results (an Arrow array, or a tuple of them, row for row) put back in row
        order."""
        if self.language != AUTO:
            return judge(self.for_language(self.language), batch)
        langs = self.languages_of(batch)
        distinct = sorted(set(langs.tolist()))
        if len(distinct) == 1:
            return judge(self.for_language(distinct[0]), batch)
        parts, order = [], []
        for lang in distinct:
            rows = np.flatnonzero(langs == lang)
            parts.append(judge(self.for_language(lang), batch.take(pa.array(rows))))
            order.append(rows)
        inverse = np.argsort(np.concatenate(order), kind="stable")
        take = pa.array(inverse)
        if isinstance(parts[0], tuple):
            return tuple(pc.take(pa.concat_arrays([p[i] for p in parts]), take)
                         for i in range(len(parts[0])))
        return pc.take(pa.concat_arrays(parts), take)


def _plain(value: Any) -> Any:
    """JSON-like data: tuples of pairs stay tuples (as the constructors keep them)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return tuple(_plain(v) for v in value)
    return value
