"""``Mix``: mix sources by weights to a token budget, inside the pipeline.

A global stage: scan counts tokens (``n_tokens``, else whitespace words) per ``source`` in each
shard; reduce (one partition) turns the mixture ``weights``, the ``tokens`` budget and the
repetition cap into per-source token targets with ``allocate`` (a source short of tokens is
repeated up to ``max_repeat``; what it cannot supply goes to the others in proportion to
their weights) and so into a repetition rate per source; apply repeats each document by its
source's rate (integer copies plus a seeded fraction keyed on the id, and on the copy number
of rows an earlier stage such as ``Upsample`` repeated: ``materialise``; ``mix_rate`` is
replaced).
Sources without a weight are dropped (rate 0). The realised counts match the targets within
the sampler's tolerance (``curation.mixing.sampler.tolerance``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from curation.core.schema import SOURCE, token_weights
from curation.core.stage import BatchContext, GlobalStage
from curation.mixing.constrained import allocate
from curation.mixing.sampler import COPY, RATE, lookup_rates, repeat_by_rate


class Mix(GlobalStage):
    """Sources mixed by ``weights`` to ``tokens`` tokens, each repeated at most ``max_repeat``
    times; adds ``mix_copy`` and ``mix_rate``."""

    requires = ("id", SOURCE)
    adds = {COPY: pa.int32(), RATE: pa.float64()}
    version = 2  # 2: rows copied by an earlier stage draw by id and copy (``draw_keys``)
    partitions = 1

    def __init__(self, weights: dict[str, float], tokens: int, max_repeat: float = 4.0,
                 seed: int = 0, name: str | None = None):
        if not weights or min(weights.values()) < 0 or sum(weights.values()) <= 0:
            raise ValueError("weights must be non-negative and not all zero")
        self.weights, self.tokens, self.max_repeat = dict(weights), int(tokens), max_repeat
        self.seed, self.name = seed, name

    def scan(self, shard: int, batches: Iterator[pa.Table]) -> Iterator[tuple[int, pa.Table]]:
        parts = [pa.table({SOURCE: b.column(SOURCE), "tokens": token_weights(b)})
                 for b in batches]
        if parts:
            sums = pa.concat_tables(parts).group_by([SOURCE]).aggregate([("tokens", "sum")])
            yield 0, sums.append_column("shard", pa.array([shard] * sums.num_rows, pa.int64()))

    def reduce(self, partition: int, tables: Iterator[pa.Table]) -> Iterator[tuple[int, pa.Table]]:
        tables = list(tables)
        if not tables:
            return
        sums = pa.concat_tables(tables)
        available: dict[str, float] = {}
        for source, n in zip(sums[SOURCE].to_pylist(), sums["tokens_sum"].to_pylist(),
                             strict=True):
            available[source] = available.get(source, 0.0) + n
        weights = {s: w for s, w in self.weights.items() if s in available}
        allocation = allocate(weights, available, self.tokens, self.max_repeat)
        rates = pa.table({SOURCE: sorted(available),
                          "rate": [allocation.repetition.get(s, 0.0) for s in sorted(available)]})
        for shard in sorted(set(sums["shard"].to_pylist())):
            yield shard, rates

    def apply(self, batch: pa.Table, offset: int, decisions: pa.Table | None,
              ctx: BatchContext) -> pa.Table:
        if decisions is None:
            rates = np.zeros(batch.num_rows)
        else:
            rates = lookup_rates(batch.column(SOURCE), decisions[SOURCE].combine_chunks(),
                                 decisions["rate"].combine_chunks(), 0.0)
        return repeat_by_rate(batch, rates, self.seed, ctx)

