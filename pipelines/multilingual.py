"""Beyond English: a crawl in several languages, each judged by its own language's rules.

    curate run pipelines/multilingual.py --executor ray
    curate inspect runs/multilingual/work          # the funnel; per-language drops in stats

documents -> language ID (keeps ``languages``) -> PII masking (emails, IP addresses, phone
numbers to Dolma's placeholders, counts per kind in the stats) -> one document per
normalised URL -> Gopher repetition, FineWeb and Gopher quality, each with
``language="auto"``: every row is tokenized and judged with its own language's words, stop
words and thresholds (FineWeb-2's per-language table; ``curation/filters/languages.py``) ->
exact dedup -> MinHash dedup -> Parquet shards (with ``lang``). As in FineWeb-2's pipeline,
no C4 filter: its rules count space-separated words per line and would empty nearly every
Chinese and Japanese document.

Parameters (``curate plan pipelines/multilingual.py`` lists them; ``--set NAME=VALUE``):
``input`` [a sample of the machine's translated message catalogs: 300 documents each of
English, German, French, Spanish, Russian, Chinese and Japanese], ``languages``
[en,de,fr,es,ru,zh,ja], ``per_language`` [300], ``workdir`` [runs/multilingual].
Chinese and Japanese need the ``multilingual`` extra (jieba, Sudachi).
"""

import os
from functools import partial

import pyarrow as pa

from curation import Pipeline, param, read
from curation.dedup import ExactDedup, MinHashDedup, UrlDedup
from curation.filters import (
    FineWebQuality,
    GopherQuality,
    GopherRepetition,
    LanguageID,
    MaskPII,
)
from pipelines.inputs import samples_root, workdir

WORKDIR = workdir("runs/multilingual")
INPUT = param("input", "", "documents: files, a directory or a glob (default: the sample of "
              "translated message catalogs)")
LANGUAGES = param("languages", "en,de,fr,es,ru,zh,ja", "languages kept by language ID, "
                  "comma-separated").split(",")
PER_LANGUAGE = param("per_language", 300, "documents per language in the default sample")


def _build_sample(per_language: int, directory: str) -> None:
    from curation.samples import build_multilingual_corpus

    build_multilingual_corpus(directory, per_language)


pipeline = Pipeline("multilingual", workdir=os.path.join(WORKDIR, "work"), seed=0)
docs = INPUT or pipeline.input(
    "catalogs", os.path.join(samples_root(), f"multilingual-{PER_LANGUAGE}"),
    partial(_build_sample, PER_LANGUAGE),
    "translated messages of the machine's Debian packages (/usr/share/locale)")
raw = pipeline.source(read(docs, source="web", on_error="quarantine",
                           columns={"source_lang": pa.string()}), name="web")
clean = (raw >> LanguageID(keep=LANGUAGES) >> MaskPII() >> UrlDedup()
         >> GopherRepetition(language="auto") >> FineWebQuality(language="auto")
         >> GopherQuality(language="auto"))
pipeline.sink(clean >> ExactDedup() >> MinHashDedup(), os.path.join(WORKDIR, "out"))
