"""Near-duplicate removal by MinHash LSH, as a global stage with connected components.

scan:   normalise each text (lowercase, non-alphanumerics to spaces, whitespace collapsed; the
        first two configurable), hash its word n-gram shingles (xxh3-64 of each word, mixed
        in order into one 64-bit hash per n-gram), sign it with
        ``bands * rows`` MinHash values (uint32), hash each band's ``rows`` values into a 64-bit
        bucket and route (bucket, doc key, created, id) to the partition ``bucket mod
        partitions``. A doc key is ``shard << 40 | row`` (int64).
reduce: per partition, the buckets holding two or more documents; in each, every member is
        linked to the bucket's best-ranked member (the keep policy's order), optionally only if
        their true shingle Jaccard reaches ``verify_threshold`` (members that fail are linked
        among themselves the same way). Yields the edges (int64 pairs, keyed by the partition
        of their larger end) and the ranking columns of the documents they touch (keyed
        ``partitions`` + the partition of the document).
components (``curation.dedup.components``), then the keeper of each: in each component the
        keeper is the newest ``created`` (missing dates count as oldest), ties to the smallest
        ``id`` (``keep="oldest"`` and ``keep="smallest_id"`` are the alternatives), then the
        smallest doc key. Two ways, with the same result (tested):
        - ``merge``, one task: union-find over every edge (numpy, no Python object per edge).
          Memory: 16 bytes per edge plus, per document in an edge, its key, ``created`` and
          ``id``; no text.
        - star rounds, ``partitions`` tasks each: ``small-NN`` and ``large-NN`` alternate until
          a pair changes nothing (about log2 of the longest chain: 11 pairs for a chain of
          4,096 documents in random order), then ``label`` joins each document to its component and
          ``keeper`` picks the keepers, one task per partition of components. A task holds its
          partition's edges only, so memory per task falls as ``partitions`` grows (a
          component's edges stay in one task: the largest cluster bounds it from below).
        ``components="auto"`` (default) takes the merge while the reduce output is at most
        ``merge_max_bytes`` of Parquet (1 GiB: about 12 GiB for the merge task), the rounds
        above it; ``"single"`` and ``"distributed"`` force one.
apply:  ``minhash_cluster`` (int64: xxh3-64 of the keeper's id, top bit cleared; null outside
        any cluster); the other members are dropped (reason ``minhash_duplicate``) or, with
        ``mode="mark"``, kept with ``minhash_duplicate`` = true.

Components over ``max_cluster_size`` documents (chains of false positives, boilerplate) keep
every member: they get their cluster id and nothing is dropped.

Scratch space of the scan: ``bands`` rows of about 40 bytes per document (more with
``verify_threshold``, which adds the document's shingle hashes, 8 bytes each, to every row).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Literal, NamedTuple

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import rensa

from curation.core.hashing import fmix64, xxh3_64_column
from curation.core.stage import BatchContext, GlobalStage, Phase, PhaseSummary
from curation.dedup.components import (
    A,
    B,
    both_ways,
    by_node_partition,
    large_star,
    node_partition,
    small_star,
    smaller_first,
    union_find,
)
from curation.dedup.exact import SPACE_RUN
from curation.dedup.shards import (
    KEEP_ORDER,
    batch_decisions,
    by_partition,
    check_keep,
    partition_frame,
)

# merge memory estimate: in memory an edge is 16 B, plus the union-find arrays and the keys and
# ids of the documents the edges touch; the 3M-document rehearsal's merge
# (curation/reliability/rehearsal.py) held 10.9x its input's Parquet bytes above the worker's
# baseline (379 MB for 34.8 MB), rounded up here
MERGE_BYTES_PER_PARQUET_BYTE = 12

CLUSTER = "minhash_cluster"
DUPLICATE = "minhash_duplicate"
SHARD_SHIFT = 40  # doc key = shard << 40 | row: up to 2**40 rows per shard, 2**23 shards
_MASK63 = np.uint64((1 << 63) - 1)


class Banding(NamedTuple):
    """LSH banding: ``bands`` buckets per document, each over ``rows`` MinHash values."""

    bands: int
    rows: int

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows

    @property
    def threshold(self) -> float:
        """The usual estimate of the curve's steepest point, ``(1 / bands) ** (1 / rows)``."""
        return (1.0 / self.bands) ** (1.0 / self.rows)


