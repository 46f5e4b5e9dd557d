"""What ``curate inspect`` shows, gathered from a work dir, a dataset or a mix plan.

- a **work dir** of a finished run: the stages in pipeline order with documents and bytes
  in and out, the funnel, drops by reason with sample documents from the stages that kept their
  rejects (``keep_rejects=True``), each sink's dataset, and for each ``Upsample`` step (as
  the run recorded it) the curve it fitted per topic (read from its reduce decisions) with
  the topic's target and realised tokens (its apply outputs);
- a **dataset** (``manifest.json`` inside): documents, tokens and text bytes per source, topic
  and vigintile, and the topic x vigintile token grid when the data is tagged;
- a **mix plan** (``.json``/``.yaml``): available tokens and token targets per domain, so the
  mix before and after, and the repetition factors.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from curation.core import fs
from curation.core.errors import CurationError
from curation.core.manifest import MANIFEST, read_manifest
from curation.core.schema import token_weights
from curation.core.workdir import WorkDir
from curation.mixing.curves import TopicUpsampling
from curation.mixing.upsample import CURVE_COLUMNS, Upsample, curves_from_decisions

SAMPLE_CHARS = 400


@dataclass
class DatasetView:
    path: str
    totals: dict
    tokenizer: dict | None
    domains: pl.DataFrame  # one row per domain: source[, topic][, vigintile], docs, tokens, bytes

    def by(self, column: str) -> pl.DataFrame:
        """Documents, tokens and text bytes per value of ``column``, largest first (ties in
        ``column`` order: group_by's own order changes from call to call)."""
        return (self.domains.group_by(column)
                .agg(pl.col("docs").sum(), pl.col("tokens").sum(), pl.col("text_bytes").sum())
                .sort(["tokens", "docs", column], descending=[True, True, False]))

    def grid(self) -> pl.DataFrame | None:
        """Tokens (documents when untokenized) per topic x vigintile, or None if untagged."""
        if not {"topic", "vigintile"} <= set(self.domains.columns):
            return None
        weight = "tokens" if self.totals.get("tokens") else "docs"
        return (self.domains.group_by(["topic", "vigintile"]).agg(pl.col(weight).sum())
                .pivot(on="vigintile", index="topic", values=weight, sort_columns=True)
                .fill_null(0).sort("topic"))


@dataclass
class UpsampleView:
    """One ``Upsample`` step: the curve fitted per topic, and the tokens (``n_tokens``, else
    whitespace words, as the stage counts them) the topic has in the step's output."""

    step: str
    topics: dict[str, TopicUpsampling]
    realised: dict[str, int]  # topic -> tokens written

    def curves(self) -> pl.DataFrame:
        """Per topic: the curve's parameters (``Curve`` field names, exact), tokens available,
        the target (``ratio`` x available) and the tokens realised."""
        return pl.DataFrame([{
            "topic": topic, **{c: float(getattr(t.curve, c)) for c in CURVE_COLUMNS},
            "tokens": round(sum(t.tokens)), "target": round(float(t.yields.sum())),
            "realised": self.realised.get(topic, 0),
        } for topic, t in self.topics.items()])

    def rates(self, digits: int = 2) -> pl.DataFrame:
        """Repetitions per token (multiplier) per topic x quality vigintile, rounded; null for
        a vigintile without tokens (its rate, the curve at the bucket's edge, applies to none)."""
        return pl.DataFrame([{"topic": topic, **{
            str(v): round(float(r), digits) if n > 0 else None
            for v, (r, n) in enumerate(zip(t.rates, t.tokens, strict=True))}}
            for topic, t in self.topics.items()])


@dataclass
class RunView:
    path: str
    pipeline: str
    seconds: float
    stages: list[dict]  # name, docs_in, docs_out, bytes_in, bytes_out, seconds, dropped, ...
    samples: dict[str, dict[str, list[str]]]  # stage -> reason -> document starts
    sinks: dict[str, DatasetView] = field(default_factory=dict)
    upsampling: list[UpsampleView] = field(default_factory=list)  # in pipeline order


@dataclass
class PlanView:
    path: str
    entries: pl.DataFrame  # source, topic, vigintile, tokens, repetition, target_tokens
    seed: int


def dataset_view(path: str) -> DatasetView:
    manifest = read_manifest(path)
    domains = pl.DataFrame(manifest["domains"]) if manifest["domains"] else pl.DataFrame(
        {"source": [], "docs": [], "tokens": [], "text_bytes": []})
    return DatasetView(path, manifest["totals"], manifest["tokenizer"], domains)


def _read(path: str, columns: list[str] | None = None) -> pa.Table:
    with fs.open_input(path) as f:
        return pq.read_table(f, columns=columns)


def _samples(wd: WorkDir, stage: str, per_reason: int) -> dict[str, list[str]]:
    """Up to ``per_reason`` rejected documents per reason, from the stage's kept rejects."""
    out: dict[str, list[str]] = {}
    for path in wd.reject_files(stage):
        table = _read(path, ["text", "drop_reason"])
        for text, reason in zip(table["text"].to_pylist(), table["drop_reason"].to_pylist(),
                                strict=True):
            kept = out.setdefault(reason, [])
            if len(kept) < per_reason:
                kept.append(text[:SAMPLE_CHARS])
    return out


def upsample_view(wd: WorkDir, step: str) -> UpsampleView | None:
    """The curves of ``Upsample`` step ``step``, or None if it fitted none (no documents).

    Reads the decisions of one shard per reduce partition (each shard's copy holds all of the
    partition's curves) and the topic and token columns of the step's apply outputs.
    """
    directory, paths = wd.scratch_dir(step, "reduce"), []
    for record in wd.records(step, "reduce"):
        outs = record["outputs"]
        paths += [fs.join(directory, posixpath.basename(o["path"])) for o in outs
                  if o["key"] == outs[0]["key"]]
    if not paths:
        return None
    topics = curves_from_decisions(pa.concat_tables(_read(p) for p in paths))
    realised: dict[str, int] = {}
    for path in [o["path"] for r in wd.records(step, "apply") for o in r["outputs"]]:
        with fs.open_input(path) as f:
            shard = pq.ParquetFile(f)
            weight = "n_tokens" if "n_tokens" in shard.schema_arrow.names else "text"
            t = shard.read(columns=["topic", weight])
        sums = pa.table({"topic": t["topic"], "tokens": token_weights(t)}).group_by(
            "topic").aggregate([("tokens", "sum")])
        for topic, n in zip(*sums.to_pydict().values(), strict=True):
            realised[topic] = realised.get(topic, 0) + n
    return UpsampleView(step, topics, realised)


def run_view(workdir: str, per_reason: int = 3) -> RunView:
    wd = WorkDir(workdir)
    stats = wd.read_stats()
    stages = [{"name": name, **s} for name, s in stats["stages"].items()]
    samples = {s["name"]: found for s in stages
               if (found := _samples(wd, s["name"], per_reason))}
    sinks = {}
    for sink, files in stats["outputs"].items():
        directory = os.path.dirname(files[0]) if files else None
        if directory and os.path.exists(os.path.join(directory, MANIFEST)):
            sinks[sink] = dataset_view(directory)
    upsampling = [view for step, _ in wd.stages_of(Upsample)
                  if (view := upsample_view(wd, step)) is not None]
    return RunView(workdir, stats["pipeline"], stats["seconds"], stages, samples, sinks,
                   upsampling)


def plan_view(path: str) -> PlanView:
    from curation.mixing.mix_plan import MixPlan

    plan = MixPlan.load(path)
    rows = [{"source": e.source, "topic": e.topic, "vigintile": e.vigintile, "tokens": e.tokens,
             "repetition": e.repetition, "target_tokens": e.target_tokens} for e in plan.entries]
    return PlanView(path, pl.DataFrame(rows), plan.seed)


def gather(path: str, per_reason: int = 3) -> RunView | DatasetView | PlanView:
    """The view of whatever ``path`` is (see the module docstring)."""
    if os.path.isdir(path) and os.path.exists(WorkDir(path).stats_path):
        return run_view(path, per_reason)
    if os.path.isdir(path) and os.path.exists(os.path.join(path, MANIFEST)):
        return dataset_view(path)
    if os.path.isfile(path) and path.endswith((".json", ".yaml", ".yml")):
        return plan_view(path)
    raise CurationError(f"{path}: not a work dir of a finished run, a dataset (manifest.json) "
                        "or a mix plan (.json/.yaml)")
