"""Inputs and parameters shared by the ready pipelines.

Each function declares its parameters (``curation.param``: ``curate run FILE --set NAME=VALUE``
or ``CURATE_<NAME>``) and, where the user gives no file of their own, a small stand-in as an
input of the pipeline (``Pipeline.input``) that the run builds when it starts: the synthetic
web corpus with its eval set, the Python documentation, a BPE tokenizer, the default
classifiers. Nothing is built when a pipeline file is imported or planned.
"""

from __future__ import annotations

import itertools
import os
from functools import partial

from curation import Pipeline, param
from curation.decon import humaneval


def samples_root() -> str:
    return param("samples", "runs/samples",
                 "directory of the generated stand-in inputs, shared by the ready pipelines")


def workdir(default: str) -> str:
    return param("workdir", default, "the run's directory: work/ (intermediate data) and out/")


def _generate_crawl(docs: int, directory: str) -> None:
    from curation.synthetic import GeneratorConfig, generate

    if not os.path.exists(os.path.join(directory, "truth.parquet")):  # written last
        generate(directory, GeneratorConfig(docs=docs, seed=0, shard_docs=1000))


def synthetic_web(pipeline: Pipeline, docs: int = 4000, root: str | None = None) -> str:
    """Directory of a generated synthetic crawl (``docs/*.jsonl.zst``, ``evals/``, truth)."""
    directory = os.path.join(root or samples_root(), f"synthetic-{docs}")
    return pipeline.input("synthetic-web", directory, partial(_generate_crawl, docs),
                          f"a generated web crawl of {docs} documents and its eval set")


def _build_python_docs(directory: str) -> None:
    from curation.samples import build_python_docs_corpus

    build_python_docs_corpus(directory)  # keeps complete shards


def python_docs(pipeline: Pipeline, root: str | None = None) -> str:
    """Directory of the Python documentation as JSONL shards (real English prose and code)."""
    directory = os.path.join(root or samples_root(), "python-docs")
    return pipeline.input("python-docs", directory, _build_python_docs,
                          "the Python documentation shipped with the interpreter")


def _train_tokenizer(docs: str, vocab_size: int, path: str) -> None:
    from curation.tokenize import train_bpe
    from curation.tokenize.cli import iter_texts

    if not os.path.exists(path):
        train_bpe(itertools.islice(iter_texts([docs]), 2000), vocab_size, path)


def tokenizer(pipeline: Pipeline, docs: str, vocab_size: int = 8192,
              root: str | None = None) -> str:
    """``--set tokenizer=FILE``, or a byte-level BPE trained on ``docs`` (the Python docs
    input) when the run starts."""
    given = param("tokenizer", "", "a tokenizer.json (default: a byte-level BPE of "
                  f"{vocab_size} tokens trained on the Python docs)")
    if given:
        return pipeline.input("tokenizer", given)
    path = os.path.join(root or samples_root(), f"bpe-{vocab_size}.json")
    return pipeline.input("tokenizer", path, partial(_train_tokenizer, docs, vocab_size),
                          "a BPE trained on the Python docs")


def _train_classifiers(directory: str) -> None:
    from classifiers.train_default import ensure_default_models

    ensure_default_models(directory)


def classifier_models(pipeline: Pipeline) -> tuple[str, str]:
    """(quality, topic) fastText models: ``--set quality_model=... topic_model=...``, or the
    defaults that ``classifiers/train_default.py`` trains when the run starts."""
    from classifiers.train_default import DEFAULT_DIR

    quality = param("quality_model", "", "a fastText quality classifier (.bin; default: the "
                    "default classifiers, trained on first use)")
    topic = param("topic_model", "", "a fastText topic classifier (.bin; default: as above)")
    if quality and topic:
        return pipeline.input("quality-model", quality), pipeline.input("topic-model", topic)
    pipeline.input("classifiers", DEFAULT_DIR, _train_classifiers,
                   "the default quality and topic classifiers (about half a minute to train)")
    return os.path.join(DEFAULT_DIR, "quality.bin"), os.path.join(DEFAULT_DIR, "topic.bin")


def eval_sets(crawl: str | None, mode: str = "simple") -> list:
    """``--set evals=a.jsonl,b.parquet`` (paths or globs), or the synthetic crawl's eval set
    (when ``crawl`` is one) and HumanEval (shipped by a package), for ``Decontaminate``."""
    given = param("evals", "", "comma-separated eval files or globs, JSONL or Parquet "
                  "(default: HumanEval, and the synthetic crawl's eval set when it is the input)")
    if given:
        return [(p, mode) for p in given.split(",")]
    own = [(os.path.join(crawl, "evals", "synthetic_qa.jsonl"), mode)] if crawl else []
    return own + [humaneval(mode=mode)]
