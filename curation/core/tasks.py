"""Tasks: the unit of work, retry and resume. Each runs on a worker and returns its record.

A task writes its outputs atomically, then its completion record (at ``record_path``, from
``WorkDir.record_path``): fingerprint, outputs with rows, bytes and checksums, stats per node.
A task whose record exists with the same fingerprint and whose outputs are all present is not
run again.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from curation.core import fs, peakmem
from curation.core.errors import CurationError
from curation.core.quarantine import Quarantine
from curation.core.readers import Reader
from curation.core.stage import BatchContext, GlobalStage, MapStage
from curation.core.stats import StageStats, text_bytes
from curation.core.workdir import WorkDir, read_record
from curation.core.writer import ShardWriter

INPUT_BATCH_ROWS = 2048
REJECTS = "rejects"


@dataclass(frozen=True)
class InputShard:
    """One input of a task: a file, with what identifies its content."""

    path: str
    identity: str  # checksum of a produced shard, or size+mtime fingerprint of a source file
    key: int | None = None  # partition or shard number of an intermediate piece
    columns: tuple[str, ...] | None = None  # read only these (a union's shared columns)
    bytes: int | None = None  # the file's size, where known (not part of its identity)

    def batches(self) -> Iterator[pa.Table]:
        """The shard's record batches as tables, projected to ``columns`` when set."""
        return _iter_shard(self.path, self.columns)


@dataclass
class Task(ABC):
    step: str
    phase: str
    index: int
    fingerprint: str
    record_path: str
    label: str  # shown in errors: usually the input file
    # what the task asks of its worker (Ray's num_cpus, memory in bytes); not fingerprinted
    resources: dict[str, float] = field(default_factory=dict, kw_only=True)

    @abstractmethod
    def run(self) -> tuple[list[dict], dict[str, StageStats]]:
        """Write the outputs; return their descriptions and the stats per node."""

    def counts(self) -> dict[str, int]:
        """What the last ``run`` counted for the driver to decide on (a record's ``counts``)."""
        return {}


def is_complete(task: Task) -> dict | None:
    """The task's record if it is done with this fingerprint and its outputs are all there."""
    record = read_record(task.record_path)
    if record is None or record.get("fingerprint") != task.fingerprint:
        return None
    for out in record["outputs"]:
        if not fs.exists(out["path"]):
            return None
        if "bytes" in out:
            filesystem, inner = fs.resolve(out["path"])
            if filesystem.get_file_info(inner).size != out["bytes"]:
                return None
    return record


def _where() -> dict:
    """Host, process and (inside a Ray task) node that ran a task, for the record."""
    where = {"host": socket.gethostname(), "pid": os.getpid()}
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        where["node"] = ray.get_runtime_context().get_node_id()
    return where


def execute(task: Task) -> dict:
    """Run a task and publish its record (after its outputs). Returns the record: besides its
    results, when it ran (``started``/``finished``, Unix seconds; ``seconds`` of run time),
    where (``ran_on``), and ``peak_rss``, the most resident memory its process held meanwhile
    (bytes; None where the system cannot say)."""
    measured = peakmem.reset()
    started, start = time.time(), time.perf_counter()
    outputs, stats = task.run()
    record = {
        "step": task.step,
        "phase": task.phase,
        "index": task.index,
        "fingerprint": task.fingerprint,
        "input": task.label,
        "outputs": outputs,
        "stats": {name: s.to_dict() for name, s in stats.items()},
        "counts": task.counts(),
        "seconds": round(time.perf_counter() - start, 6),
        "started": round(started, 3),
        "finished": round(time.time(), 3),
        "peak_rss": peakmem.peak() if measured else None,
        "ran_on": _where(),
    }
    fs.write_json(task.record_path, record)
    return record


def _iter_shard(path: str, columns: tuple[str, ...] | None = None) -> Iterator[pa.Table]:
    with fs.open_input(path) as f:
        cols = list(columns) if columns is not None else None
        for batch in pq.ParquetFile(f).iter_batches(batch_size=INPUT_BATCH_ROWS, columns=cols):
            yield pa.Table.from_batches([batch])


