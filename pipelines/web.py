"""The web recipe (OLMo 3 / Dolma 3 shape), raw documents to mixed, tokenized shards.

    curate run pipelines/web.py --executor ray [--address ADDR]

raw web documents (JSONL/Parquet; or WARC files with HTML extraction through datatrove's
WarcReader + Trafilatura when ``warc`` is set) -> language ID (English) -> Gopher
repetition and quality, C4 (line removal), FineWeb -> exact dedup -> MinHash dedup (Dolma 3
bands) -> suffix-array substring dedup (repeats of 500+ bytes) -> decontamination against
the eval sets -> topic and quality tagging -> per-topic quality vigintiles -> tokenization ->
quality-aware upsampling -> Parquet shards + manifest.

Parameters (``curate plan pipelines/web.py`` lists them with their defaults; ``--set
NAME=VALUE`` or ``CURATE_<NAME>``): ``input`` [a generated synthetic crawl], ``warc`` [unset: a
directory, file or glob of WARC files], ``evals`` [HumanEval, with the synthetic crawl's eval
set when it is the input], ``workdir`` [runs/web], ``tokenizer`` [a BPE trained on the Python
docs], ``quality_model`` / ``topic_model`` [default classifiers], ``upsample_ratio`` [1.0],
``samples`` [runs/samples: where stand-ins are built].
"""

import glob
import os

from curation import Pipeline, param, read
from curation.decon import Decontaminate
from curation.dedup import ExactDedup, MinHashDedup, SubstringDedup
from curation.filters import (
    C4Quality,
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

WORKDIR = workdir("runs/web")
INPUT = param("input", "", "documents: JSONL/Parquet files, a directory or a glob (default: a "
              "generated synthetic crawl)")
WARC = param("warc", "", "WARC files (a file, directory or glob), read with HTML extraction "
             "instead of input")
RATIO = param("upsample_ratio", 1.0, "tokens wanted / available per topic")

pipeline = Pipeline("web", workdir=os.path.join(WORKDIR, "work"), seed=0)
sample = None if INPUT or WARC else synthetic_web(pipeline)
quality_model, topic_model = classifier_models(pipeline)
if WARC:
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.readers import WarcReader

    from curation.interop import DatatroveReader, DatatroveStep

    # a glob is a folder and a pattern to datatrove; a file or a folder is itself
    folder, pattern = os.path.split(WARC) if glob.has_magic(WARC) else (WARC, None)
    raw = pipeline.source(DatatroveReader(WarcReader(folder, glob_pattern=pattern), source="cc",
                                          on_error="quarantine"), name="web")
    raw = raw >> DatatroveStep(Trafilatura(timeout=30))
else:
    raw = pipeline.source(read(INPUT or os.path.join(sample, "docs"), source="cc",
                               on_error="quarantine"), name="web")

clean = (raw >> LanguageID(keep=["en"]) >> GopherRepetition() >> GopherQuality()
         >> C4Quality() >> FineWebQuality())
unique = (clean >> ExactDedup() >> MinHashDedup(preset="dolma3")
          >> SubstringDedup(min_bytes=500))
tagged = (unique >> Decontaminate(eval_sets(sample), purify="drop") >> Topic(topic_model)
          >> Quality(quality_model) >> Vigintiles(by="topic"))
mixed = tagged >> Tokenize(tokenizer(pipeline, python_docs(pipeline))) >> Upsample(ratio=RATIO)
pipeline.sink(mixed, os.path.join(WORKDIR, "out"))
