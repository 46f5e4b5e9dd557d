"""Per-topic quality vigintiles: within each topic, the quality cut points at every 5 % of
tokens (or of documents), computed exactly in two passes over the data, then a bucket
``vigintile`` in 0..19 for every document (0 = lowest quality, 19 = highest).

Definitions. For one topic, let the documents' distinct quality values be ``q_1 < ... < q_m``,
``w_i`` the total weight of the documents scoring ``q_i``, ``C_i = w_1 + ... + w_i`` and
``W = C_m``. The weight of a document is its token count, the ``n_tokens`` column when the
input has it and otherwise the number of whitespace-separated words of ``text``
(``weight="tokens"``), or 1 (``weight="docs"``). Cut point ``k`` (``k = 1..19``) is the
smallest ``q_i`` with ``20 * C_i >= k * W`` -- the inverted-CDF weighted quantile at ``k/20``,
``numpy.quantile(q, k / 20, weights=w, method="inverted_cdf")``, here in exact integer
arithmetic (weights are integers). A document of quality ``q`` is in vigintile ``#{k : cut_k <
q}``: bucket ``v`` holds qualities in ``(cut_v, cut_{v+1}]``, so it carries
``C(cut_{v+1}) - C(cut_v)`` of the weight, ``W / 20`` up to the weight of the documents tied at
a cut point. Ties are never split: equal qualities share a bucket (a topic whose documents all
score the same lies wholly in vigintile 0). A topic whose total weight is 0 (every text empty)
is bucketed by document count instead. A document with a null or NaN quality gets a null
vigintile and does not count towards the cut points; a null topic is a group of its own.

Phases (``GlobalStage``):

- scan: per shard, the weight of each (topic, quality) pair and its document count, routed to
  the partition of its topic (a taxonomy id's index modulo ``partitions``, otherwise a hash);
- reduce: per partition, the 19 cut points of each of its topics, sent to the shards that hold
  that topic. With the default ``partitions=24`` each taxonomy topic has a partition to itself,
  so a reduce holds one topic's distinct (quality, weight, docs) triples -- at most one row per
  document of that topic, fewer when scores repeat;
- apply: ``vigintile`` (int8) from the cut points by binary search.

``vigintile_grid`` and ``write_grid_report`` count documents and tokens per (topic, vigintile)
of a tagged dataset and write them as a table (CSV and Markdown) and a heatmap (PNG).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Literal

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from curation.core.schema import token_weights
from curation.core.stage import BatchContext, GlobalStage
from curation.tagging.taxonomy import TOPICS

BUCKETS = 20
VIGINTILE = "vigintile"


def cut_points(quality: np.ndarray, weight: np.ndarray, buckets: int = BUCKETS) -> np.ndarray:
    """The ``buckets - 1`` inverted-CDF weighted quantiles of ``quality`` at ``k / buckets``
    (see the module docstring), ``float64``. ``weight``: non-negative integers, same length.
    Raises ``ValueError`` when the total weight is 0."""
    quality = np.asarray(quality, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.int64)
    if quality.shape != weight.shape or quality.ndim != 1:
        raise ValueError("quality and weight must be 1-d arrays of the same length")
    if (weight < 0).any():
        raise ValueError("weights must be non-negative")
    if np.isnan(quality).any():
        raise ValueError("quality has NaN values; drop them first")
    total = int(weight.sum())
    if total == 0:
        raise ValueError("total weight is 0: no cut points")
    order = np.argsort(quality, kind="stable")
    q, w = quality[order], weight[order]
    starts = np.flatnonzero(np.r_[True, q[1:] != q[:-1]])
    values = q[starts]
    cumulative = np.cumsum(np.add.reduceat(w, starts))  # C_i per distinct quality, exact
    targets = np.arange(1, buckets, dtype=np.int64) * total  # k * W, compared with 20 * C_i
    index = np.searchsorted(cumulative * buckets, targets, side="left")
    return values[np.minimum(index, len(values) - 1)]


def assign(quality: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Vigintile of each quality: the number of cut points strictly below it (``int8``)."""
    return np.searchsorted(cuts, quality, side="left").astype(np.int8)


def partition_of_key(key: str | None, partitions: int) -> int:
    """Partition of a group key (a topic): taxonomy index modulo ``partitions``, else xxh3."""
    if key in TOPICS:
        return TOPICS.index(key) % partitions
    raw = b"\x00null" if key is None else str(key).encode()
    return xxhash.xxh3_64_intdigest(raw) % partitions


