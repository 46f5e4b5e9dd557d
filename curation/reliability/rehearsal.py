"""Rehearsal at scale: the largest dedup-and-tokenize run this machine holds, measured phase by
phase, and the scale model those measurements give for 100M, 1B and 10B documents.

    python -m curation.reliability.rehearsal                   # 3M documents (~4.7 GB of text)
    python -m curation.reliability.rehearsal --docs 50000 --root /tmp/rehearsal

The pipeline, on a local Ray cluster: synthetic web crawl (``curation.synthetic``: planted exact
and near duplicates and boilerplate) -> ExactDedup -> MinHashDedup -> SubstringDedup ->
Tokenize (a BPE tokenizer trained, untimed, on the first documents) -> token shards. Every task's
completion record holds when it ran, its process's peak resident memory (``core/peakmem.py``)
and the bytes it wrote; the report sums them per phase. ``--report`` writes it as JSON; the
scale model (``scale_model``) is printed as Markdown for the README (``--model REPORT`` prints
it again from a saved report).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time

from curation.core import fs
from curation.core.workdir import WorkDir
from curation.dedup.minhash import MERGE_BYTES_PER_PARQUET_BYTE
from curation.dedup.substring import BYTES_PER_BLOCK_BYTE, TEXT_PER_PARQUET_BYTE
from curation.reliability.soak import MemorySampler

SHARD_DOCS = 25_000
PARTITIONS = 16
TOKENIZER_DOCS, VOCAB = 5_000, 8_192
EDGE_BYTES = 16  # one MinHash edge in the merge: two int64 document keys
REDUCE_INPUT = 1e9  # bytes of scan output one reduce task reads, in the scale model
SCALES = (100_000_000, 1_000_000_000, 10_000_000_000)
NODE_CORES, NODE_MEMORY = 64, 256e9  # the cluster the model sizes for


def build(inputs: str, work: str, out: str, tokenizer: str, partitions: int):
    """The rehearsal pipeline."""
    from curation import Pipeline, read
    from curation.dedup import ExactDedup, MinHashDedup, SubstringDedup
    from curation.tokenize import Tokenize

    pipeline = Pipeline("rehearsal", work, seed=0)
    web = pipeline.source(read(os.path.join(inputs, "docs", "*.jsonl.zst")), name="web")
    deduped = (web >> ExactDedup(partitions=partitions) >> MinHashDedup(partitions=partitions)
               >> SubstringDedup(partitions=partitions))
    pipeline.sink(deduped >> Tokenize(tokenizer, parallel=False), out)
    return pipeline


def phase_table(workdir: str) -> list[dict]:
    """Per step and phase, from the completion records: tasks, wall seconds (first start to
    last finish), task seconds, peak RSS per task (max and median, MiB), rows and bytes
    written (outputs of every task; side outputs included)."""
    wd = WorkDir(workdir)
    rows = []
    for step, info in wd.steps().items():
        for phase in info.get("phases", {}):
            records = wd.records(step, phase)
            if not records:
                continue
            peaks = [r["peak_rss"] for r in records if r.get("peak_rss")]
            rows.append({
                "step": step, "phase": phase, "tasks": len(records),
                "wall_s": round(max(r["finished"] for r in records)
                                - min(r["started"] for r in records), 1),
                "task_s": round(sum(r["seconds"] for r in records), 1),
                "peak_rss_max_mib": round(max(peaks) / 2**20) if peaks else None,
                "peak_rss_median_mib": round(statistics.median(peaks) / 2**20) if peaks else None,
                "rows_written": sum(o["rows"] for r in records for o in r["outputs"]),
                "bytes_written": sum(o["bytes"] for r in records for o in r["outputs"]),
                "files_written": sum(len(r["outputs"]) for r in records),
            })
    return rows


def minhash_edges(workdir: str) -> dict:
    """Edges and touched documents the MinHash reduce handed to the merge, and their bytes."""
    wd = WorkDir(workdir)
    (step,) = [s for s, _ in wd.stages_of(_minhash_class())]
    partitions = wd.steps()[step]["phases"]["reduce"]  # edges keyed below, nodes above
    outs = [o for r in wd.records(step, "reduce") for o in r["outputs"]]
    return {"edges": sum(o["rows"] for o in outs if o.get("key") < partitions),
            "nodes": sum(o["rows"] for o in outs if o.get("key") >= partitions),
            "parquet_bytes": sum(o["bytes"] for o in outs)}


def _minhash_class():
    from curation.dedup import MinHashDedup

    return MinHashDedup


def driver_bytes_per_output(workdir: str) -> float:
    """Bytes of driver memory one task output costs while a run holds the records of its steps
    (``Runner.records``): measured with tracemalloc over the records of the phase with the most
    outputs."""
    import tracemalloc

    wd = WorkDir(workdir)
    phase = max(phase_table(workdir), key=lambda p: p["files_written"])
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    records = wd.records(phase["step"], phase["phase"])
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return held / sum(len(r["outputs"]) for r in records)


def scale_model(report: dict) -> str:
    """Markdown: the rehearsal's figures carried to each of ``SCALES`` documents.

    Linear in documents: text, shards (``SHARD_DOCS`` each), bytes written per phase, MinHash
    edges (at the rehearsal's duplicate rate, and at one edge per document: a heavily
    duplicated crawl). A global stage's partitions grow so that one reduce task reads at most
    ``REDUCE_INPUT`` of scan output; its scan then writes shards x partitions files, and the
    driver holds a record entry for each."""
    docs, phases = report["docs_in"], report["phases"]
    lines = ["| | " + " | ".join(f"{n:,} docs" for n in SCALES) + " |",
             "|---|" + "---|" * len(SCALES)]

    def row(name: str, values) -> None:
        lines.append(f"| {name} | " + " | ".join(values) + " |")

    shards = [math.ceil(n / SHARD_DOCS) for n in SCALES]
    row("text", [_size(report["text_bytes"] / docs * n) for n in SCALES])
    row(f"shards of {SHARD_DOCS:,} docs = tasks per map, scan and apply phase",
        [f"{s:,}" for s in shards])
    for p in phases:
        row(f"written by {p['step']} {p['phase']}",
            [_size(p["bytes_written"] / docs * n) for n in SCALES])
    files = [0] * len(SCALES)
    for p in phases:
        if p["phase"] != "scan":
            continue
        parts = [max(PARTITIONS, math.ceil(p["bytes_written"] / docs * n / REDUCE_INPUT))
                 for n in SCALES]
        row(f"{p['step']}: partitions (reduce tasks) for <= {_size(REDUCE_INPUT)} each; "
            "scan files", [f"{k:,}; {s * k:,}" for s, k in zip(shards, parts, strict=True)])
        files = [f + s * k for f, s, k in zip(files, shards, parts, strict=True)]
    row(f"driver memory for the records of every scan file "
        f"({report['driver_bytes_per_output']:.0f} B each)",
        [_size(f * report["driver_bytes_per_output"]) for f in files])
    edges, pq_bytes = report["minhash"]["edges"] / docs, report["minhash"]["parquet_bytes"]
    row(f"MinHash merge task at the rehearsal's {edges:.2f} edges/doc: edges x {EDGE_BYTES} B; "
        f"its estimate ({MERGE_BYTES_PER_PARQUET_BYTE} x reduce Parquet bytes)",
        [f"{_size(edges * n * EDGE_BYTES)}; "
         f"{_size(MERGE_BYTES_PER_PARQUET_BYTE * pq_bytes / docs * n)}" for n in SCALES])
    row("MinHash merge task at 1 edge/doc: the same",
        [f"{_size(n * EDGE_BYTES)}; "
         f"{_size(MERGE_BYTES_PER_PARQUET_BYTE * pq_bytes / docs / edges * n)}"
         for n in SCALES])
    merge = next(p for p in phases if p["phase"] == "merge")
    baseline = next(p for p in phases if p["step"] == merge["step"] and p["phase"] == "scan")
    per_edge = ((merge["peak_rss_max_mib"] - baseline["peak_rss_median_mib"]) * 2**20
                / report["minhash"]["edges"])
    row(f"MinHash merge task, at the rehearsal's peak RSS above a worker's baseline per edge "
        f"({per_edge:,.0f} B, document keys and ids included): at its rate; at 1 edge/doc",
        [f"{_size(per_edge * edges * n)}; {_size(per_edge * n)}" for n in SCALES])
    substring = next(p for p in phases if p["step"].startswith("substring") and
                     p["phase"] == "scan")
    text = TEXT_PER_PARQUET_BYTE * min(REDUCE_INPUT, substring["bytes_written"])
    block = report["substring_partition_bytes"]
    row(f"substring reduce task ({_size(REDUCE_INPUT)} in): text + {BYTES_PER_BLOCK_BYTE} B "
        "per block byte", [_size(text + BYTES_PER_BLOCK_BYTE * min(text, block))] * len(SCALES))
    return "\n".join(lines)


def _size(b: float) -> str:
    for unit, f in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if b >= f:
            return f"{b / f:,.1f} {unit}"
    return f"{b:,.0f} B"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=3_000_000, help="synthetic documents")
    parser.add_argument("--root", default="runs/rehearsal", help="inputs, work dir, outputs")
    parser.add_argument("--num-cpus", type=int, default=None, help="local Ray cluster size")
    parser.add_argument("--report", default=None, help="also write the report here (JSON)")
    parser.add_argument("--model", default=None, metavar="REPORT",
                        help="print the scale model of an earlier run's report and stop")
    args = parser.parse_args(argv)
    if args.model:
        with open(args.model) as f:
            print(scale_model(json.load(f)))
        return 0

    from curation.core.executors import RayExecutor
    from curation.dedup import SubstringDedup
    from curation.synthetic import GeneratorConfig, generate
    from curation.tokenize import train_bpe
    from curation.tokenize.cli import iter_texts

    root = os.path.abspath(args.root)
    inputs = os.path.join(root, f"synthetic-{args.docs}")
    if not os.path.exists(os.path.join(inputs, "meta.json")):
        print(f"generating {args.docs:,} synthetic documents in {inputs}", file=sys.stderr)
        generate(inputs, GeneratorConfig(docs=args.docs, seed=0, shard_docs=SHARD_DOCS))
    files = fs.expand(os.path.join(inputs, "docs", "*.jsonl.zst"))
    tokenizer = os.path.join(root, "tokenizer.json")
    if not os.path.exists(tokenizer):
        texts = [t for _, t in zip(range(TOKENIZER_DOCS), iter_texts(files[:1]), strict=False)]
        train_bpe(texts, vocab_size=VOCAB, out_path=tokenizer)
    work, out = os.path.join(root, "work"), os.path.join(root, "out")
    for path in (work, out):
        if os.path.exists(path):
            raise SystemExit(f"{path} exists: remove it to rehearse afresh")
    pipeline = build(inputs, work, out, tokenizer, PARTITIONS)
    executor = RayExecutor(num_cpus=args.num_cpus)
    try:
        with MemorySampler() as memory:
            start = time.perf_counter()
            result = pipeline.run(executor, progress=sys.stderr.isatty())
            seconds = time.perf_counter() - start
    finally:
        executor.close()
    stats = result.stats["web"]
    report = {
        "docs_in": stats.docs_out, "text_bytes": stats.bytes_out,
        "input_files_bytes": sum(os.path.getsize(f) for f in files),
        "seconds": round(seconds, 1), "cpus": args.num_cpus or os.cpu_count(),
        "tree_peak_rss_mib": round(memory.tree_peak / 2**20),
        "worker_peak_rss_mib": round(memory.worker_peak / 2**20),
        "docs_out": result.stats["tokenize"].docs_out, "tokens": sum(result.tokens.values()),
        "substring_partition_bytes": SubstringDedup().partition_bytes,
        "phases": phase_table(work), "minhash": minhash_edges(work),
        "driver_bytes_per_output": driver_bytes_per_output(work),
    }
    text = json.dumps(report, indent=2)
    print(text)
    print(scale_model(report))
    if args.report:
        with open(args.report, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
