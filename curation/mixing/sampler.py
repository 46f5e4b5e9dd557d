"""``Sample(plan)``: materialise a mix plan from tagged (tokenized) shards, deterministically.

Each document of a domain with repetition factor ``r`` is written ``floor(r)`` times, plus once
more when ``u < r - floor(r)``, where ``u`` in ``[0, 1)`` is the xxh3-64 hash of the document's
``id`` seeded with the plan's seed (of the id and its ``mix_copy`` number for rows that an
earlier repetition stage already copied: ``draw_keys``). ``u`` depends on nothing but the row's
key and the seed, so the output is the same whatever the sharding, the shard order or the
number of workers. Copies are
adjacent and numbered in the ``mix_copy`` column (0-based); a document written zero times is
counted as dropped (``mix_zero_rate`` where ``r = 0``, ``mix_not_sampled`` where the fractional
draw failed). A document of a domain missing from the plan is an error, unless
``missing="drop"`` (counted as ``mix_not_in_plan``) or ``missing="keep"`` (``r = 1``).

**Tolerance.** The integer part is exact; the fractional part of domain ``d`` is a sum of
independent Bernoulli(``f``) draws weighted by document lengths ``n_i``, with standard deviation
``sqrt(f (1 - f) sum n_i^2) <= sqrt(f (1 - f) max_i n_i x tokens_d)``. ``tolerance`` gives
``z`` times that bound (``z = 4`` by default: exceeded with probability below 1e-4 per domain);
realised tokens per domain stay within it of the plan's target.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from curation.core.errors import CurationError
from curation.core.hashing import xxh3_64_column
from curation.core.schema import ID, SOURCE
from curation.core.stage import BatchContext, MapStage
from curation.mixing.mix_plan import MixPlan, PlanEntry

COPY = "mix_copy"
RATE = "mix_rate"
_KEYS = (SOURCE, "topic", "vigintile")


def uniform_from_ids(ids: pa.Array, seed: int) -> np.ndarray:
    """One number in ``[0, 1)`` per id: the top 53 bits of its seeded xxh3-64, a pure function
    of the id and the seed."""
    h = xxh3_64_column(ids, seed=seed)
    return (h >> np.uint64(11)).astype(np.float64) * 2.0**-53


def copies(rates: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Copies of each document: ``floor(r) + (u < frac(r))``."""
    whole = np.floor(rates)
    return (whole + (u < rates - whole)).astype(np.int64)


def tolerance(entry: PlanEntry, max_doc_tokens: int, z: float = 4.0) -> float:
    """Bound (tokens) on ``|realised - target|`` for one domain (see the module doc)."""
    f = entry.repetition - math.floor(entry.repetition)
    return z * math.sqrt(f * (1 - f) * max_doc_tokens * entry.tokens)


class Sample(MapStage):
    """Repeat or sample each document by its domain's repetition factor in ``plan``."""

    requires: ClassVar[tuple[str, ...]] = (ID, SOURCE)
    adds: ClassVar[dict[str, pa.DataType]] = {COPY: pa.int32()}
    version: ClassVar[int] = 2  # 2: rows already copied draw by id and copy (``draw_keys``)

    def __init__(self, plan: MixPlan | str, missing: Literal["error", "drop", "keep"] = "error",
                 name: str | None = None):
        if missing not in ("error", "drop", "keep"):
            raise ValueError(f"missing must be error, drop or keep, not {missing!r}")
        self._plan = MixPlan.load(plan) if isinstance(plan, str) else plan
        self.plan = self._plan.fingerprint  # what the output depends on, for resume
        self.missing, self.name = missing, name
        e = self._plan.entries
        self._table = pl.DataFrame({
            SOURCE: [x.source for x in e], "topic": [x.topic for x in e],
            "vigintile": [x.vigintile for x in e], "_rate": [x.repetition for x in e],
        }, schema={SOURCE: pl.Utf8, "topic": pl.Utf8, "vigintile": pl.Int64,
                   "_rate": pl.Float64})

    def rates(self, batch: pa.Table) -> np.ndarray:
        """Repetition factor of each row (NaN where its domain is not in the plan)."""
        cols = {k: (batch.column(k) if k in batch.column_names
                    else pa.nulls(batch.num_rows)) for k in _KEYS}
        rows = pl.DataFrame({SOURCE: pl.from_arrow(cols[SOURCE]).cast(pl.Utf8),
                             "topic": pl.from_arrow(cols["topic"]).cast(pl.Utf8),
                             "vigintile": pl.from_arrow(cols["vigintile"]).cast(pl.Int64)})
        joined = rows.join(self._table, on=list(_KEYS), how="left", nulls_equal=True,
                           maintain_order="left")
        return joined["_rate"].fill_null(float("nan")).to_numpy().copy()

    def process(self, batch: pa.Table, ctx: BatchContext) -> pa.Table:
        rates = self.rates(batch)
        unknown = np.isnan(rates)
        if unknown.any():
            if self.missing == "error":
                row = batch.slice(int(np.flatnonzero(unknown)[0]), 1).to_pylist()[0]
                domain = {k: row.get(k) for k in _KEYS}
                raise CurationError(
                    f"document {row[ID]!r} is of a domain missing from the mix plan: {domain}")
            rates[unknown] = 0.0 if self.missing == "drop" else 1.0
        return materialise(batch, rates, self._plan.seed, ctx, unknown)


