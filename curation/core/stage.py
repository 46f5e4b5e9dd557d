"""The stage contracts.

- ``MapStage``: ``table -> table`` over one batch at a time; embarrassingly parallel.
- ``Filter``: a map stage that gives each row a drop reason (or null to keep); it drops the
  rows (``mode="filter"``) or only tags them (``mode="tag"``, adds ``<name>_reason``).
- ``GlobalStage``: sees the whole dataset in three phases, each a set of independent tasks:
  ``scan`` each shard into keyed partitions, ``reduce`` each partition into per-shard
  decisions, ``apply`` the decisions to each shard; a stage may run phases of its own between
  reduce and apply (a merge, rounds of an iterative algorithm).

Every stage declares the columns it ``requires`` and the typed columns it ``adds``; the DAG is
validated against them before anything runs. A stage's ``config()`` (by default its public
attributes) is fingerprinted for resume: change a parameter and the stage and everything after
it is redone. The config must be JSON data (strings, numbers, booleans, None, lists, tuples
and dicts): anything else (a loaded model, a set, an object whose repr holds
a memory address) is refused when the stage is constructed; keep such things under a name
starting with ``_``.
"""

from __future__ import annotations

import json
import re
import warnings
from abc import ABC, ABCMeta, abstractmethod
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import pyarrow as pa
import pyarrow.compute as pc

from curation.core.artifacts import manifest_of, store
from curation.core.errors import CurationError
from curation.core.stats import StageStats

BUILTIN_RESOURCES = ("num_cpus", "num_gpus", "memory")  # Ray's task options of these names
# node and side-output names become file and directory names in the work dir (see
# curation.core.workdir): one safe path component, not hidden, not ours (_...)
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
PHASE_NAME = re.compile(r"[a-z][a-z0-9-]{0,63}")


def snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def check_config(stage: Stage) -> None:
    """A CurationError naming the first field of ``stage.config()`` that is not JSON data."""
    for key, value in stage.config().items():
        try:
            json.dumps(value, sort_keys=True)
        except (TypeError, ValueError) as e:
            raise CurationError(
                f"{type(stage).__name__}: config field {key!r} ({type(value).__name__}) is not "
                f"JSON data ({e}). A stage's public attributes are its fingerprint for resume: "
                f"keep plain parameters there and anything else under a name starting with "
                f"'_'") from None


class _StageType(ABCMeta):
    """The type of every stage: a stage's config is checked once its constructor returns."""

    def __call__(cls, *args, **kwargs):
        stage = super().__call__(*args, **kwargs)
        check_config(stage)
        return stage


class Stage(metaclass=_StageType):
    """Base of all stages. Subclasses set ``requires``/``adds`` and implement their contract."""

    requires: ClassVar[tuple[str, ...]] = ("text",)
    adds: ClassVar[dict[str, pa.DataType]] = {}
    version: ClassVar[int] = 1  # bump when the code changes what the stage outputs
    name: str | None = None

    def default_name(self) -> str:
        return snake_case(type(self).__name__)

    def config(self) -> dict:
        """Parameters that define the output; fingerprinted for resume."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_") and k != "name"}

    def resources(self, phase: str, input_bytes: int) -> dict[str, float]:
        """What one task of ``phase`` needs of its worker, for ``input_bytes`` of input files:
        Ray's ``num_cpus``, ``num_gpus`` and ``memory`` (bytes), and amounts of custom
        resources by name. One CPU by default; a stage that can estimate its memory says so;
        ``with_resources`` overrides."""
        return {"num_cpus": 1, **getattr(self, "_resources", {})}

    def with_resources(self, resources: dict[str, float] | None = None,
                       **amounts: float) -> Stage:
        """This stage, its tasks asking for ``amounts`` (``num_cpus=``, ``num_gpus=``,
        ``memory=`` bytes) instead of its own estimate, and for the custom Ray ``resources``
        (``{"highmem": 1}``: only nodes started with ``--resources`` offering them run its
        tasks). Not part of the fingerprint: resources never change an output."""
        unknown = set(amounts) - set(BUILTIN_RESOURCES)
        if unknown:
            raise CurationError(f"{type(self).__name__}: unknown resources {sorted(unknown)}; "
                                "use num_cpus=, num_gpus=, memory= (bytes), or "
                                "resources={name: amount} for a custom resource")
        clash = set(resources or {}) & {"CPU", "GPU", "memory", *BUILTIN_RESOURCES}
        if clash:
            raise CurationError(f"{type(self).__name__}: {sorted(clash)} are not custom "
                                "resources; pass num_cpus=, num_gpus= or memory=")
        self._resources = {**amounts, **(resources or {})}
        return self

    def output_columns(self) -> dict[str, pa.DataType]:
        """Columns this stage adds, with their types."""
        return dict(self.adds)

    def output_names(self) -> list[str]:
        """Names of the columns this stage adds (planning needs no types, nor the files a
        stage would read to know them)."""
        return list(self.output_columns())

    def columns_after(self, upstream: list[str]) -> list[str]:
        """Columns of this stage's output given its input's: by default all of them, plus ours.

        A stage that also removes columns (tokenization drops ``text``) overrides this.
        """
        return upstream + [c for c in self.output_names() if c not in upstream]

    def identity(self) -> dict:
        """What a stage's output depends on, fingerprinted for resume: its class, ``version``,
        ``config()`` and the content digest of each artifact (read when a run starts, so a
        constructor need not open its files)."""
        shipped = getattr(self, "_shipped", {})
        digests = {name: shipped[name].digest if name in shipped else manifest_of(path)["digest"]
                   for name, path in self.artifacts().items()}
        return {
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "version": self.version,
            "config": self.config(),
        } | ({"artifacts": digests} if digests else {})

    def describe(self) -> dict:
        """The former name of ``identity()``, deprecated (``Pipeline.describe()`` is text)."""
        warnings.warn("Stage.describe() is now Stage.identity()", DeprecationWarning,
                      stacklevel=2)
        return self.identity()

    def setup(self) -> None:
        """Called once per task on the worker before the first batch (load models here)."""

    def artifacts(self) -> dict[str, str]:
        """The files (or directories) this stage's tasks read, by name: their paths on the
        driver. A run ships each to the workers (core/artifacts.py); a task opens it by the
        path ``artifact(name)`` gives, never by the driver's path."""
        return {}

    def artifact(self, name: str) -> str:
        """Where artifact ``name`` is on this machine: its copy shipped by the run, fetched on
        first use; the driver's path when the stage runs outside a run."""
        shipped = getattr(self, "_shipped", {}).get(name)
        return self.artifacts()[name] if shipped is None else shipped.local_path()

    def ship(self, directory: str) -> None:
        """Stage every artifact into ``directory`` (a work dir's ``_artifacts``) so that
        ``artifact`` finds it on any node."""
        shipped = {}
        for name, path in self.artifacts().items():
            try:
                shipped[name] = store(path, directory)
            except FileNotFoundError:
                raise CurationError(f"{type(self).__name__}: its {name} {path} is missing on "
                                    "this machine") from None
        self._shipped = shipped


