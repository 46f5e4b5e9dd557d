"""A mid-training mix: several sources, each with its own cleaning, decontaminated, tokenized
and mixed to a token budget by weights.

    curate run pipelines/midtrain.py --executor ray

web (language ID, Gopher, C4, FineWeb) and reference/code text (length and repetition rules
only: code and docs fail prose heuristics), plus any further sources named in
CURATE_MIDTRAIN_SOURCES ("math=data/math/*.jsonl.zst,qa=data/qa/*.parquet", the same light
chain); their union is deduplicated exactly, decontaminated against the eval sets (Tulu 3
8-gram rule: mid-training data is close to the evals), tokenized, and mixed by
CURATE_MIDTRAIN_WEIGHTS ("web=0.5,docs=0.5" by default; a source without a weight is left out)
to CURATE_MIDTRAIN_TOKENS tokens [500000], no source repeated more than 4 times.

Other parameters: CURATE_WORKDIR [runs/midtrain], CURATE_WEB_INPUT, CURATE_EVALS,
CURATE_TOKENIZER (see web.py). Under ``curate run``/``plan`` each CURATE_<NAME> is also
``--set <name>=VALUE``; ``curate plan pipelines/midtrain.py`` lists them.
"""

import os

from curation import Pipeline, param, read
from curation.decon import Decontaminate
from curation.dedup import ExactDedup
from curation.filters import (
    C4Quality,
    DocumentLength,
    FineWebQuality,
    GopherQuality,
    GopherRepetition,
    LanguageID,
)
from curation.mixing import Mix
from curation.tokenize import Tokenize
from pipelines.inputs import eval_sets, python_docs, synthetic_web, tokenizer, workdir

WORKDIR = workdir("runs/midtrain")
WEIGHTS = {k: float(v) for k, v in (kv.split("=") for kv in param(
    "midtrain_weights", "web=0.5,docs=0.5", "token share per source, NAME=WEIGHT,...").split(","))}
TOKENS = param("midtrain_tokens", 500_000, "tokens of the mix")
WEB = param("web_input", "", "the web source (default: a generated synthetic crawl)")
SOURCES = param("midtrain_sources", "", "further sources, NAME=PATH,... (files, directories "
                "or globs), cleaned like the docs")

pipeline = Pipeline("midtrain", workdir=os.path.join(WORKDIR, "work"), seed=0)
sample = None if WEB else synthetic_web(pipeline)
web = pipeline.source(read(WEB or os.path.join(sample, "docs"), source="web",
                           on_error="quarantine"), name="web")
branches = [web >> LanguageID(keep=["en"]) >> GopherRepetition() >> GopherQuality()
            >> C4Quality() >> FineWebQuality()]
docs = python_docs(pipeline)
light = {"docs": docs}
for spec in filter(None, SOURCES.split(",")):
    name, path = spec.split("=", 1)
    light[name] = path
for name, path in light.items():
    src = pipeline.source(read(path, source=name, on_error="quarantine"), name=name)
    branches.append(pipeline.add(DocumentLength(min_chars=100), inputs=[src],
                                 name=f"{name}_length")
                    >> GopherRepetition(name=f"{name}_repetition"))

pooled = pipeline.union(*branches, name="pool") >> ExactDedup()
tokens = (pooled >> Decontaminate(eval_sets(sample, mode="ngram8"), purify="drop")
          >> Tokenize(tokenizer(pipeline, docs)))
pipeline.sink(tokens >> Mix(WEIGHTS, tokens=TOKENS, max_repeat=4.0), os.path.join(WORKDIR, "out"))
