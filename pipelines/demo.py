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

Parameters (``curate plan pipelines/demo.py`` lists them; ``--set NAME=VALUE``): ``workdir``,
``docs`` (synthetic documents), ``upsample_ratio``, ``vocab_size``. The data preparation is
declared as the pipeline's inputs and done when the run starts, so ``curate plan`` builds
nothing.
"""

import os

from curation import Pipeline, param, read
from curation.decon import Decontaminate
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
from pipelines.inputs import (
    classifier_models,
    eval_sets,
    python_docs,
    synthetic_web,
    tokenizer,
    workdir,
)

WORKDIR = workdir("runs/demo")
DOCS = param("docs", 4000, "synthetic web documents to generate")
VOCAB_SIZE = param("vocab_size", 8192, "vocabulary of the BPE trained on the Python docs")
UPSAMPLE_RATIO = param("upsample_ratio", 1.0, "tokens wanted / available per topic (1.0: drop "
                       "the lowest 40%, repeat the best)")

pipeline = Pipeline("demo", workdir=os.path.join(WORKDIR, "work"), seed=0)
data = os.path.join(WORKDIR, "data")
docs_dir = python_docs(pipeline, data)
synthetic = synthetic_web(pipeline, DOCS, data)
tokenizer_path = tokenizer(pipeline, docs_dir, VOCAB_SIZE, data)
quality_model, topic_model = classifier_models(pipeline)

docs = pipeline.source(read(docs_dir, source="python-docs"))
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
clean = unique >> Decontaminate(eval_sets(synthetic), purify="drop")
tagged = clean >> Topic(topic_model) >> Quality(quality_model) >> Vigintiles(by="topic")
mixed = tagged >> Tokenize(tokenizer_path) >> Upsample(ratio=UPSAMPLE_RATIO)
pipeline.sink(mixed, os.path.join(WORKDIR, "out"))
