"""The layout of a work dir: every path in it, and the readers of what a run recorded there.

No other module names a file or folder of a work dir; they ask a ``WorkDir``. Paths go through
``curation.core.fs``, so a work dir can be local or on object storage (``s3://...``)::

    <workdir>/
      _run.json                      the run: pipeline, state, layout version, and per step its
                                     kind, nodes, stages (class, version, base classes), planned
                                     phases and the task total of each phase started
      _tasks/<step>/<phase>-<i>.json completion record of task i of a phase (tasks.execute):
                                     fingerprint, input, outputs with checksums, stats per node
      <step>/part-<shard>-<k>.parquet  a step's output dataset (unless it writes into a sink)
      _global/<step>/<phase>/        partial results of a global stage (scan, reduce and the
                                     stage's own phases: merge, component rounds...)
      _quarantine/<step>/part-<i>.jsonl  bad input rows of map task i, with the reason
      _rejects/<node>/               documents a stage dropped, when it keeps its rejects
      _side/<node>/<output>/         side outputs a stage emits (decontamination matches...)
      _artifacts/<digest>/           files stages read on workers, by content (core/artifacts.py)
      _stats/<node>.json             stats of one node over the whole run
      stats.json                     the finished run: stats of every node, outputs per sink
      <report>                       what a report command writes here (decon_report.jsonl)

A step's name is the name of its last node; a global step has one node, named like the step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson

from curation.core import fs
from curation.core.errors import CurationError
from curation.core.stage import Stage

# Version of what _run.json holds. 1: no "layout" field, steps without their stages.
LAYOUT = 2


def qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def stage_entry(stage: Stage) -> dict:
    """What ``_run.json`` records of a stage: its class, version and Stage base classes (so a
    report recognises a subclass of the stage it reads)."""
    return {"class": qualified_name(type(stage)), "version": stage.version,
            "bases": [qualified_name(c) for c in type(stage).__mro__[1:]
                      if issubclass(c, Stage)]}


def read_record(path: str) -> dict | None:
    """A completion record, or None if it is missing or unreadable (a torn write)."""
    try:
        return orjson.loads(fs.read_bytes(path))
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None


@dataclass(frozen=True)
class WorkDir:
    """The work dir at ``root`` (a local path or a URI)."""

    root: str

    # -- paths -----------------------------------------------------------------------------
    @property
    def run_path(self) -> str:
        return fs.join(self.root, "_run.json")

    @property
    def stats_path(self) -> str:
        return fs.join(self.root, "stats.json")

    def stage_stats_path(self, node: str) -> str:
        return fs.join(self.root, "_stats", f"{node}.json")

    def dataset_dir(self, step: str) -> str:
        return fs.join(self.root, step)

    def records_dir(self, step: str) -> str:
        return fs.join(self.root, "_tasks", step)

    def record_path(self, step: str, phase: str, index: int) -> str:
        return fs.join(self.records_dir(step), f"{phase}-{index:05d}.json")

    def scratch_dir(self, step: str, phase: str | None = None) -> str:
        return fs.join(self.root, "_global", step, *([phase] if phase else []))

    def quarantine_path(self, step: str, index: int) -> str:
        return fs.join(self.root, "_quarantine", step, f"part-{index:05d}.jsonl")

    def rejects_dir(self, node: str) -> str:
        return fs.join(self.root, "_rejects", node)

    def side_dir(self, node: str, output: str | None = None) -> str:
        return fs.join(self.root, "_side", node, *([output] if output else []))

    @property
    def artifacts_dir(self) -> str:
        return fs.join(self.root, "_artifacts")

    def report_path(self, name: str) -> str:
        return fs.join(self.root, name)

    # -- listings --------------------------------------------------------------------------
    def side_outputs(self, node: str) -> list[str]:
        """Names of the side outputs ``node`` has written, sorted."""
        return fs.list_dir(self.side_dir(node), directories=True)

    def side_files(self, node: str, output: str) -> list[str]:
        """The Parquet shards of side output ``output`` of ``node``, sorted."""
        return _parquet_files(self.side_dir(node, output))

    def reject_files(self, node: str) -> list[str]:
        """The Parquet shards of the documents ``node`` dropped and kept, sorted."""
        return _parquet_files(self.rejects_dir(node))

    def task_indices(self, step: str, phase: str) -> list[int]:
        """Indices of the ``phase`` tasks of ``step`` that have a completion record, sorted."""
        name = re.compile(rf"{re.escape(phase)}-(\d{{5}})\.json")
        return [int(m[1]) for n in fs.list_dir(self.records_dir(step))
                if (m := name.fullmatch(n))]

    # -- the run file ----------------------------------------------------------------------
    def write_run(self, run: dict) -> None:
        fs.write_json(self.run_path, run)

    def started(self) -> bool:
        """Whether a run has started here (it writes ``_run.json`` before its first task)."""
        return fs.exists(self.run_path)

    def read_run(self) -> dict:
        if not self.started():
            raise CurationError(f"{self.root}: no run has started here (no _run.json)")
        return orjson.loads(fs.read_bytes(self.run_path))

    def steps(self) -> dict[str, dict]:
        """The recorded steps in plan order, with their stages (see the module docstring).

        A ``_run.json`` of an older layout does not say which stage each step ran: that is an
        error asking for a rerun, which records it and recomputes nothing already complete."""
        run = self.read_run()
        if run.get("layout", 1) < LAYOUT:
            raise CurationError(
                f"{self.run_path} was written before runs recorded their stages (layout "
                f"{run.get('layout', 1)}, need {LAYOUT}): run the pipeline again with this "
                "work dir (complete tasks are skipped) to record them")
        return run["steps"]

    def stages_of(self, cls: type[Stage]) -> list[tuple[str, str]]:
        """``(step, node)`` of every node whose stage is a ``cls``, in plan order."""
        name = qualified_name(cls)
        return [(step, node) for step, info in self.steps().items()
                for node, stage in info["stages"].items()
                if name == stage["class"] or name in stage["bases"]]

    # -- completion records ----------------------------------------------------------------
    def records(self, step: str, phase: str) -> list[dict]:
        """The completion records of the last run's ``phase`` tasks of ``step``, by index.

        A rerun with fewer shards or partitions than an earlier run in this work dir removes
        the earlier run's extra records; should one be left (a killed driver), ``_run.json``'s
        task total of the phase still excludes it."""
        total = self.read_run()["steps"].get(step, {}).get("phases", {}).get(phase, 0)
        out = []
        for index in self.task_indices(step, phase):
            if index < total:
                record = read_record(self.record_path(step, phase, index))
                if record is None:
                    raise CurationError(f"{self.record_path(step, phase, index)}: unreadable")
                out.append(record)
        return out

    # -- stats -----------------------------------------------------------------------------
    def write_stats(self, summary: dict) -> None:
        fs.write_json(self.stats_path, summary)

    def read_stats(self) -> dict:
        """``stats.json``: a CurationError if the run has not finished here."""
        if not fs.exists(self.stats_path):
            raise CurationError(
                f"{self.root}: no stats.json; is it the work dir of a finished run?")
        return orjson.loads(fs.read_bytes(self.stats_path))


def _parquet_files(directory: str) -> list[str]:
    """Finished Parquet files in ``directory`` (not a writer's hidden temporary file)."""
    return [fs.join(directory, n) for n in fs.list_dir(directory)
            if n.endswith(".parquet") and not n.startswith(".")]