class Vigintiles(GlobalStage):
    """Adds ``vigintile`` (int8, 0..19, null where quality is null or NaN): the document's
    5 %-bucket of ``quality`` within its ``by`` group, by tokens (default) or documents."""

    def __init__(self, by: str = "topic", weight: Literal["tokens", "docs"] = "tokens",
                 quality: str = "quality", partitions: int = 24, name: str | None = None):
        if weight not in ("tokens", "docs"):
            raise ValueError(f"weight must be 'tokens' or 'docs', not {weight!r}")
        if partitions < 1:
            raise ValueError("partitions must be >= 1")
        self.by, self.weight, self.quality = by, weight, quality
        self.partitions, self.name = partitions, name
        self.requires = (by, quality)

    def output_columns(self) -> dict[str, pa.DataType]:
        return {VIGINTILE: pa.int8()}

    def _weights(self, batch: pa.Table) -> pa.Array:
        if self.weight == "docs":
            return pa.array(np.ones(batch.num_rows, np.int64))
        return token_weights(batch)

    def scan(self, shard: int, batches: Iterator[pa.Table]) -> Iterator[tuple[int, pa.Table]]:
        frames = []
        for batch in batches:
            frames.append(pl.from_arrow(pa.table({
                "key": pc.cast(batch.column(self.by), pa.string()),
                "quality": pc.cast(batch.column(self.quality), pa.float64()),
                "weight": self._weights(batch),
            })))
        if not frames:
            return
        df = (
            pl.concat(frames)
            .filter(pl.col("quality").is_not_null() & pl.col("quality").is_not_nan())
            .group_by(["key", "quality"])
            .agg(pl.col("weight").sum(), pl.len().cast(pl.Int64).alias("docs"))
            .with_columns(pl.lit(shard, pl.Int32).alias("shard"))
            .sort(["key", "quality"], nulls_last=True)
        )
        parts = [partition_of_key(k, self.partitions) for k in df.get_column("key").to_list()]
        df = df.with_columns(pl.Series("partition", parts, pl.Int64))
        for (part,), group in df.group_by("partition", maintain_order=True):
            yield int(part), group.drop("partition").to_arrow()

    def reduce(self, partition: int, tables: Iterator[pa.Table]) -> Iterator[tuple[int, pa.Table]]:
        frames = [pl.from_arrow(t) for t in tables]
        if not frames:
            return
        df = pl.concat(frames)
        agg = (
            df.group_by(["key", "quality"])
            .agg(pl.col("weight").sum(), pl.col("docs").sum())
            .sort(["key", "quality"], nulls_last=True)
        )
        cuts: dict[str | None, list[float]] = {}
        for (key,), group in agg.group_by("key", maintain_order=True):
            q = group.get_column("quality").to_numpy()
            w = group.get_column("weight").to_numpy()
            if int(w.sum()) == 0:
                w = group.get_column("docs").to_numpy()
            cuts[key] = cut_points(q, w).tolist()
        holders = df.select("shard", "key").unique().sort(["shard", "key"], nulls_last=True)
        for (shard,), group in holders.group_by("shard", maintain_order=True):
            keys = group.get_column("key").to_list()
            yield int(shard), pa.table({
                "key": pa.array(keys, pa.string()),
                "cuts": pa.array([cuts[k] for k in keys], pa.list_(pa.float64())),
            })

    def apply(
        self, batch: pa.Table, offset: int, decisions: pa.Table | None, ctx: BatchContext
    ) -> pa.Table:
        n = batch.num_rows
        out = np.zeros(n, np.int8)
        valid = np.zeros(n, bool)
        if decisions is not None and decisions.num_rows and n:
            keys = pc.cast(batch.column(self.by), pa.string()).to_numpy(zero_copy_only=False)
            quality = (pc.cast(batch.column(self.quality), pa.float64())
                       .to_numpy(zero_copy_only=False).astype(np.float64))
            has_quality = ~np.isnan(quality)
            for key, cuts in zip(decisions.column("key").to_pylist(),
                                 decisions.column("cuts").to_pylist(), strict=True):
                rows = (np.array([k is None for k in keys]) if key is None
                        else keys == key) & has_quality
                out[rows] = assign(quality[rows], np.asarray(cuts))
                valid |= rows
        return batch.append_column(VIGINTILE, pa.array(out, pa.int8(), mask=~valid))


# --- the (topic, vigintile) grid report ----------------------------------------------------


