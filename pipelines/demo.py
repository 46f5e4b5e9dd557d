"""The README's demo: two sources cleaned, joined and deduplicated, on two cores in seconds.

    curate run pipelines/demo.py --executor ray      # or: make demo

Sources: the Python documentation shipped with the interpreter (real English prose and code,
built into the work dir on first use) and a synthetic web crawl with planted duplicates, spam
and junk (``curation.synthetic``). Each goes through its own length filter; they meet in a
union and go through exact deduplication into Parquet shards under ``runs/demo/out``.

Parameters users change most: ``WORKDIR``, ``SYNTHETIC_DOCS``, the filters' bounds.
"""

import os

from curation import Pipeline, read
from curation.dedup import ExactDedup
from curation.filters import LengthFilter
from curation.samples import build_python_docs_corpus
from curation.synthetic import GeneratorConfig, generate

WORKDIR = os.environ.get("CURATE_DEMO_WORKDIR", "runs/demo")
SYNTHETIC_DOCS = int(os.environ.get("CURATE_DEMO_DOCS", "4000"))

data = os.path.join(WORKDIR, "data")
build_python_docs_corpus(os.path.join(data, "python-docs"))
synthetic = os.path.join(data, f"synthetic-{SYNTHETIC_DOCS}")
if not os.path.exists(os.path.join(synthetic, "truth.parquet")):
    generate(synthetic, GeneratorConfig(docs=SYNTHETIC_DOCS, seed=0, shard_docs=1000))

pipeline = Pipeline("demo", workdir=os.path.join(WORKDIR, "work"), seed=0)
docs = pipeline.source(read(os.path.join(data, "python-docs", "*.jsonl.zst"), source="python-docs"))
web = pipeline.source(
    read(os.path.join(synthetic, "docs", "*.jsonl.zst"), on_error="quarantine"),
    name="synthetic-web",
)
clean_docs = pipeline.add(LengthFilter(min_chars=200), inputs=[docs], name="docs_length")
clean_web = pipeline.add(
    LengthFilter(min_chars=300, max_chars=100_000), inputs=[web], name="web_length"
)
unique = pipeline.union(clean_docs, clean_web, name="all") >> ExactDedup(partitions=4)
pipeline.sink(unique, os.path.join(WORKDIR, "out"))
