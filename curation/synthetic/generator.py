"""A seeded synthetic web corpus with planted ground truth, for testing curation stages.

Output of ``generate(out_dir, config)``:

- ``docs/part-NNNNN.jsonl.zst``: ``shard_docs`` documents per shard (zstd level 3), one JSON
  object per line: ``id``, ``text``, ``source`` ("synthetic-web"), ``url`` and ``created``
  (ISO-8601 UTC, like "2023-05-01T12:00:00Z").
- ``truth.parquet`` (``corpus.TRUTH_SCHEMA``): one row per document, in corpus order: where it was
  written (``shard``, 0-based ``line``), its one primary ``kind`` and what was planted.
- ``evals/synthetic_qa.jsonl``: the benchmark ({"id", "question", "answer"}) that ``bench_copy``
  documents copy from; an item's planted text is ``question + " " + answer``.
- ``meta.json``: the config and the counts per kind and language.

What each kind of document is and what its truth records: `curation.synthetic.corpus`.

The same config gives byte-identical files: one ``numpy.random.Generator(PCG64)`` stream per
purpose, no time or set-order input. Memory is bounded by one shard and a reservoir of the
latest ``reservoir`` originals, from which duplicates are drawn.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from curation.core.commands import command_parser
from curation.synthetic.benchmarks import benchmark
from curation.synthetic.corpus import KINDS, LANGS, TRUTH_SCHEMA, Corpus, GeneratorConfig

ZSTD_LEVEL = 3


def generate(out_dir: str | Path, config: GeneratorConfig) -> dict[str, Any]:
    """Write the corpus, its truth, the benchmark and meta.json under ``out_dir``.

    Shards left in ``out_dir/docs`` by an earlier run are removed first. Returns the summary
    (also in meta.json): docs, shards, bench_items, counts per kind and per language.
    """
    out = Path(out_dir)
    docs_dir = out / "docs"
    docs_dir.mkdir(parents=True, exist_ok=True)
    (out / "evals").mkdir(exist_ok=True)
    for stale in sorted(docs_dir.glob("part-*.jsonl.zst")):
        stale.unlink()

    bench_seed, corpus_seed = np.random.SeedSequence(config.seed).spawn(2)
    items = benchmark(np.random.Generator(np.random.PCG64(bench_seed)), config.bench_items)
    (out / "evals" / "synthetic_qa.jsonl").write_bytes(
        b"".join(
            orjson.dumps({"id": it.id, "question": it.question, "answer": it.answer}) + b"\n"
            for it in items
        )
    )

    corpus = Corpus(config, items, np.random.Generator(np.random.PCG64(corpus_seed)))
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    kinds, langs = dict.fromkeys(KINDS, 0), dict.fromkeys(("en", *LANGS), 0)
    shards = 0
    with pq.ParquetWriter(out / "truth.parquet", TRUTH_SCHEMA) as truth:
        for start in range(0, config.docs, config.shard_docs):
            count = min(config.shard_docs, config.docs - start)
            lines, columns = corpus.shard(shards, start, count)
            path = docs_dir / f"part-{shards:05d}.jsonl.zst"
            path.write_bytes(compressor.compress(b"".join(lines)))
            truth.write_table(pa.Table.from_pydict(columns, schema=TRUTH_SCHEMA))
            for kind in columns["kind"]:
                kinds[kind] += 1
            for lang in columns["lang"]:
                langs[lang] += 1
            shards += 1

    summary = {
        "docs": config.docs,
        "shards": shards,
        "bench_items": len(items),
        "kinds": kinds,
        "langs": langs,
    }
    meta = {"config": asdict(config), **summary}
    (out / "meta.json").write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2) + b"\n")
    return summary


def main(argv: list[str] | None = None) -> None:
    """Command line: generate a corpus and print the summary as JSON."""
    parser = command_parser(
        "curate generate", "Write a seeded synthetic web corpus with planted ground truth.",
        "curate generate --out runs/synthetic --docs 20000 --seed 0")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--docs", type=int, default=10_000, help="number of documents")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shard-docs", type=int, default=10_000, help="documents per shard")
    args = parser.parse_args(argv)
    config = GeneratorConfig(docs=args.docs, seed=args.seed, shard_docs=args.shard_docs)
    print(json.dumps(generate(args.out, config), indent=2))


if __name__ == "__main__":
    main()
