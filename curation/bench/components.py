"""MinHash's connected components at 10 million edges: the single union-find merge vs the star
rounds, through the real runner on the local executor.

No text corpus has 10 million duplicate edges on this machine, so the edges are generated: a
graph shaped like MinHash duplicate clusters (Zipf(2) cluster sizes up to 20,000 documents,
each a random tree plus half as many random extra links, and one chain of 100,000 documents),
its documents shuffled over shards. ``EdgeListDedup`` is a ``MinHashDedup`` whose scan reads
each shard's edges from a file instead of signing texts (each edge is a bucket holding its two
ends), so reduce, the components, the keepers and apply are MinHashDedup's own. Both runs
share the scan and reduce (the ``components`` setting is not fingerprinted) and must write
byte-identical outputs.

Reported per way: seconds of the component phases (merge, or rounds + label + keeper), and
the largest peak RSS of one of their tasks above the process's RSS before the run (tasks run
one after another in this process, so that is about what one worker needs).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import numpy as np
import polars as pl
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

from curation.bench.common import Corpus, Timed, rate_row
from curation.core.pipeline import Pipeline
from curation.core.readers import read
from curation.core.workdir import WorkDir
from curation.dedup.minhash import SHARD_SHIFT, MinHashDedup
from curation.dedup.shards import by_partition

EDGES = 10_000_000
SHARD_DOCS = 1_000_000
CHAIN = 100_000
PARTITIONS = 16
EPOCH_US = 1_600_000_000_000_000  # created = this + (key mod 10**12) microseconds


def _doc_columns(keys: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """``(id, created)`` of the documents with doc keys ``keys``: ``d<key>``, and a time that
    is a function of the key, so that any shard's scan knows both ends of an edge."""
    ids = pl.select(pl.lit("d") + pl.Series(keys).cast(pl.Utf8)).to_series().to_arrow()
    created = pa.array(EPOCH_US + keys % 10**12, pa.timestamp("us", tz="UTC"))
    return ids, created


class EdgeListDedup(MinHashDedup):
    """``MinHashDedup`` over ready edges: shard ``i``'s scan reads ``edges_dir/<i>.parquet``
    (doc keys ``u``, ``v``) and makes each edge a bucket of its two ends."""

    def __init__(self, edges_dir: str, **options):
        super().__init__(**options)
        self.edges_dir = edges_dir

    def scan(self, shard: int, batches: Iterator[pa.Table]) -> Iterator[tuple[int, pa.Table]]:
        edges = pq.read_table(os.path.join(self.edges_dir, f"{shard}.parquet"))
        u, v = edges["u"].to_numpy(), edges["v"].to_numpy()
        keys = np.concatenate([u, v])
        bucket = np.tile(np.arange(len(u), dtype=np.uint64) + np.uint64(shard << 32), 2)
        ids, created = _doc_columns(keys)
        table = pa.table({"bucket": bucket, "key": keys, "created": created, "id": ids})
        yield from by_partition([table], lambda t: t.column("bucket").to_numpy(),
                                self.partitions)