def draw_keys(batch: pa.Table) -> pa.Array | pa.ChunkedArray:
    """What each row's draw ``u`` is keyed on: its ``id``; for rows that are already copies
    made by an earlier repetition stage (a ``mix_copy`` column, as after ``Upsample``), its id
    and copy number. So the copies of one document draw independently, and none draws the
    number the earlier stage drew for the document (which, with the same seed, would keep a
    fractional copy only where the earlier stage kept one)."""
    if COPY not in batch.column_names:
        return batch.column(ID)
    ids = batch.column(ID)
    copy = pc.cast(pc.cast(batch.column(COPY), pa.int64()), ids.type)
    return pc.binary_join_element_wise(ids, copy, pa.scalar("\x1f", ids.type))


def materialise(batch: pa.Table, rates: np.ndarray, seed: int, ctx: BatchContext,
                unknown: np.ndarray | None = None) -> pa.Table:
    """Each row ``copies(rate, u(id, seed))`` times, numbered in ``mix_copy``; rows that get no
    copy are dropped by reason (``mix_not_in_plan`` where ``unknown``, ``mix_zero_rate``,
    ``mix_not_sampled``)."""
    unknown = np.zeros(len(rates), bool) if unknown is None else unknown
    n = copies(rates, uniform_from_ids(draw_keys(batch), seed))
    for reason, mask in (("mix_not_in_plan", unknown & (n == 0)),
                         ("mix_zero_rate", ~unknown & (rates == 0)),
                         ("mix_not_sampled", ~unknown & (rates > 0) & (n == 0))):
        if mask.any():
            ctx.drop(reason, batch.filter(pa.array(mask)))
    index = np.repeat(np.arange(batch.num_rows), n)
    starts = np.repeat(np.cumsum(n) - n, n)
    out = batch.take(pa.array(index, pa.int64()))
    copy = pa.array((np.arange(len(index)) - starts).astype(np.int32), pa.int32())
    if COPY in out.column_names:
        return out.set_column(out.column_names.index(COPY), COPY, copy)
    return out.append_column(COPY, copy)


def repeat_by_rate(batch: pa.Table, rates: np.ndarray, seed: int,
                   ctx: BatchContext) -> pa.Table:
    """``materialise`` for stages that compute their own rates: the rate used is kept in a
    ``mix_rate`` column (replacing an earlier stage's), and ``mix_copy`` and ``mix_rate`` come
    last."""
    rate = pa.array(rates, pa.float64())
    if RATE in batch.column_names:
        batch = batch.set_column(batch.column_names.index(RATE), RATE, rate)
    else:
        batch = batch.append_column(RATE, rate)
    out = materialise(batch, rates, seed, ctx)
    return out.select([c for c in out.column_names if c not in (COPY, RATE)] + [COPY, RATE])


def lookup_rates(keys: pa.Array | pa.ChunkedArray, known: pa.Array, rates: pa.Array,
                 default: float) -> np.ndarray:
    """The rate of each of ``keys`` in the table ``known -> rates`` (``default`` where absent
    or null), with a vectorised hash lookup."""
    at = pc.index_in(keys, value_set=known)
    found = pc.take(rates, pc.fill_null(at, 0)) if len(rates) else pa.nulls(len(keys))
    values = pc.if_else(pc.is_valid(at), found, default)
    return pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