@dataclass
class BatchContext:
    """What a map stage can see and report while processing a batch."""

    seed: int
    shard: int
    stats: StageStats
    rejects: list[pa.Table] = field(default_factory=list)
    keep_rejects: bool = False
    side: dict[str, list[pa.Table]] = field(default_factory=dict)

    def emit(self, output: str, rows: pa.Table) -> None:
        """Append ``rows`` to this stage's side output ``output`` (a report, matches found...):
        Parquet shards in the work dir (``WorkDir.side_dir``), one series per task, resumed
        and cleaned up with the task like its main output."""
        if not SAFE_NAME.fullmatch(output):
            raise CurationError(f"side output name {output!r} is not a safe file name")
        if rows.num_rows:
            self.side.setdefault(output, []).append(rows)

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to this stage's own counter ``name`` (``StageStats.counts``: summed over
        tasks, in ``stats.json``): events that are neither drops nor quarantines, such as
        PII spans masked by kind or documents without a URL."""
        self.stats.counts[name] += n

    def drop(self, reason: str, rows: pa.Table) -> None:
        """Count ``rows`` as dropped for ``reason`` and keep them aside if asked to."""
        self.stats.dropped[reason] += rows.num_rows
        if self.keep_rejects and rows.num_rows:
            self.rejects.append(
                rows.append_column("drop_reason", pa.array([reason] * rows.num_rows, pa.string()))
            )


class MapStage(Stage, ABC):
    """``process(batch, ctx) -> batch``. Dropped rows must be reported with ``ctx.drop``."""

    keep_rejects: bool = False

    @abstractmethod
    def process(self, batch: pa.Table, ctx: BatchContext) -> pa.Table:
        """The batch after this stage: rows kept, columns added."""


class Filter(MapStage):
    """A map stage that decides per row: ``reasons(batch)`` gives a string array, null = keep."""

    def __init__(
        self,
        mode: Literal["filter", "tag"] = "filter",
        keep_rejects: bool = False,
        name: str | None = None,
    ):
        if mode not in ("filter", "tag"):
            raise ValueError(f"mode must be 'filter' or 'tag', not {mode!r}")
        self.mode, self.keep_rejects, self.name = mode, keep_rejects, name

    @property
    def reason_column(self) -> str:
        return f"{self.name or self.default_name()}_reason"

    def output_columns(self) -> dict[str, pa.DataType]:
        return {**self.adds, self.reason_column: pa.string()} if self.mode == "tag" else self.adds

    @abstractmethod
    def reasons(self, batch: pa.Table) -> pa.Array:
        """One drop reason per row (string), null where the row is kept."""

    def process(self, batch: pa.Table, ctx: BatchContext) -> pa.Table:
        return self.decide(batch, self.reasons(batch), ctx)

    def decide(self, batch: pa.Table, reasons: pa.Array, ctx: BatchContext,
               kept: pa.Table | None = None) -> pa.Table:
        """``batch`` with its drop ``reasons`` applied: tagged in ``mode="tag"``; else the
        dropped rows counted per reason (and kept aside if asked) and the others returned, taken
        from ``kept`` when given (a rewritten copy of ``batch``, row for row)."""
        if self.mode == "tag":
            return batch.append_column(self.reason_column, reasons)
        kept = batch if kept is None else kept
        dropped = pc.is_valid(reasons)
        if not pc.any(dropped).as_py():
            return kept
        rejected = batch.filter(dropped)
        rejected_reasons = reasons.filter(dropped)
        for reason in pc.unique(rejected_reasons).to_pylist():
            ctx.drop(reason, rejected.filter(pc.equal(rejected_reasons, reason)))
        return kept.filter(pc.invert(dropped))


@dataclass(frozen=True)
class Phase:
    """A phase a global stage runs after reduce: ``name`` (lower case, digits and ``-``; names
    its task records and scratch directory), the earlier phases whose pieces it reads
    (``"reduce"`` or the stage's own), and how: task ``i`` of ``partitions`` tasks reads the
    pieces whose key mod ``partitions`` is ``i``; with ``gather``, one task reads them all."""

    name: str
    reads: tuple[str, ...]
    gather: bool = False

    def __post_init__(self):
        if not PHASE_NAME.fullmatch(self.name) or self.name in ("scan", "reduce", "apply"):
            raise CurationError(f"bad phase name {self.name!r}")


@dataclass(frozen=True)
class PhaseSummary:
    """What the tasks of a finished phase wrote and counted, summed."""

    tasks: int
    bytes: int  # of their output files
    counts: dict[str, int]


class GlobalStage(Stage, ABC):
    """A stage over the whole dataset, in three phases of independent tasks.

    ``scan(shard, batches)`` yields ``(partition, table)`` pieces, ``partition`` in
    ``[0, partitions)``; ``reduce(partition, tables)`` gets that partition's pieces from every
    shard in shard order and yields ``(shard, table)`` decisions; ``apply(batch, offset,
    decisions, ctx)`` gets one shard's batches (``offset`` = index of the batch's first row in
    the shard) and that shard's decisions from every partition concatenated in partition order.
    No phase holds more than one shard or one partition.

    A stage whose answer needs every partition at once (connected components over edges found
    per partition) sets ``merges = True``: one ``merge`` task then runs between reduce and apply,
    gets every reduce output as ``(key, table)`` in partition then key order, and yields the
    per-shard decisions instead. It holds all of the reduce output, so that must stay small
    (integer edges, not texts); the stage documents its size.

    A stage whose answer takes more shuffles than one reduce (rounds of an iterative
    algorithm) overrides ``next_phase`` and ``run_phase``: after reduce and after each of its
    own phases the runner asks ``next_phase`` what to run next, given what the phase's tasks
    wrote and counted, and runs it; the last phase's pieces are keyed by shard and go to apply.
    """

    partitions: int = 16
    merges: ClassVar[bool] = False

    def planned_phases(self) -> list[str]:
        """The phases between reduce and apply, as far as they are known before the run
        (``curate plan``, ``curate status``); the runner records the ones it really runs."""
        return ["merge"] if self.merges else []

    def next_phase(self, done: str, summaries: dict[str, PhaseSummary]) -> Phase | None:
        """The phase to run after phase ``done`` (``"reduce"`` or one of this stage's), given
        the ``summaries`` of the phases run so far, by name; None when the decisions are ready
        for apply. By default the ``merge`` task after reduce when ``merges``."""
        if done == "reduce" and self.merges:
            return Phase("merge", reads=("reduce",), gather=True)
        return None

    def run_phase(self, phase: str, index: int, pieces: Iterator[tuple[str, int, pa.Table]],
                  counts: Counter) -> Iterator[tuple[int, pa.Table]]:
        """Task ``index`` of one of this stage's own phases: its input ``pieces`` as
        ``(phase that wrote it, key, table)``, its output ``(key, table)`` pieces (keyed by
        partition for a next phase, by shard for apply); it may add to ``counts``, which
        ``next_phase`` sees summed over the phase's tasks."""
        if phase != "merge":
            raise CurationError(f"{type(self).__name__} has no phase {phase!r}")
        yield from self.merge((key, table) for _, key, table in pieces)

    @abstractmethod
    def scan(self, shard: int, batches: Iterator[pa.Table]) -> Iterator[tuple[int, pa.Table]]:
        """Keyed partial results of one shard."""

    @abstractmethod
    def reduce(self, partition: int, tables: Iterator[pa.Table]) -> Iterator[tuple[int, pa.Table]]:
        """Decisions for each shard, from one partition's pieces."""

    def merge(self, pieces: Iterator[tuple[int, pa.Table]]) -> Iterator[tuple[int, pa.Table]]:
        """Per-shard decisions from every reduce output (only called when ``merges``)."""
        yield from pieces

    @abstractmethod
    def apply(
        self, batch: pa.Table, offset: int, decisions: pa.Table | None, ctx: BatchContext
    ) -> pa.Table:
        """One batch of a shard with that shard's decisions applied."""
