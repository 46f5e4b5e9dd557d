"""Tokenization, the whole stage (read Parquet, encode, write Parquet shards and manifest) on the
local executor, against plain ``tokenizers`` ``encode_batch_fast`` (no offsets: its fastest call)
over the same texts already in memory; both use the Rust tokenizer's threads on every core.
Tokens per second, one EOS per document counted."""

from __future__ import annotations

import os

import pyarrow.parquet as pq

from curation.bench.common import Corpus, compare
from curation.core.pipeline import Pipeline
from curation.core.readers import read
from curation.tokenize import Tokenize, load_tokenizer, train_bpe

VOCAB = 32_000
TRAIN_DOCS = 5000  # the tokenizer is trained on the first documents, untimed


def _parquet_input(files: list[str], scratch: str) -> list[str]:
    """The corpus as Parquet shards (the stage's usual input), written untimed."""
    p = Pipeline("bench-tok-input", workdir=os.path.join(scratch, "work"))
    p.sink(p.source(read(files, source="bench")), os.path.join(scratch, "parquet"))
    return p.run("local", progress=False).outputs["sink"]


def _ours(shards: list[str], tokenizer: str, scratch: str) -> int:
    p = Pipeline("bench-tokenize", workdir=os.path.join(scratch, "work"))
    p.sink(p.source(read(shards, source="bench")) >> Tokenize(tokenizer),
           os.path.join(scratch, "out"))
    return p.run("local", progress=False).stats["tokenize"].tokens_out


def run(corpus: Corpus, workdir: str) -> dict:
    shards = _parquet_input(corpus.files, os.path.join(workdir, "input"))
    texts = [t for s in shards for t in pq.read_table(s, columns=["text"])["text"].to_pylist()]
    tokenizer = os.path.join(workdir, "tokenizer.json")
    train_bpe(texts[:TRAIN_DOCS], VOCAB, tokenizer)
    raw = load_tokenizer(tokenizer)
    raw.encode_special_tokens = True

    def peer() -> int:
        encodings = raw.encode_batch_fast(texts, add_special_tokens=False)
        return sum(len(e.ids) for e in encodings) + len(encodings)  # + one EOS each

    expected = peer()  # warm-up, and the token count both rates are over
    row = compare("tokenize: Parquet in, encode, token shards out", "tokenizers encode_batch_fast",
                  lambda: _ours(shards, tokenizer, os.path.join(workdir, "ours")), peer,
                  corpus.docs, corpus.text_mb, metric="tokens/s", units=expected)
    return {"parquet_mb": sum(os.path.getsize(s) for s in shards) / 1e6, "tokens": expected,
            "tokenizer": {"vocab_size": VOCAB, "trained_on_docs": TRAIN_DOCS}, "rows": [row]}
