"""``Upsample``: quality-aware repetition inside the pipeline, computed from the data itself.

A global stage over tagged (``topic``, ``vigintile``) documents, tokenized or not:

- scan: tokens (``n_tokens``, else whitespace words: ``token_weights``) per topic x vigintile
  of each shard, partitioned by topic;
- reduce: per topic, the truncated power-exponential curve (``fit_curve``) for the topic's
  target ratio (tokens wanted / tokens available), with the cut ``a`` and the top-bucket cap
  ``max_repeat``; the per-vigintile repetition rates go to every shard holding that topic, one
  row per topic x vigintile that also carries the bucket's tokens and the fitted curve
  (``CURVE_COLUMNS``), so ``curate inspect`` can show the curve (``curves_from_decisions``);
- apply: each document repeated ``floor(r)`` times plus once more with probability
  ``frac(r)``, decided by a seeded hash of its id (``materialise``, ``draw_keys``), so the
  result depends on neither sharding nor worker count. Rows get ``mix_copy`` (0 for the first
  copy); the rate used is in ``mix_rate``.

Documents without a topic or vigintile keep rate 1. An infeasible ratio fails the reduce task
with a message naming the topic and its largest feasible ratio.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.core.schema import token_weights
from curation.core.stage import BatchContext, GlobalStage
from curation.mixing.curves import (
    DEFAULT_CUT,
    DEFAULT_MAX_REPEAT,
    PRESETS,
    Curve,
    TopicUpsampling,
    bucket_edges,
    fit_curve,
)
from curation.mixing.sampler import COPY, RATE, lookup_rates, repeat_by_rate
from curation.tagging.vigintiles import partition_of_key

BUCKETS = 20
# the fitted curve in the decisions, one value per topic repeated on its rows (``Curve`` fields)
CURVE_COLUMNS = ("cut", "p", "lam", "scale", "ratio", "max_repeat")


class Upsample(GlobalStage):
    """Repeat documents by quality within each topic; see the module docstring.

    ``ratio``: tokens wanted / tokens available, one number for every topic or a dict per topic
    (topics missing from the dict keep rate 1). ``cut`` (a, fraction of the topic's tokens
    below which nothing is kept) and ``max_repeat`` (M, the cap on the top bucket's mean rate)
    as OLMo 3: 0.4 and 7. ``preset="dolma3"``: Dolma 3's grid search for the curve
    (``curation.mixing.curves``) instead of the exact root.
    """

    requires = ("id", "topic", "vigintile")
    adds = {COPY: pa.int32(), RATE: pa.float64()}
    version = 2  # 2: the decisions carry the fitted curves

    def __init__(self, ratio: float | dict[str, float], cut: float = DEFAULT_CUT,
                 max_repeat: float = DEFAULT_MAX_REPEAT, seed: int = 0, partitions: int = 24,
                 name: str | None = None, preset: str | None = None):
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {PRESETS}, not {preset!r}")
        self.ratio, self.cut, self.max_repeat, self.preset = ratio, cut, max_repeat, preset
        self.seed, self.partitions, self.name = seed, partitions, name

    def _ratio(self, topic: str) -> float | None:
        return self.ratio.get(topic) if isinstance(self.ratio, dict) else self.ratio

    def scan(self, shard: int, batches: Iterator[pa.Table]) -> Iterator[tuple[int, pa.Table]]:
        parts = []
        for batch in batches:
            t = pa.table({"topic": batch.column("topic"), "vigintile": batch.column("vigintile"),
                          "tokens": token_weights(batch)})
            parts.append(t.filter(pc.and_(pc.is_valid(t["topic"]), pc.is_valid(t["vigintile"]))))
        if not parts:
            return
        sums = pa.concat_tables(parts).group_by(["topic", "vigintile"]).aggregate(
            [("tokens", "sum")])
        sums = sums.append_column("shard", pa.array([shard] * sums.num_rows, pa.int64()))
        for topic in sorted(set(sums["topic"].to_pylist())):
            yield (partition_of_key(topic, self.partitions),
                   sums.filter(pc.equal(sums["topic"], topic)))

    def reduce(self, partition: int, tables: Iterator[pa.Table]) -> Iterator[tuple[int, pa.Table]]:
        tables = list(tables)
        if not tables:
            return
        all_sums = pa.concat_tables(tables)
        rates = []
        for topic in sorted(set(all_sums["topic"].to_pylist())):
            ratio = self._ratio(topic)
            if ratio is None:
                continue
            rows = all_sums.filter(pc.equal(all_sums["topic"], topic))
            tokens = np.zeros(BUCKETS)
            np.add.at(tokens, rows["vigintile"].to_numpy().astype(int),
                      rows["tokens_sum"].to_numpy())
            curve = fit_curve(tokens, ratio, self.cut, self.max_repeat, topic=topic,
                              preset=self.preset)
            rates.append(decision_table(topic, tokens, curve))
        if not rates:
            return
        table = pa.concat_tables(rates)
        for shard in sorted(set(all_sums["shard"].to_pylist())):
            yield shard, table

    def apply(self, batch: pa.Table, offset: int, decisions: pa.Table | None,
              ctx: BatchContext) -> pa.Table:
        rates = np.ones(batch.num_rows)
        if decisions is not None and decisions.num_rows:
            rates = lookup_rates(_bucket_keys(batch), _bucket_keys(decisions).combine_chunks(),
                                 decisions["rate"].combine_chunks(), 1.0)
        return repeat_by_rate(batch, rates, self.seed, ctx)


def decision_table(topic: str, tokens: np.ndarray, curve: Curve) -> pa.Table:
    """One topic's decisions: per vigintile its ``rate`` (repetitions per token) and ``tokens``
    available, and the fitted curve's ``CURVE_COLUMNS`` on every row."""
    n = len(tokens)
    return pa.table({"topic": [topic] * n, "vigintile": pa.array(range(n), pa.int64()),
                     "rate": curve.rates(), "tokens": pa.array(tokens, pa.float64()),
                     **{c: pa.array([getattr(curve, c)] * n, pa.float64())
                        for c in CURVE_COLUMNS}})


def curves_from_decisions(table: pa.Table) -> dict[str, TopicUpsampling]:
    """The fitted curve of each topic in a table of ``decision_table`` rows (any order, a topic
    possibly repeated), rebuilt exactly: ``edges`` follow from the persisted ``tokens``."""
    out = {}
    for row in table.select(["topic", "vigintile", "tokens", *CURVE_COLUMNS]).to_pylist():
        out.setdefault(row["topic"], {})[row["vigintile"]] = row
    curves = {}
    for topic in sorted(out):
        rows = [out[topic][v] for v in sorted(out[topic])]
        tokens = tuple(r["tokens"] for r in rows)
        params = {c: rows[0][c] for c in CURVE_COLUMNS}
        curve = Curve(edges=tuple(float(e) for e in bucket_edges(tokens)), **params)
        curves[topic] = TopicUpsampling(topic, tokens, curve)
    return curves


def _bucket_keys(table: pa.Table) -> pa.ChunkedArray:
    """``topic`` and ``vigintile`` as one string key per row (null where either is null)."""
    vigintile = pc.cast(pc.cast(table["vigintile"], pa.int64()), pa.string())
    return pc.binary_join_element_wise(table["topic"], vigintile, "\x1f")
