"""A dataset's manifest: ``<dir>/manifest.json``, written atomically after its shards.

It lists the shards in dataset order with rows, bytes on disk and xxh3-128 checksum, the
tokenizer recorded in their schema (tokenized data), and counts of documents, text bytes and
tokens per shard and per domain (``source`` x ``topic`` x ``vigintile``, the columns present).
Mixing reads the domain counts; consumers check the tokenizer and checksums against it.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from curation.core import fs
from curation.core.errors import CurationError
from curation.core.schema import DOMAIN_COLUMNS, N_BYTES, N_TOKENS, TOKENIZER_METADATA

MANIFEST = "manifest.json"
FORMAT = "curation.manifest/1"


@dataclass(frozen=True)
class ShardEntry:
    path: str  # relative to the manifest's directory
    docs: int
    bytes: int  # on disk
    checksum: str  # xxh3-128 hex of the file
    tokens: int
    text_bytes: int


def _counts(path: str) -> tuple[pa.Schema, dict[tuple, list[int]], int]:
    """A shard's schema, its per-domain [docs, tokens, text_bytes] and its rows, streamed by
    row group (the file is opened once)."""
    out: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    with fs.open_input(path) as f:
        parquet = pq.ParquetFile(f)
        schema, rows = parquet.schema_arrow, parquet.metadata.num_rows
        domain = [c for c in DOMAIN_COLUMNS if c in schema.names]
        sums = [c for c in (N_TOKENS, N_BYTES) if c in schema.names]
        if not domain and not sums:
            return schema, ({(): [rows, 0, 0]} if rows else {}), rows
        for batch in parquet.iter_batches(columns=domain + sums, batch_size=1 << 16):
            grouped = pa.Table.from_batches([batch]).group_by(domain).aggregate(
                [([], "count_all")] + [(c, "sum") for c in sums]).to_pydict()
            for i, docs in enumerate(grouped["count_all"]):
                c = out[tuple(grouped[k][i] for k in domain)]
                c[0] += docs
                if N_TOKENS in sums:
                    c[1] += grouped[f"{N_TOKENS}_sum"][i]
                if N_BYTES in sums:
                    c[2] += grouped[f"{N_BYTES}_sum"][i]
    return schema, out, rows


def build_manifest(directory: str, shards: list[tuple[str, str]]) -> dict:
    """The manifest of ``shards`` (``(path, checksum)`` in dataset order) under ``directory``."""
    entries, domains, tokenizer, columns = [], defaultdict(lambda: [0, 0, 0]), None, None
    for path, checksum in shards:
        schema, counts, rows = _counts(path)
        names = list(schema.names)
        if columns is None:
            columns = names
        raw = (schema.metadata or {}).get(TOKENIZER_METADATA)
        found = None if raw is None else json.loads(raw)
        if entries and found != tokenizer:
            raise CurationError(f"{path}: made by another tokenizer than the shards before it")
        tokenizer = found
        for key, c in counts.items():
            d = domains[key]
            for k in range(3):
                d[k] += c[k]
        filesystem, inner = fs.resolve(path)
        entries.append(ShardEntry(
            os.path.relpath(path, directory) if fs.is_local(path) else path.rsplit("/", 1)[1],
            rows, filesystem.get_file_info(inner).size, checksum,
            sum(c[1] for c in counts.values()), sum(c[2] for c in counts.values()),
        ))
    domain_cols = [c for c in DOMAIN_COLUMNS if c in (columns or [])]
    return {
        "format": FORMAT,
        "tokenizer": tokenizer,
        "columns": columns or [],
        "totals": {
            "shards": len(entries),
            "docs": sum(e.docs for e in entries),
            "bytes": sum(e.bytes for e in entries),
            "tokens": sum(e.tokens for e in entries),
            "text_bytes": sum(e.text_bytes for e in entries),
        },
        "shards": [vars(e) for e in entries],
        "domains": [
            dict(zip(domain_cols, key, strict=True))
            | {"docs": c[0], "tokens": c[1], "text_bytes": c[2]}
            for key, c in sorted(domains.items(), key=lambda kv: repr(kv[0]))
        ],
    }


def write_manifest(directory: str, shards: list[tuple[str, str]]) -> dict:
    manifest = build_manifest(directory, shards)
    fs.write_json(fs.join(directory, MANIFEST), manifest)
    return manifest


def read_manifest(directory: str) -> dict:
    path = fs.join(directory, MANIFEST)
    try:
        manifest = json.loads(fs.read_bytes(path))
    except FileNotFoundError:
        raise CurationError(f"{path}: no manifest; is {directory} a finished pipeline output?")\
            from None
    except json.JSONDecodeError as e:
        raise CurationError(f"{path}: not valid JSON ({e})") from None
    if manifest.get("format") != FORMAT:
        raise CurationError(f"{path}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    return manifest
