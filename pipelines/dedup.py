"""The deduplication funnel: exact -> MinHash -> repeated substrings, on the synthetic crawl
(planted exact copies, near copies and shared boilerplate) or on your own documents.

    curate run pipelines/dedup.py --executor ray --set docs=100000 --set scope=corpus
    curate dedup report runs/dedup/work        # the funnel: documents and bytes per stage

Parameters (``curate plan pipelines/dedup.py`` lists them): ``input`` [a generated synthetic
crawl of ``docs`` documents], ``docs`` [20000], ``scope`` [block: repeats within each block of
``partition_mb`` MB of a partition; corpus: repeats anywhere in the corpus], ``min_bytes``
[500], ``partitions`` [4], ``protect_first`` [false: the fuzzy merge may remove a first
occurrence lying between two removed runs], ``workdir`` [runs/dedup].
"""

import os

from curation import Pipeline, param, read
from curation.dedup import ExactDedup, MinHashDedup, SubstringDedup
from pipelines.inputs import synthetic_web, workdir

WORKDIR = workdir("runs/dedup")
INPUT = param("input", "", "documents: files, a directory or a glob (default: the synthetic "
              "crawl)")
DOCS = param("docs", 20_000, "synthetic documents to generate when no input is given")
SCOPE = param("scope", "block", "where substring repeats are looked for",
              choices=["block", "corpus"])
MIN_BYTES = param("min_bytes", 500, "shortest repeated substring removed, in bytes")
PARTITIONS = param("partitions", 4, "partitions of each dedup stage")
PARTITION_MB = param("partition_mb", 256.0, "block size of the block scope, in MB (2**20 bytes)")
PROTECT_FIRST = param("protect_first", False, "never remove a first occurrence")

pipeline = Pipeline("dedup", workdir=os.path.join(WORKDIR, "work"), seed=0)
docs = INPUT or os.path.join(synthetic_web(pipeline, DOCS), "docs")
unique = (pipeline.source(read(docs, source="web", on_error="quarantine"), name="web")
          >> ExactDedup(partitions=PARTITIONS) >> MinHashDedup(partitions=PARTITIONS)
          >> SubstringDedup(min_bytes=MIN_BYTES, partitions=PARTITIONS, scope=SCOPE,
                            partition_bytes=max(1, int(PARTITION_MB * (1 << 20))),
                            protect_first=PROTECT_FIRST))
pipeline.sink(unique, os.path.join(WORKDIR, "out"))
