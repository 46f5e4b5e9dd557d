"""Test corpora shared by every test directory: JSONL writers, a small document corpus, and the
texts the session tokenizers are trained on. Import as ``from corpora import ...`` (a plain
module, not conftest, so that a directory's own conftest.py cannot shadow it)."""

from __future__ import annotations

import gzip
import json

import zstandard


def write_jsonl(path, records, compression: str | None = None) -> str:
    """Write dicts (or raw bytes lines) as JSONL, optionally .gz or .zst; returns the path."""
    lines = b"".join(
        (r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records
    )
    if compression == "zstd":
        lines = zstandard.ZstdCompressor().compress(lines)
    elif compression == "gzip":
        lines = gzip.compress(lines, mtime=0)
    with open(path, "wb") as f:
        f.write(lines)
    return str(path)


def corpus(n: int, dup_every: int = 5, prefix: str = "doc") -> list[dict]:
    """``n`` documents of a few hundred characters; each ``dup_every``-th repeats the one before."""
    docs = []
    for i in range(n):
        j = i - 1 if dup_every and i % dup_every == 0 and i else i
        words = " ".join(f"{prefix}{j}-word{k}" for k in range(40))
        docs.append(
            {
                "id": f"{prefix}-{i:05d}",
                "text": f"Document {j}. {words}.",
                "created": f"2024-01-{1 + i % 28:02d}T00:00:00Z",
            }
        )
    return docs


TRAINING_TEXTS = [
    "The quick brown fox jumps over the lazy dog. " * 3,
    "Pack my box with five dozen liquor jugs, then tokenise it twice.",
    "def main():\n    return {'answer': 42}\n",
    "Ünïcödé text: café, naïve, Straße; 日本語のテキスト; emoji 🙂🚀.",
    "Numbers 3.14159 and dates 2024-01-31 appear in web pages.",
] * 20
