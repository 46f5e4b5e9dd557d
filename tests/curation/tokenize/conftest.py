"""Fixtures of the tokenization tests."""

from __future__ import annotations

import pytest
from test_tokenize_stage import make_inputs, tokenize_pipeline


@pytest.fixture
def shards(tmp_path, tokenizer_path) -> str:
    """A tokenized dataset (the output directory of a small tokenize pipeline)."""
    out = str(tmp_path / "o")
    tokenize_pipeline(make_inputs(tmp_path / "in"), str(tmp_path / "w"), out,
                      tokenizer_path).run(progress=False)
    return out
