"""Inputs shared by the ready pipelines: a path from the environment, or generated sample data.

A pipeline file reads ``CURATE_<NAME>`` for each input; unset, it builds a small stand-in under
``runs/samples`` (the synthetic web corpus with its eval set, the Python documentation, a BPE
tokenizer, the default classifiers) so that every pipeline runs on a fresh checkout.
"""

from __future__ import annotations

import itertools
import os

from classifiers.train_default import ensure_default_models
from curation.samples import build_python_docs_corpus
from curation.synthetic import GeneratorConfig, generate
from curation.tokenize import train_bpe
from curation.tokenize.cli import iter_texts

SAMPLES = os.environ.get("CURATE_SAMPLES", "runs/samples")


def synthetic_web(docs: int = 4000, root: str = SAMPLES) -> str:
    """Directory of a generated synthetic crawl (``docs/*.jsonl.zst``, ``evals/``, truth)."""
    directory = os.path.join(root, f"synthetic-{docs}")
    if not os.path.exists(os.path.join(directory, "truth.parquet")):
        generate(directory, GeneratorConfig(docs=docs, seed=0, shard_docs=1000))
    return directory


def python_docs(root: str = SAMPLES) -> list[str]:
    return build_python_docs_corpus(os.path.join(root, "python-docs"))


def tokenizer(vocab_size: int = 8192, root: str = SAMPLES) -> str:
    """``$CURATE_TOKENIZER``, or a byte-level BPE trained on the Python docs on first use."""
    path = os.environ.get("CURATE_TOKENIZER") or os.path.join(root, f"bpe-{vocab_size}.json")
    if not os.path.exists(path):
        train_bpe(itertools.islice(iter_texts(python_docs(root)), 2000), vocab_size, path)
    return path


def classifier_models() -> tuple[str, str]:
    """(quality, topic) fastText models: ``CURATE_QUALITY_MODEL``/``CURATE_TOPIC_MODEL`` or the
    defaults trained by ``classifiers/train_default.py``."""
    quality, topic = os.environ.get("CURATE_QUALITY_MODEL"), os.environ.get("CURATE_TOPIC_MODEL")
    if quality and topic:
        return quality, topic
    return ensure_default_models()


def env(name: str, default: str) -> str:
    return os.environ.get(f"CURATE_{name}", default)
