"""The README's demo: two sources through the recipe to tokenized shards, on two cores.

    curate run pipelines/demo.py --executor ray      # or: make demo

Sources: the Python documentation shipped with the interpreter (real English prose and code,
built into the work dir on first use) and a synthetic web crawl with planted duplicates,
near-duplicates, copied benchmark items, spam, junk and non-English pages
(``curation.synthetic``). The web source goes through language ID and the Gopher, C4 and
FineWeb filters; both meet in a union and go through exact and MinHash deduplication,
decontamination against the synthetic eval set and HumanEval, topic and quality tagging with
the default fastText classifiers (trained on first use by ``classifiers/train_default.py``),
per-topic quality vigintiles, tokenization with a byte-level BPE tokenizer trained on first
use, and quality-aware upsampling (OLMo 3's truncated power-exponential curves). Output:
tokenized, mixed Parquet shards and their manifest under ``runs/demo/out``; matches found by
decontamination under ``runs/demo/work/_side/decontaminate/matches``.

Parameters users change most: ``WORKDIR``, ``SYNTHETIC_DOCS``, ``VOCAB_SIZE``,
``UPSAMPLE_RATIO``, the filters.
"""

import os

from curation import Pipeline, read
from curation.decon import Decontaminate, humaneval, load_eval
from curation.dedup import ExactDedup, MinHashDedup
from curation.filters import (
    C4Quality,
    DocumentLength,
    FineWebQuality,
    GopherQuality,
    GopherRepetition,
    LanguageID,
)
from curation.mixing import Upsample
from curation.tagging import Quality, Topic, Vigintiles
from curation.tokenize import Tokenize
from pipelines.inputs import classifier_models, python_docs, synthetic_web, tokenizer

WORKDIR = os.environ.get("CURATE_DEMO_WORKDIR", "runs/demo")
SYNTHETIC_DOCS = int(os.environ.get("CURATE_DEMO_DOCS", "4000"))
VOCAB_SIZE = 8192
UPSAMPLE_RATIO = 1.0  # tokens wanted / available per topic: drop the lowest 40%, repeat the best

data = os.path.join(WORKDIR, "data")
docs_files = python_docs(data)
synthetic = synthetic_web(SYNTHETIC_DOCS, data)
tokenizer_path = tokenizer(VOCAB_SIZE, data)
quality_model, topic_model = classifier_models()  # trained on first use (about half a minute)

pipeline = Pipeline("demo", workdir=os.path.join(WORKDIR, "work"), seed=0)
docs = pipeline.source(read(docs_files, source="python-docs"))
web = pipeline.source(
    read(os.path.join(synthetic, "docs", "*.jsonl.zst"), on_error="quarantine"),
    name="synthetic-web",
)
clean_docs = pipeline.add(DocumentLength(min_chars=200), inputs=[docs], name="docs_length")
clean_web = (
    pipeline.add(DocumentLength(min_chars=300, max_chars=100_000), inputs=[web], name="web_length")
    >> LanguageID(keep=["en"])
    >> GopherRepetition()
    >> GopherQuality()
    >> C4Quality()
    >> FineWebQuality()
)
unique = (
    pipeline.union(clean_docs, clean_web, name="all")
    >> ExactDedup(partitions=4)
    >> MinHashDedup(partitions=4)
)
evals = [load_eval(os.path.join(synthetic, "evals", "synthetic_qa.jsonl")), humaneval()]
clean = unique >> Decontaminate(evals, purify="drop")
tagged = clean >> Topic(topic_model) >> Quality(quality_model) >> Vigintiles(by="topic")
mixed = tagged >> Tokenize(tokenizer_path) >> Upsample(ratio=UPSAMPLE_RATIO)
pipeline.sink(mixed, os.path.join(WORKDIR, "out"))
