"""Shared fixtures: one local Ray cluster for the whole run, and small BPE tokenizers trained
once per session (test corpora and writers are in corpora.py)."""

from __future__ import annotations

import os

import pytest
from corpora import TRAINING_TEXTS

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@pytest.fixture(scope="session")
def ray_cluster():
    """A 2-CPU local Ray cluster shared by every test that asks for it, shut down at the end."""
    import ray

    if not ray.is_initialized():
        ray.init(
            num_cpus=2,
            object_store_memory=200 * 1024**2,
            include_dashboard=False,
            configure_logging=False,
            log_to_driver=False,
        )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def tokenizer_path(tmp_path_factory) -> str:
    from curation.tokenize import train_bpe

    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_bpe(TRAINING_TEXTS, vocab_size=400, out_path=str(path))
    return str(path)


@pytest.fixture(scope="session")
def other_tokenizer_path(tmp_path_factory) -> str:
    from curation.tokenize import train_bpe

    path = tmp_path_factory.mktemp("tok2") / "tokenizer.json"
    train_bpe(TRAINING_TEXTS[:3], vocab_size=300, out_path=str(path))
    return str(path)