def vigintile_grid(tables: Iterable[pa.Table | str], by: str = "topic") -> pa.Table:
    """Documents and tokens per (``by``, ``vigintile``) over tables or Parquet paths, read one
    at a time (only ``by``, ``vigintile`` and ``n_tokens`` or ``text`` are loaded). Every group
    present gets all 20 buckets, empty ones with zeros; rows with a null vigintile are counted
    under vigintile -1. Tokens as in ``curation.core.schema.token_weights``. Sorted by group
    then vigintile."""
    frames = []
    for item in tables:
        if isinstance(item, str):
            names = pq.read_schema(item).names
            wanted = [by, VIGINTILE] + (["n_tokens"] if "n_tokens" in names else ["text"])
            item = pq.read_table(item, columns=wanted)
        frames.append(pl.from_arrow(pa.table({
            "group": pc.cast(item.column(by), pa.string()),
            VIGINTILE: pc.fill_null(pc.cast(item.column(VIGINTILE), pa.int8()), -1),
            "tokens": token_weights(item),
        })).group_by(["group", VIGINTILE]).agg(pl.len().cast(pl.Int64).alias("docs"),
                                                pl.col("tokens").sum()))
    if not frames:
        return pa.table({by: pa.array([], pa.string()), VIGINTILE: pa.array([], pa.int8()),
                         "docs": pa.array([], pa.int64()), "tokens": pa.array([], pa.int64())})
    counts = pl.concat(frames).group_by(["group", VIGINTILE]).agg(pl.col("docs", "tokens").sum())
    full = (
        counts.select("group").unique()
        .join(pl.DataFrame({VIGINTILE: np.arange(BUCKETS, dtype=np.int8)}), how="cross")
    )
    grid = (
        pl.concat([full, counts.filter(pl.col(VIGINTILE) < 0).select("group", VIGINTILE)])
        .join(counts, on=["group", VIGINTILE], how="left", nulls_equal=True)
        .with_columns(pl.col("docs", "tokens").fill_null(0))
        .sort(["group", VIGINTILE], nulls_last=True)
        .rename({"group": by})
    )
    return grid.to_arrow()


def write_grid_report(grid: pa.Table, out_dir: str, by: str = "topic") -> dict[str, str]:
    """Write ``vigintile_grid.csv`` (long form), ``vigintile_grid.md`` (one row per group:
    documents, tokens, and each vigintile's share of the group's tokens in %) and
    ``vigintile_grid.png`` (heatmaps of documents and tokens, groups by rows, vigintiles by
    columns, log colour scale). Returns the three paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    os.makedirs(out_dir, exist_ok=True)
    df = pl.from_arrow(grid).filter(pl.col(VIGINTILE) >= 0)
    paths = {k: os.path.join(out_dir, f"vigintile_grid.{k}") for k in ("csv", "md", "png")}
    pl.from_arrow(grid).write_csv(paths["csv"])

    groups = sorted({g for g in df.get_column(by).to_list()}, key=lambda g: (g is None, g or ""))
    docs = np.zeros((len(groups), BUCKETS), np.int64)
    tokens = np.zeros((len(groups), BUCKETS), np.int64)
    row_of = {g: i for i, g in enumerate(groups)}
    for g, v, d, t in df.select(by, VIGINTILE, "docs", "tokens").iter_rows():
        docs[row_of[g], v], tokens[row_of[g], v] = d, t

    lines = [f"| {by} | docs | tokens | " + " | ".join(f"v{v}" for v in range(BUCKETS)) + " |",
             "|---|---|---|" + "---|" * BUCKETS]
    for g, d_row, t_row in zip(groups, docs, tokens, strict=True):
        total = int(t_row.sum())
        shares = (t_row / total * 100 if total else np.zeros(BUCKETS)).round(1)
        lines.append(f"| {g} | {int(d_row.sum())} | {total} | "
                     + " | ".join(f"{s:.1f}" for s in shares) + " |")
    with open(paths["md"], "w") as f:
        f.write("Share of each group's tokens per vigintile, in %.\n\n" + "\n".join(lines) + "\n")

    fig, axes = plt.subplots(1, 2, figsize=(16, 0.32 * max(len(groups), 4) + 1.5),
                             constrained_layout=True)
    for ax, values, title in ((axes[0], docs, "documents"), (axes[1], tokens, "tokens")):
        shown = np.where(values > 0, values, np.nan)
        positive = values[values > 0]
        norm = LogNorm(vmin=positive.min(), vmax=positive.max()) if positive.size else None
        image = ax.imshow(shown, aspect="auto", cmap="viridis", norm=norm)
        ax.set_title(f"{title} per ({by}, vigintile)")
        ax.set_xlabel("vigintile (0 = lowest quality)")
        ax.set_xticks(range(BUCKETS))
        ax.set_yticks(range(len(groups)), [str(g) for g in groups], fontsize=7)
        fig.colorbar(image, ax=ax)
    fig.savefig(paths["png"], dpi=100)
    plt.close(fig)
    return paths