def _read_whole(path: str) -> pa.Table:
    with fs.open_input(path) as f:
        return pq.read_table(f)


def _tracked(stats: StageStats, batch: pa.Table, fn) -> pa.Table:
    """Apply ``fn`` to ``batch``, counting docs, text bytes and seconds in ``stats``."""
    stats.docs_in += batch.num_rows
    stats.bytes_in += text_bytes(batch)
    t0 = time.perf_counter()
    out = fn(batch)
    stats.seconds += time.perf_counter() - t0
    stats.docs_out += out.num_rows
    stats.bytes_out += text_bytes(out)
    return out


def _check_adds(node: str, stage, batch: pa.Table) -> None:
    missing = [c for c in stage.output_names() if c not in batch.column_names]
    if missing:
        raise CurationError(f"stage '{node}' declares {missing} in its adds but did not add them")


@dataclass
class SegmentTask(Task):
    """Read one shard (a source file or a produced Parquet shard), apply map stages, write."""

    input: InputShard = None
    reader: Reader | None = None
    source_node: str | None = None
    stages: list[tuple[str, MapStage]] = field(default_factory=list)
    output_dir: str = ""
    workdir: WorkDir = None  # where quarantined rows, rejects and side outputs go
    seed: int = 0
    max_shard_bytes: int = 512 << 20

    def _batches(self, stats: dict[str, StageStats], q: Quarantine) -> Iterator[pa.Table]:
        if self.reader is None:
            yield from self.input.batches()
            return
        s = stats[self.source_node]
        drops: Counter = Counter()
        t0 = time.perf_counter()
        for batch in self.reader.read(self.input.path, q, drops):
            s.seconds += time.perf_counter() - t0
            s.docs_out += batch.num_rows
            s.bytes_out += text_bytes(batch)
            yield batch
            t0 = time.perf_counter()
        s.seconds += time.perf_counter() - t0
        s.dropped.update(drops)
        s.quarantined.update(q.counts)
        s.docs_in = s.docs_out + sum(drops.values()) + sum(q.counts.values())
        filesystem, inner = fs.resolve(self.input.path)
        s.bytes_in = filesystem.get_file_info(inner).size

    def run(self) -> tuple[list[dict], dict[str, StageStats]]:
        stats = {
            name: StageStats()
            for name in ([self.source_node] if self.reader else []) + [n for n, _ in self.stages]
        }
        quarantine = self.workdir.quarantine_path(self.step, self.index)
        fs.remove(quarantine)  # an earlier attempt's, if any
        q = Quarantine(self.reader.on_error if self.reader else "raise", quarantine)
        writer = ShardWriter(self.output_dir, f"part-{self.index:05d}", self.max_shard_bytes)
        side_writers: dict[tuple[str, str], ShardWriter] = {}  # (node, output name) -> writer

        def write_side(node: str, name: str, tables: list[pa.Table]) -> None:
            if (node, name) not in side_writers:
                directory = (self.workdir.rejects_dir(node) if name == REJECTS
                             else self.workdir.side_dir(node, name))
                side_writers[node, name] = ShardWriter(directory, f"part-{self.index:05d}")
            side_writers[node, name].write(pa.concat_tables(tables, promote_options="default"))

        try:
            for _, stage in self.stages:
                stage.setup()
            for batch in self._batches(stats, q):
                for name, stage in self.stages:
                    ctx = BatchContext(
                        self.seed, self.index, stats[name], keep_rejects=stage.keep_rejects
                    )
                    batch = _tracked(stats[name], batch, lambda b: stage.process(b, ctx))  # noqa: B023
                    _check_adds(name, stage, batch)
                    if ctx.rejects:
                        write_side(name, REJECTS, ctx.rejects)
                    for output, tables in ctx.side.items():
                        write_side(name, output, tables)
                    if batch.num_rows == 0:
                        break
                writer.write(batch)
            files = [f.to_dict() for f in writer.close()]
            side = [f.to_dict() | {"side": name}
                    for (_, name), w in side_writers.items() for f in w.close()]
            side += [{"path": p, "side": "quarantine"} for p in q.commit()]
        except BaseException:
            writer.abort()
            for w in side_writers.values():
                w.abort()
            q.abort()
            raise
        return files + side, stats