def cluster_graph(edges: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """``(u, v, nodes)``: node indices ``0..nodes-1`` (shuffled) of about ``edges`` edges in
    Zipf(2)-sized clusters (a random tree each, plus half as many random links) and one chain
    of ``CHAIN`` nodes."""
    rng = np.random.default_rng(seed)
    sizes = np.minimum(rng.zipf(2.0, size=edges), 20_000) + 1
    sizes = sizes[: np.searchsorted(np.cumsum((sizes - 1) * 1.5), edges - CHAIN) + 1]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    member = np.arange(sizes.sum()) - np.repeat(starts, sizes)  # index inside its cluster
    child = np.flatnonzero(member > 0)
    parent = child - member[child] + (rng.random(len(child)) * member[child]).astype(np.int64)
    extra_n = sizes // 2
    base, size = np.repeat(starts, extra_n), np.repeat(sizes, extra_n)
    a = base + (rng.random(len(base)) * size).astype(np.int64)
    b = base + (rng.random(len(base)) * size).astype(np.int64)
    n = int(sizes.sum())
    chain = np.arange(n, n + CHAIN)
    u = np.concatenate([child, a, chain[1:]])
    v = np.concatenate([parent, b, chain[:-1]])
    perm = rng.permutation(n + CHAIN)
    return perm[u], perm[v], n + CHAIN


def write_input(root: str, edges: int) -> tuple[list[str], str, int, int]:
    """Document shards and per-shard edge files under ``root``: ``(shard files, edges dir,
    documents, edges)``; an edge belongs to the shard of its ``u``."""
    u, v, n = cluster_graph(edges)
    keep = u != v
    u, v = u[keep], v[keep]
    docs_dir, edges_dir = os.path.join(root, "docs"), os.path.join(root, "edges")
    os.makedirs(docs_dir, exist_ok=True)
    os.makedirs(edges_dir, exist_ok=True)
    files = []
    key_of = (np.arange(n) // SHARD_DOCS << SHARD_SHIFT) + np.arange(n) % SHARD_DOCS
    for shard in range((n + SHARD_DOCS - 1) // SHARD_DOCS):
        keys = key_of[shard * SHARD_DOCS:(shard + 1) * SHARD_DOCS]
        ids, created = _doc_columns(keys)
        path = os.path.join(docs_dir, f"{shard:03d}.parquet")
        pq.write_table(pa.table({"id": ids, "text": pa.array(["x"] * len(keys)),
                                 "created": created}), path)
        files.append(path)
        mine = u // SHARD_DOCS == shard
        pq.write_table(pa.table({"u": key_of[u[mine]], "v": key_of[v[mine]]}),
                       os.path.join(edges_dir, f"{shard}.parquet"))
    return files, edges_dir, n, int(len(u))


def _phases(workdir: str, names: list[str], baseline: int) -> tuple[float, float]:
    """Seconds (sum over tasks) and the largest task peak RSS above ``baseline`` (MB) of the
    step's phases ``names``."""
    wd = WorkDir(workdir)
    records = [r for p in names for r in wd.records("edge_list_dedup", p)]
    seconds = sum(r["seconds"] for r in records)
    peak = max((r["peak_rss"] or 0) for r in records)
    return seconds, max(peak - baseline, 0) / 1e6


def _digest(files: list[str]) -> str:
    h = hashlib.sha256()
    for path in sorted(files):
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def run(corpus: Corpus, workdir: str) -> dict:
    """(``corpus`` is not used: the input is the generated graph.)"""
    files, edges_dir, docs, edges = write_input(os.path.join(workdir, "input"), EDGES)
    work = os.path.join(workdir, "work")
    baseline = psutil.Process().memory_info().rss
    timed, phases, digests = {}, {}, {}
    for way in ("single", "distributed"):
        p = Pipeline("bench-components", work)
        p.sink(p.source(read(files, source="graph")) >> EdgeListDedup(
            edges_dir, partitions=PARTITIONS, components=way), os.path.join(workdir, way))
        result = p.run("local", progress=False)
        ran = list(WorkDir(work).steps()["edge_list_dedup"]["phases"])
        phases[way] = ran[ran.index("reduce") + 1:ran.index("apply")]
        seconds, peak_mb = _phases(work, phases[way], baseline)
        timed[way] = Timed(seconds, peak_mb, docs, 0.0, units=edges)
        digests[way] = _digest(result.outputs["sink"])
    if digests["single"] != digests["distributed"]:
        raise RuntimeError("components: the star rounds and the merge wrote different outputs")
    reduce_s, reduce_mb = _phases(work, ["reduce"], baseline)
    return {
        "input": f"generated graph ({docs:,} docs)", "input_kind": "generated", "docs": docs,
        "text_mb": 0.0, "input_mb": 0.0,
        "rows": [rate_row(f"MinHash components, {edges:,} edges: star rounds x{PARTITIONS}",
                          "edges/s", timed["distributed"], "single union-find merge",
                          timed["single"])],
        "graph": {"documents": docs, "edges": edges, "chain": CHAIN},
        "phases": phases,
        "rounds": sum(p.startswith("large-") for p in phases["distributed"]),
        "reduce": {"seconds": reduce_s, "peak_mb": reduce_mb},
        "outputs_sha256": digests["single"],
    }