DOLMA3 = Banding(26, 11)  # Dolma 3: target Jaccard 0.8 (286 permutations)
FINEWEB = Banding(14, 8)  # FineWeb: 112 permutations, threshold about 0.72
PRESETS = {"dolma3": DOLMA3, "fineweb": FINEWEB}


def collision_probability(s: float | np.ndarray, bands: int, rows: int) -> float | np.ndarray:
    """Probability that two sets of Jaccard ``s`` share at least one bucket: 1-(1-s^r)^b."""
    return 1.0 - (1.0 - np.power(s, rows)) ** bands


def collision_curve(bands: int, rows: int, points: int = 11) -> str:
    """A table of ``collision_probability`` at ``points`` Jaccard values evenly over [0, 1]."""
    lines = [f"bands={bands} rows={rows} threshold~{Banding(bands, rows).threshold:.3f}",
             "jaccard  P(candidate)"]
    for s in np.linspace(0.0, 1.0, points):
        lines.append(f"{s:7.2f}  {float(collision_probability(s, bands, rows)):.4f}")
    return "\n".join(lines)


# --- text to shingle hashes ----------------------------------------------------------------


def normalise(text: pa.Array | pa.ChunkedArray, lowercase: bool = True,
              punctuation: bool = True) -> pa.Array:
    """Lowercase (optional), every non-letter non-digit to a space (optional, else only
    whitespace, as Python's ``str.split()`` sees it), runs of spaces collapsed to one, ends
    stripped. Equals ``curation.synthetic.normalize`` with both options on (for letters,
    digits, ``_``)."""
    out = pc.utf8_lower(text) if lowercase else text
    pattern = r"[^\p{L}\p{N}]+" if punctuation else SPACE_RUN  # Python's whitespace
    out = pc.utf8_trim(pc.replace_substring_regex(out, pattern, " "), " ")
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def shingle_hashes(text: pa.Array, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of the word ``n``-grams of normalised texts (words separated by one space)
    and the per-document offsets: document d owns ``hashes[offsets[d]:offsets[d + 1]]``.

    Each distinct word is hashed once (xxh3-64 of its UTF-8 bytes, ``seed``); an n-gram's hash
    is the polynomial ``sum_j w_j * K**(n-1-j) mod 2**64`` of its words' hashes, then
    MurmurHash3's finaliser. A document of fewer than ``n`` words has one shingle, all its
    words (the missing ones count as 0); an empty document has none.
    """
    lists = pc.split_pattern(text, " ")
    words = pc.list_flatten(lists)
    words = words.filter(pc.greater(pc.binary_length(words), 0))  # "" only from empty texts
    encoded = pc.dictionary_encode(words)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    word_hash = xxh3_64_column(encoded.dictionary, seed)[encoded.indices.to_numpy()]
    n_words = np.asarray(pc.fill_null(pc.list_value_length(lists), 0), np.int64)
    n_words[np.asarray(pc.binary_length(text), np.int64) == 0] = 0
    first_word = np.concatenate([[0], np.cumsum(n_words)[:-1]]).astype(np.int64)
    counts = np.where(n_words > 0, np.maximum(n_words - n + 1, 1), 0)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    doc = np.repeat(np.arange(len(counts)), counts)
    start = first_word[doc] + (np.arange(offsets[-1]) - offsets[:-1][doc])
    last = first_word[doc] + n_words[doc] - 1
    short = bool((n_words[n_words > 0] < n).any())
    h = np.zeros(len(start), np.uint64)
    for j in range(n):  # h = sum_j w_j * K^(n-1-j) mod 2**64, missing words of short docs as 0
        w = word_hash[np.minimum(start + j, last)]
        if short:
            w = np.where(start + j <= last, w, np.uint64(0))
        h = h * np.uint64(0x9E3779B97F4A7C15) + w
    h = fmix64(h)
    return h, offsets


def unique_per_doc(hashes: np.ndarray, offsets: np.ndarray) -> pa.LargeListArray:
    """Each document's shingle hashes, sorted and deduplicated, as a list<uint64> column."""
    doc = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    order = np.lexsort((hashes, doc))
    h, d = hashes[order], doc[order]
    keep = np.ones(len(h), bool)
    keep[1:] = (h[1:] != h[:-1]) | (d[1:] != d[:-1])
    counts = np.bincount(d[keep], minlength=len(offsets) - 1)
    new_off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return pa.LargeListArray.from_arrays(pa.array(new_off), pa.array(h[keep], pa.uint64()))


# --- signatures -----------------------------------------------------------------------------


def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.Generator(np.random.PCG64(seed))
    a = rng.integers(0, 1 << 63, num_perm, dtype=np.uint64) << np.uint64(1) | np.uint64(1)
    return a, rng.integers(0, 1 << 63, num_perm, dtype=np.uint64)


def signatures_numpy(hashes: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int = 0,
                     chunk: int = 1 << 14) -> np.ndarray:
    """MinHash signatures, ``(docs, num_perm)`` uint32: the minimum over a document's shingle
    hashes x of ``(a * x + b) mod 2**64 >> 32`` (multiply-shift, a odd), one (a, b) per
    permutation from ``seed``. A document without shingles gets all ``2**32 - 1``."""
    a, b = _permutations(num_perm, seed)
    out = np.full((len(offsets) - 1, num_perm), np.iinfo(np.uint32).max, np.uint32)
    nonempty = np.flatnonzero(np.diff(offsets) > 0)
    d = 0
    while d < len(nonempty):  # blocks of whole documents, about ``chunk`` shingles each
        stop = int(np.searchsorted(offsets[nonempty + 1], offsets[nonempty[d]] + chunk))
        block = nonempty[d:max(stop, d + 1)]
        lo, hi = offsets[block[0]], offsets[block[-1] + 1]
        values = (hashes[lo:hi, None] * a + b) >> np.uint64(32)
        out[block] = np.minimum.reduceat(values, offsets[block] - lo, axis=0)
        d += len(block)
    return out


def signatures_rensa(hashes: np.ndarray, offsets: np.ndarray, num_perm: int,
                     seed: int = 0) -> np.ndarray:
    """Like ``signatures_numpy``, computed by rensa's ``RMinHash`` (its own hash family)."""
    if len(offsets) == 1:
        return np.zeros((0, num_perm), np.uint32)
    matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(
        hashes, offsets.astype(np.uint64), num_perm, seed)
    return np.asarray(matrix.to_rows(), dtype=np.uint32).reshape(len(offsets) - 1, num_perm)


def band_buckets(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """``(docs, bands)`` uint64 bucket hashes; band k hashes values ``k*rows:(k+1)*rows`` and
    its index, so that equal values in different bands never share a bucket."""
    sig = signatures[:, : bands * rows].reshape(len(signatures), bands, rows).astype(np.uint64)
    h = fmix64(np.arange(bands, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15))
    h = np.broadcast_to(h, (len(signatures), bands))
    for j in range(rows):
        h = fmix64((h ^ sig[:, :, j]) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(j))
    return h


def jaccard_sorted(a: np.ndarray, b: np.ndarray) -> float:
    """|a & b| / |a | b| of two sorted arrays of distinct values; 1.0 for two empty ones."""
    if not len(a) and not len(b):
        return 1.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


# --- the stage ------------------------------------------------------------------------------

class MinHashDedup(GlobalStage):
    """MinHash LSH near-duplicate removal (see the module docstring for the phases)."""

    requires = ("id", "text", "created")
    merges = True
    version = 2  # 2: punctuation=False splits words on Unicode whitespace (NBSP...) too

    def __init__(
        self,
        bands: int = DOLMA3.bands,
        rows: int = DOLMA3.rows,
        preset: Literal["dolma3", "fineweb"] | None = None,
        ngram: int = 5,
        lowercase: bool = True,
        punctuation: bool = True,
        seed: int = 0,
        engine: Literal["rensa", "numpy"] = "rensa",
        verify_threshold: float | None = None,
        max_cluster_size: int | None = None,
        keep: Literal["newest", "oldest", "smallest_id"] = "newest",
        mode: Literal["drop", "mark"] = "drop",
        partitions: int = 16,
        components: Literal["auto", "single", "distributed"] = "auto",
        merge_max_bytes: int = 1 << 30,
        name: str | None = None,
    ):
        if preset is not None:
            if preset not in PRESETS:
                raise ValueError(f"preset must be one of {sorted(PRESETS)}, not {preset!r}")
            bands, rows = PRESETS[preset]
        if bands < 1 or rows < 1 or ngram < 1 or partitions < 1:
            raise ValueError("bands, rows, ngram and partitions must be >= 1")
        check_keep(keep)
        if mode not in ("drop", "mark"):
            raise ValueError(f"mode must be 'drop' or 'mark', not {mode!r}")
        if engine not in ("rensa", "numpy"):
            raise ValueError(f"engine must be 'rensa' or 'numpy', not {engine!r}")
        if verify_threshold is not None and not 0 < verify_threshold <= 1:
            raise ValueError("verify_threshold must lie in (0, 1]")
        if max_cluster_size is not None and max_cluster_size < 2:
            raise ValueError("max_cluster_size must be >= 2")
        if components not in ("auto", "single", "distributed"):
            raise ValueError("components must be 'auto', 'single' or 'distributed', "
                             f"not {components!r}")
        self.bands, self.rows, self.ngram = bands, rows, ngram
        self.lowercase, self.punctuation = lowercase, punctuation
        self.seed, self.engine = seed, engine
        self.verify_threshold, self.max_cluster_size = verify_threshold, max_cluster_size
        self.keep, self.mode, self.partitions, self.name = keep, mode, partitions, name
        self.components, self.merge_max_bytes = components, merge_max_bytes

    def output_columns(self) -> dict[str, pa.DataType]:
        cols = {CLUSTER: pa.int64()}
        return {**cols, DUPLICATE: pa.bool_()} if self.mode == "mark" else cols

    # -- scan --------------------------------------------------------------------------------
    def signatures(self, text: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray,
                                                                    np.ndarray]:
        """``(signatures (docs, bands*rows) uint32, shingle hashes, per-doc offsets)``."""
        norm = normalise(text, self.lowercase, self.punctuation)
        hashes, offsets = shingle_hashes(norm, self.ngram)
        sign = signatures_rensa if self.engine == "rensa" else signatures_numpy
        return sign(hashes, offsets, self.bands * self.rows, self.seed), hashes, offsets

    def scan(self, shard: int, batches: Iterator[pa.Table]) -> Iterator[tuple[int, pa.Table]]:
        pieces, offset = [], 0
        for batch in batches:
            sig, hashes, offsets = self.signatures(batch.column("text"))
            n = batch.num_rows
            buckets = band_buckets(sig, self.bands, self.rows)
            has = np.diff(offsets) > 0  # documents with no word never match anything
            doc = np.repeat(np.flatnonzero(has), self.bands)
            columns = {
                "bucket": pa.array(buckets[has].reshape(-1)),
                "key": pa.array((np.int64(shard) << SHARD_SHIFT) + offset + doc),
                "created": batch.column("created").take(pa.array(doc)),
                "id": batch.column("id").take(pa.array(doc)),
            }
            if self.verify_threshold is not None:
                columns["shingles"] = unique_per_doc(hashes, offsets).take(pa.array(doc))
            pieces.append(pa.table(columns))
            offset += n
        yield from by_partition(pieces, lambda t: t.column("bucket").to_numpy(),
                                self.partitions)

    # -- reduce ------------------------------------------------------------------------------
    def reduce(self, partition: int, tables: Iterator[pa.Table]) -> Iterator[tuple[int, pa.Table]]:
        df = partition_frame(tables)
        if df is None:
            return
        df = df.filter(pl.col("bucket").is_duplicated())
        if df.height == 0:
            return
        by, descending = KEEP_ORDER[self.keep]
        df = df.sort(["bucket", *by], descending=[False, *descending], nulls_last=True,
                     maintain_order=True)
        if self.verify_threshold is None:
            edges = df.select(pl.col("key").first().over("bucket").alias("u"), pl.col("key")
                              .alias("v")).filter(pl.col("u") != pl.col("v"))
        else:
            edges = self._verified_edges(df)
        edges = smaller_first(edges["u"], edges["v"]).sort(A, B)
        touched = pl.concat([edges[A], edges[B]]).unique()
        nodes = (df.filter(pl.col("key").is_in(touched.implode()))
                 .select("key", "created", "id").unique("key").sort("key"))
        P = self.partitions  # noqa: N806
        for p, part in by_node_partition(edges, P):
            yield p, part.to_arrow()
        node_part = node_partition(nodes["key"], P)
        for p in node_part.unique().sort().to_list():
            yield P + p, nodes.filter(node_part == p).to_arrow()

    def _verified_edges(self, df: pl.DataFrame) -> pl.DataFrame:
        """Star edges within each bucket, kept only where the true Jaccard reaches the threshold;
        members that fail against one anchor are grouped again under the best of them."""
        keys = df["key"].to_numpy()
        shingles = df["shingles"].to_arrow()
        bounds = np.flatnonzero(np.diff(df["bucket"].to_numpy())) + 1
        starts = np.concatenate([[0], bounds]).tolist()
        ends = [*bounds.tolist(), df.height]
        seen: dict[tuple[int, int], bool] = {}
        us: list[int] = []
        vs: list[int] = []
        for lo, hi in zip(starts, ends, strict=True):
            remaining = list(range(lo, hi))
            while len(remaining) > 1:
                anchor, rest = remaining[0], []
                a = shingles[anchor].values.to_numpy()
                for m in remaining[1:]:
                    pair = (int(keys[anchor]), int(keys[m]))
                    if pair not in seen:
                        b = shingles[m].values.to_numpy()
                        seen[pair] = jaccard_sorted(a, b) >= self.verify_threshold
                    if seen[pair]:
                        us.append(pair[0])
                        vs.append(pair[1])
                    else:
                        rest.append(m)
                remaining = rest
        return pl.DataFrame({"u": np.array(us, np.int64), "v": np.array(vs, np.int64)})

    # -- components ----------------------------------------------------------------------
    def planned_phases(self) -> list[str]:
        if self.components == "single":
            return ["merge"]
        if self.components == "distributed":
            return ["small-01", "large-01", "label", "keeper"]
        return ["merge"]  # "auto" (the distributed rounds when reduce wrote too much)

    def next_phase(self, done: str, summaries: dict[str, PhaseSummary]) -> Phase | None:
        """After reduce, the single merge or the first star round (``components``); rounds
        alternate small-star and large-star until a pair changes nothing; then each node gets
        its component (``label``) and each component its keeper (``keeper``)."""
        if done == "reduce":
            single = (self.components == "single" or self.components == "auto"
                      and summaries["reduce"].bytes <= self.merge_max_bytes)
            return (Phase("merge", ("reduce",), gather=True) if single
                    else Phase("small-01", ("reduce",)))
        kind, _, number = done.partition("-")
        if kind == "small":
            return Phase(f"large-{number}", (done,))
        if kind == "large":
            if not any(summaries[f"{k}-{number}"].counts.get("changes", 0)
                       for k in ("small", "large")):
                return Phase("label", (done, "reduce"))
            return Phase(f"small-{int(number) + 1:02d}", (done,))
        return Phase("keeper", ("label",)) if done == "label" else None

    def run_phase(self, phase: str, index: int, pieces: Iterator[tuple[str, int, pa.Table]],
                  counts: Counter) -> Iterator[tuple[int, pa.Table]]:
        kind = phase.partition("-")[0]
        P = self.partitions  # noqa: N806
        tables = [(src, key, pl.from_arrow(t)) for src, key, t in pieces]
        nodes = [t for _, key, t in tables if key >= P]  # reduce's, keyed P + partition
        edges = _edges([t for src, key, t in tables  # label reads reduce for its nodes only
                        if key < P and not (kind == "label" and src == "reduce")])
        if kind == "merge":
            if nodes:
                yield from self._decide(_union_find_labels(edges, pl.concat(nodes)))
        elif kind == "small":
            out, counts["changes"] = small_star(edges)
            yield from _arrow(by_node_partition(both_ways(out), P))
        elif kind == "large":
            out, counts["changes"] = large_star(edges)
            yield from _arrow(by_node_partition(out, P))
        elif kind == "label":  # converged stars (leaf, centre) beside this partition's nodes
            if nodes:
                labelled = (pl.concat(nodes).join(edges, left_on="key", right_on=A, how="left")
                            .with_columns(pl.coalesce(B, "key").alias("component")).drop(B))
                yield from _arrow(by_node_partition(labelled, P, "component"))
        elif tables:  # keeper: whole components, each in one task
            yield from self._decide(pl.concat([t for _, _, t in tables]))

    def _decide(self, df: pl.DataFrame) -> Iterator[tuple[int, pa.Table]]:
        """Per-shard decisions ``(row, cluster, duplicate)`` from whole components (columns
        ``component``, ``key``, ``created``, ``id``): the first member in the keep policy's
        order (then by key) is kept."""
        by, descending = KEEP_ORDER[self.keep]
        df = df.sort(["component", *by, "key"], descending=[False, *descending, False],
                     nulls_last=True)
        df = df.with_columns(
            pl.col("id").first().over("component").alias("keeper"),
            pl.len().over("component").alias("size"),
        )
        keeper_hash = xxh3_64_column(df["keeper"].to_arrow()) & _MASK63
        cap = self.max_cluster_size
        giant = pl.col("size") > cap if cap is not None else pl.lit(False)
        df = df.with_columns(
            pl.Series(CLUSTER, keeper_hash.astype(np.int64)),
            # by key, not id: a document ingested twice has its keeper's id
            ((pl.col("key") != pl.col("key").first().over("component")) & ~giant).alias(DUPLICATE),
            (pl.col("key") // (1 << SHARD_SHIFT)).alias("shard"),
            (pl.col("key") % (1 << SHARD_SHIFT)).alias("row"),
        )
        for shard, group in df.sort("key").group_by("shard", maintain_order=True):
            yield int(shard[0]), group.select("row", CLUSTER, DUPLICATE).to_arrow()

    def config(self) -> dict:
        """The fingerprinted parameters; ``components`` and ``merge_max_bytes`` choose how the
        components are found, never which, so they are left out."""
        return {k: v for k, v in super().config().items()
                if k not in ("components", "merge_max_bytes")}

    def resources(self, phase: str, input_bytes: int) -> dict[str, float]:
        """The merge and the component rounds ask for their memory: the edges they read (16
        bytes each in memory, about ``MERGE_BYTES_PER_PARQUET_BYTE`` times their Parquet bytes
        with the union-find arrays or the rounds' joins, and the per-document keys)."""
        needs = super().resources(phase, input_bytes)
        if phase not in ("scan", "reduce", "apply") and "memory" not in needs:
            needs["memory"] = MERGE_BYTES_PER_PARQUET_BYTE * input_bytes
        return needs

    # -- apply -------------------------------------------------------------------------------
    def apply(
        self, batch: pa.Table, offset: int, decisions: pa.Table | None, ctx: BatchContext
    ) -> pa.Table:
        n = batch.num_rows
        cluster = np.zeros(n, np.int64)
        in_cluster = np.zeros(n, bool)
        duplicate = np.zeros(n, bool)
        at, mine = batch_decisions(decisions, offset, n)
        if len(at):
            cluster[at] = mine.column(CLUSTER).to_numpy()
            in_cluster[at] = True
            duplicate[at] = mine.column(DUPLICATE).to_numpy(zero_copy_only=False)
        out = batch.append_column(CLUSTER, pa.array(cluster, mask=~in_cluster))
        if self.mode == "mark":
            return out.append_column(DUPLICATE, pa.array(duplicate))
        if duplicate.any():
            ctx.drop("minhash_duplicate", out.filter(pa.array(duplicate)))
        return out.filter(pa.array(~duplicate))


def _edges(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Edge pieces ``(a, b)`` as one frame (empty with the right columns when none)."""
    return pl.concat(frames) if frames else pl.DataFrame(schema={A: pl.Int64, B: pl.Int64})


def _arrow(parts: Iterator[tuple[int, pl.DataFrame]]) -> Iterator[tuple[int, pa.Table]]:
    return ((p, df.to_arrow()) for p, df in parts)


def _union_find_labels(edges: pl.DataFrame, nodes: pl.DataFrame) -> pl.DataFrame:
    """``nodes`` (``key``, ``created``, ``id``; each key once or more) once each, with the
    ``component`` union-find gives them under ``edges``."""
    nodes = nodes.unique("key").sort("key")
    keys = nodes["key"].to_numpy()
    u = np.searchsorted(keys, edges[A].to_numpy())
    v = np.searchsorted(keys, edges[B].to_numpy())
    return nodes.with_columns(pl.Series("component", union_find(len(keys), u, v)))