def _write_keyed(pieces: Iterator[tuple[int, pa.Table]], directory: str,
                 stem: Callable[[int], str], node: str) -> tuple[list[dict], dict]:
    """Write ``(key, table)`` pieces to one file series per key; outputs sorted by key."""
    writers: dict[int, ShardWriter] = {}
    stats = StageStats()
    t0 = time.perf_counter()
    for key, table in pieces:
        if key not in writers:
            writers[key] = ShardWriter(directory, stem(key))
        writers[key].write(table)
    stats.seconds = time.perf_counter() - t0
    outputs = [f.to_dict() | {"key": k} for k in sorted(writers) for f in writers[k].close()]
    return outputs, {node: stats}


@dataclass
class ScanTask(Task):
    """Global stage, phase 1: one shard into keyed partition pieces."""

    input: InputShard = None
    stage: GlobalStage = None
    output_dir: str = ""

    def run(self) -> tuple[list[dict], dict[str, StageStats]]:
        pieces = self.stage.scan(self.index, self.input.batches())
        return _write_keyed(pieces, self.output_dir, lambda p: f"s{self.index:05d}-p{p:04d}",
                            self.step)


@dataclass
class ReduceTask(Task):
    """Global stage, phase 2: one partition's pieces (in shard order) into per-shard decisions."""

    inputs: list[InputShard] = field(default_factory=list)
    stage: GlobalStage = None
    output_dir: str = ""

    def run(self) -> tuple[list[dict], dict[str, StageStats]]:
        pieces = self.stage.reduce(self.index, (_read_whole(i.path) for i in self.inputs))
        return _write_keyed(pieces, self.output_dir, lambda s: f"p{self.index:04d}-s{s:05d}",
                            self.step)


@dataclass
class PhaseTask(Task):
    """Global stage, one of its own phases between reduce and apply (``GlobalStage.next_phase``):
    pieces of earlier phases, each tagged with the phase that wrote it, into keyed pieces; the
    counts the stage reports go into the record (``counts``)."""

    inputs: list[tuple[str, InputShard]] = field(default_factory=list)
    stage: GlobalStage = None
    output_dir: str = ""
    _counts: Counter = field(default_factory=Counter, repr=False)

    def run(self) -> tuple[list[dict], dict[str, StageStats]]:
        self._counts.clear()
        pieces = self.stage.run_phase(
            self.phase, self.index,
            ((phase, i.key, _read_whole(i.path)) for phase, i in self.inputs), self._counts)
        return _write_keyed(pieces, self.output_dir, lambda k: f"t{self.index:04d}-k{k:05d}",
                            self.step)

    def counts(self) -> dict[str, int]:
        return dict(self._counts)


@dataclass
class ApplyTask(Task):
    """Global stage, phase 3: one shard with its decisions applied, written like a map output."""
    input: InputShard = None
    decisions: list[InputShard] = field(default_factory=list)
    stage: GlobalStage = None
    output_dir: str = ""
    seed: int = 0
    max_shard_bytes: int = 512 << 20

    def run(self) -> tuple[list[dict], dict[str, StageStats]]:
        stats = StageStats()
        tables = [_read_whole(d.path) for d in self.decisions]
        decisions = pa.concat_tables(tables) if tables else None
        writer = ShardWriter(self.output_dir, f"part-{self.index:05d}", self.max_shard_bytes)
        offset = 0
        try:
            for batch in self.input.batches():
                ctx = BatchContext(self.seed, self.index, stats)
                out = _tracked(stats, batch, lambda b: self.stage.apply(b, offset, decisions, ctx))  # noqa: B023
                offset += batch.num_rows
                writer.write(out)
            files = [f.to_dict() for f in writer.close()]
        except BaseException:
            writer.abort()
            raise
        return files, {self.step: stats}
