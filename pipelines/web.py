"""The web recipe (OLMo 3 / Dolma 3 shape), raw documents to mixed, tokenized shards.

    curate run pipelines/web.py --executor ray [--address ADDR]

raw web documents (JSONL/Parquet; or WARC files with HTML extraction through datatrove's
WarcReader + Trafilatura when CURATE_WEB_WARC is set) -> language ID (English) -> Gopher
repetition and quality, C4 (line removal), FineWeb -> exact dedup -> MinHash dedup (Dolma 3
bands) -> suffix-array substring dedup (repeats of 500+ bytes) -> decontamination against
the eval sets -> topic and quality tagging -> per-topic quality vigintiles -> tokenization ->
quality-aware upsampling -> Parquet shards + manifest.

Parameters users change most (environment variables, defaults in brackets):
CURATE_WEB_INPUT [a generated synthetic crawl], CURATE_WEB_WARC [unset], CURATE_EVALS
[HumanEval, with the synthetic crawl's eval set when it is the input], CURATE_WORKDIR
[runs/web], CURATE_TOKENIZER [a BPE trained on the Python docs], CURATE_QUALITY_MODEL /
CURATE_TOPIC_MODEL [default classifiers], CURATE_UPSAMPLE_RATIO [1.0].
"""

import os

from curation import Pipeline, read
from curation.decon import Decontaminate, humaneval, load_eval
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
from pipelines.inputs import classifier_models, env, synthetic_web, tokenizer

WORKDIR = env("WORKDIR", "runs/web")
sample = None if os.environ.get("CURATE_WEB_INPUT") or os.environ.get("CURATE_WEB_WARC") \
    else synthetic_web()
quality_model, topic_model = classifier_models()
if os.environ.get("CURATE_EVALS"):
    evals = [load_eval(p) for p in os.environ["CURATE_EVALS"].split(",")]
else:  # the synthetic crawl's own eval set with it, and HumanEval (shipped by a package)
    evals = ([load_eval(os.path.join(sample, "evals", "synthetic_qa.jsonl"))]
             if sample is not None else []) + [humaneval()]

pipeline = Pipeline("web", workdir=os.path.join(WORKDIR, "work"), seed=0)
if os.environ.get("CURATE_WEB_WARC"):
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.readers import WarcReader

    from curation.interop import DatatroveReader, DatatroveStep

    raw = pipeline.source(DatatroveReader(WarcReader(os.environ["CURATE_WEB_WARC"]), source="cc",
                                          on_error="quarantine"), name="web")
    raw = raw >> DatatroveStep(Trafilatura(timeout=30))
else:
    raw = pipeline.source(read(env("WEB_INPUT", os.path.join(sample, "docs")), source="cc",
                               on_error="quarantine"), name="web")

clean = (raw >> LanguageID(keep=["en"]) >> GopherRepetition() >> GopherQuality()
         >> C4Quality() >> FineWebQuality())
unique = (clean >> ExactDedup() >> MinHashDedup(preset="dolma3")
          >> SubstringDedup(min_bytes=500))
tagged = (unique >> Decontaminate(evals, purify="drop") >> Topic(topic_model)
          >> Quality(quality_model) >> Vigintiles(by="topic"))
mixed = tagged >> Tokenize(tokenizer()) >> Upsample(ratio=float(env("UPSAMPLE_RATIO", "1.0")))
pipeline.sink(mixed, os.path.join(WORKDIR, "out"))
