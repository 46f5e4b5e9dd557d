"""The small synthetic corpus the tests of `curation.synthetic` check (2,000 documents in
three shards, the last one partial), and readers of a generated directory."""

from __future__ import annotations

import orjson
import zstandard

from curation.synthetic import GeneratorConfig

CONFIG = GeneratorConfig(docs=2_000, seed=7, shard_docs=700)


def read_shards(out) -> list[list[dict]]:
    paths = sorted((out / "docs").glob("part-*.jsonl.zst"))
    dctx = zstandard.ZstdDecompressor()
    return [[orjson.loads(x) for x in dctx.decompress(p.read_bytes()).splitlines()] for p in paths]


def tree_bytes(out) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def rows(corpus, kind: str) -> list[dict]:
    return [r for r in corpus["truth"] if r["kind"] == kind]
