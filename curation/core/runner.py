"""The driver: runs a plan's steps in order, skipping tasks already complete. It takes a
``Plan`` (core/plan.py) and nothing else; ``run`` compiles a DAG's plan when given one.

It writes into the work dir through ``WorkDir`` (core/workdir.py, which shows the layout):
the run file (what each step runs, and each phase's task total as it starts) before every
phase, stats at the end; and each sink's ``manifest.json`` (core/manifest.py).
"""

from __future__ import annotations

import contextlib
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace

from tqdm import tqdm

from curation.core import fs
from curation.core.dag import Dag
from curation.core.errors import CurationError
from curation.core.executors import Executor, make_executor
from curation.core.hashing import fingerprint
from curation.core.manifest import write_manifest
from curation.core.plan import GlobalStep, MapStep, Plan, UnionStep, compile_plan
from curation.core.stage import PhaseSummary, Stage
from curation.core.stats import StageStats
from curation.core.tasks import (
    ApplyTask,
    InputShard,
    PhaseTask,
    ReduceTask,
    ScanTask,
    SegmentTask,
    Task,
    is_complete,
)
from curation.core.workdir import WorkDir

OUTPUT_NAME = re.compile(r"^(part-\d{5}|s\d{5}-p\d{4}|p\d{4}-s\d{5}|t\d{4}-k\d{5})-\d{3}\.parquet$")


@dataclass
class RunResult:
    workdir: str
    stats: dict[str, StageStats]
    outputs: dict[str, list[str]]  # sink name -> Parquet files
    ran: int  # tasks executed in this run
    skipped: int  # tasks found complete
    seconds: float
    tokens: dict[str, int] = field(default_factory=dict)  # sink name -> tokens, if tokenized

    def summary(self) -> str:
        return format_summary(self)


class Runner:
    def __init__(self, plan: Plan, executor: Executor, progress: bool = True):
        self.plan, self.executor, self.progress = plan, executor, progress
        self.workdir = WorkDir(plan.workdir)
        self.datasets: dict[str, list[InputShard]] = {}
        self.records: dict[str, list[dict]] = {}  # step -> records of all its phases
        self.ran = self.skipped = 0
        self.status: dict = {}

    # -- bookkeeping -------------------------------------------------------------------------
    def _remove_stale_records(self, step: str, phase: str, n_tasks: int) -> None:
        """Remove the completion records of tasks ``>= n_tasks`` of this phase: an earlier run
        with more shards or partitions wrote them, and status and reports would count them."""
        for index in self.workdir.task_indices(step, phase):
            if index >= n_tasks:
                fs.remove(self.workdir.record_path(step, phase, index))

    def _write_status(self) -> None:
        self.workdir.write_run(self.status)

    def _run_phase(self, step: str, phase: str, tasks: list[Task]) -> list[dict]:
        self.status["steps"][step]["phases"][phase] = len(tasks)
        self._write_status()
        self._remove_stale_records(step, phase, len(tasks))
        done = {i: r for i, t in enumerate(tasks) if (r := is_complete(t)) is not None}
        todo = [t for i, t in enumerate(tasks) if i not in done]
        self.skipped += len(done)
        bar = tqdm(
            total=len(tasks),
            initial=len(done),
            desc=f"{step}:{phase}",
            unit="task",
            disable=not self.progress,
            file=sys.stderr,
            leave=True,
        )
        try:
            fresh = self.executor.run(todo, lambda _r: bar.update(1))
        finally:
            bar.close()
        self.ran += len(todo)
        new = iter(fresh)
        records = [done[i] if i in done else next(new) for i in range(len(tasks))]
        self.records.setdefault(step, []).extend(records)
        return records

    # -- steps -------------------------------------------------------------------------------
    def run(self) -> None:
        for declared in self.plan.inputs:
            declared.prepare()
        self.status = {**self.plan.to_dict(), "state": "running"}
        for stage in self.plan.stages():
            stage.ship(self.workdir.artifacts_dir)
        for step in self.plan.steps:
            if isinstance(step, UnionStep):  # a union reads only the columns all inputs share
                self.datasets[step.name] = [replace(s, columns=step.columns)
                                            for i in step.inputs for s in self.datasets[i]]
                continue
            if isinstance(step, MapStep):
                records = self._run_phase(step.name, "map", self._segment_tasks(step))
            else:
                records = self._run_global(step)
            self.datasets[step.name] = _shards(records)
            _remove_stale(step.output, records)
            for node in step.nodes():
                _remove_stale(self.workdir.rejects_dir(node), records)
                for output in self.workdir.side_outputs(node):
                    _remove_stale(self.workdir.side_dir(node, output), records)

    def _task(self, cls: type[Task], step: str, phase: str, index: int, identity: dict,
              label: str, **fields) -> Task:
        """A task of ``cls`` whose fingerprint covers ``identity`` (config, seed, inputs)."""
        return cls(step, phase, index, fingerprint(identity),
                   self.workdir.record_path(step, phase, index), label, **fields)

    def _segment_tasks(self, step: MapStep) -> list[Task]:
        common = {"stages": [(n, s.identity()) for n, s in step.stages], "seed": self.plan.seed,
                  "max": self.plan.max_shard_bytes, "output": step.output}
        if step.reader is not None:
            common["reader"] = step.reader.config()
            identities = [fs.file_identity(path) for path in step.reader.files()]
            inputs = [InputShard(f["path"], fingerprint(f), bytes=f["size"]) for f in identities]
        else:
            inputs = self.datasets[step.input]
        return [
            self._task(SegmentTask, step.name, "map", i, {**common, "input": shard.identity},
                       shard.path, input=shard, reader=step.reader,
                       source_node=step.source_node, stages=step.stages,
                       output_dir=step.output, workdir=self.workdir, seed=self.plan.seed,
                       max_shard_bytes=self.plan.max_shard_bytes,
                       resources=_needs([s for _, s in step.stages], "map", [shard]))
            for i, shard in enumerate(inputs)
        ]

    def _run_global(self, step: GlobalStep) -> list[dict]:
        """Scan every shard, reduce every partition, merge if the stage asks, apply to every
        shard."""
        stage, name = step.stage, step.name
        base = {"stage": stage.identity(), "seed": self.plan.seed}
        scratch = self.workdir.scratch_dir
        shards = self.datasets[step.input]
        scan = self._run_phase(name, "scan", [
            self._task(ScanTask, name, "scan", i, {**base, "scan": s.identity}, s.path,
                       input=s, stage=stage, output_dir=scratch(name, "scan"),
                       resources=_needs([stage], "scan", [s]))
            for i, s in enumerate(shards)
        ])
        scan_fp, pieces = fingerprint([r["fingerprint"] for r in scan]), _shards(scan)
        reduce = self._run_phase(name, "reduce", [
            self._task(ReduceTask, name, "reduce", p, {**base, "reduce": p, "in": scan_fp},
                       f"partition {p}", inputs=(mine := [x for x in pieces if x.key == p]),
                       stage=stage, output_dir=scratch(name, "reduce"),
                       resources=_needs([stage], "reduce", mine))
            for p in range(stage.partitions)
        ])
        decisions_fp, decisions = self._run_own_phases(step, base, reduce)
        apply_base = {**base, "decisions": decisions_fp, "max": self.plan.max_shard_bytes,
                      "output": step.output}
        apply = self._run_phase(name, "apply", [
            self._task(ApplyTask, name, "apply", i, {**apply_base, "apply": s.identity}, s.path,
                       input=s, decisions=(mine := [d for d in decisions if d.key == i]),
                       stage=stage, output_dir=step.output, seed=self.plan.seed,
                       max_shard_bytes=self.plan.max_shard_bytes,
                       resources=_needs([stage], "apply", [s, *mine]))
            for i, s in enumerate(shards)
        ])
        for sub, records in (("scan", scan), ("reduce", reduce)):
            _remove_stale(scratch(name, sub), records)
        return apply

    def _run_own_phases(self, step: GlobalStep, base: dict,
                        reduce: list[dict]) -> tuple[str, list[InputShard]]:
        """Run the phases the stage asks for after reduce (``GlobalStage.next_phase``), each
        fingerprinted on the phases it reads; the fingerprint and pieces of the last one (or of
        reduce), which are the per-shard decisions."""
        stage, name = step.stage, step.name
        ran = {"reduce": reduce}
        summaries = {"reduce": _summary(reduce)}
        done = "reduce"
        while (phase := stage.next_phase(done, summaries)) is not None:
            if phase.name in ran or not set(phase.reads) <= set(ran):
                raise CurationError(f"{name}: phase {phase.name!r} after {done!r} runs twice or "
                                    f"reads a phase not run yet ({list(phase.reads)})")
            self.status["steps"][name]["planned_phases"] = ["scan", *ran, phase.name, "apply"]
            reads = {p: fingerprint([r["fingerprint"] for r in ran[p]]) for p in phase.reads}
            pieces = [(p, piece) for p in phase.reads for piece in _shards(ran[p])]
            groups = ([pieces] if phase.gather else
                      [[x for x in pieces if x[1].key % stage.partitions == i]
                       for i in range(stage.partitions)])
            output_dir = self.workdir.scratch_dir(name, phase.name)
            ran[phase.name] = self._run_phase(name, phase.name, [
                self._task(PhaseTask, name, phase.name, i,
                           {**base, "phase": phase.name, "task": i, "in": reads},
                           f"{phase.name} {i}", inputs=mine, stage=stage, output_dir=output_dir,
                           resources=_needs([stage], phase.name, [x for _, x in mine]))
                for i, mine in enumerate(groups)
            ])
            _remove_stale(output_dir, ran[phase.name])
            done = phase.name
            summaries[done] = _summary(ran[done])
        return fingerprint([r["fingerprint"] for r in ran[done]]), _shards(ran[done])

    # -- results -----------------------------------------------------------------------------
    def stats(self) -> dict[str, StageStats]:
        out: dict[str, StageStats] = {}
        for node in self.plan.stat_nodes:
            total = StageStats()
            for records in self.records.values():
                for r in records:
                    if node in r["stats"]:
                        total.merge(StageStats.from_dict(r["stats"][node]))
            out[node] = total
        return out


def _needs(stages: list[Stage], phase: str, inputs: list[InputShard]) -> dict[str, float]:
    """What a task running ``stages`` (one, or a fused chain) over ``inputs`` asks of its
    worker: the most any of them asks, resource by resource."""
    size = sum(i.bytes or 0 for i in inputs)
    out: dict[str, float] = {}
    for stage in stages:
        for key, value in stage.resources(phase, size).items():
            out[key] = max(out.get(key, 0), value)
    return out


def _summary(records: list[dict]) -> PhaseSummary:
    """What a phase's tasks wrote (bytes, side outputs left out) and counted."""
    counts: Counter = Counter()
    for r in records:
        counts.update(r.get("counts", {}))
    return PhaseSummary(len(records), sum(s.bytes or 0 for s in _shards(records)), dict(counts))


def _shards(records: list[dict]) -> list[InputShard]:
    """The Parquet outputs of records, in task order (side outputs left out)."""
    return [
        InputShard(o["path"], o["checksum"], o.get("key"), bytes=o.get("bytes"))
        for r in records
        for o in r["outputs"]
        if "side" not in o
    ]


def _remove_stale(directory: str, records: list[dict]) -> None:
    """Remove our output files in ``directory`` that no current record lists (an earlier run's)."""
    keep = {fs.join(directory, n) for n in fs.list_dir(directory)} & {
        o["path"] for r in records for o in r["outputs"]
    }
    for name in fs.list_dir(directory):
        path = fs.join(directory, name)
        if (OUTPUT_NAME.match(name) or name.startswith(fs.TMP_PREFIX)) and path not in keep:
            fs.remove(path)


def run(
    target: Dag | Plan,
    executor: str | Executor = "local",
    workdir: str | None = None,
    progress: bool = True,
    **executor_options,
) -> RunResult:
    """Run a pipeline (its plan is compiled here) or a compiled ``Plan``; tasks complete from an
    earlier run with the same config are skipped. ``workdir`` overrides a pipeline's work dir;
    a plan already has its own (compile it with the one you want)."""
    if isinstance(target, Plan):
        if workdir is not None and workdir != target.workdir:
            raise CurationError(f"this plan writes to {target.workdir}, not {workdir}: pass the "
                                "work dir to compile_plan")
        plan = target
    else:
        plan = compile_plan(target, workdir)
    own = not isinstance(executor, Executor)
    ex = make_executor(executor, **executor_options) if own else executor
    try:
        ex.check_storage(plan.paths())
    except BaseException:
        if own:
            ex.close()
        raise
    runner = Runner(plan, ex, progress)
    start = time.perf_counter()
    try:
        runner.run()
    except BaseException:
        if runner.status:
            runner.status["state"] = "failed"
            with contextlib.suppress(OSError):  # a full disk must not hide the task's error
                runner._write_status()
        raise
    finally:
        if own:
            ex.close()
    seconds = time.perf_counter() - start
    stats = runner.stats()
    for name, s in stats.items():
        fs.write_json(runner.workdir.stage_stats_path(name), s.to_dict())
    outputs = {sink: [s.path for s in runner.datasets[plan.step_of[sink]]] for sink in plan.sinks}
    tokens = {}
    for sink, path in plan.sinks.items():
        manifest = write_manifest(
            path, [(s.path, s.identity) for s in runner.datasets[plan.step_of[sink]]])
        tokens[sink] = manifest["totals"]["tokens"]
    result = RunResult(plan.workdir, stats, outputs, runner.ran, runner.skipped, seconds, tokens)
    summary = {
        "pipeline": plan.name,
        "executor": ex.name,
        "seconds": round(seconds, 3),
        "tasks_run": runner.ran,
        "tasks_skipped": runner.skipped,
        "outputs": outputs,
        "stages": {n: s.summary() for n, s in stats.items()},
    }
    runner.workdir.write_stats(summary)
    runner.status["state"] = "finished"
    runner._write_status()
    return result


def format_summary(result: RunResult) -> str:
    head = (
        f"{'stage':24} {'docs in':>10} {'docs out':>10} {'MB in':>9} {'MB out':>9} "
        f"{'seconds':>8} {'docs/s':>9} {'MB/s':>7}  dropped / quarantined"
    )
    lines = [head, "-" * len(head)]
    for name, s in result.stats.items():
        why = ", ".join(
            f"{k}={v:,}"
            for k, v in list(s.dropped.items()) + [(f"q:{k}", v) for k, v in s.quarantined.items()]
        )
        lines.append(
            f"{name:24} {s.docs_in:>10,} {s.docs_out:>10,} {s.bytes_in / 1e6:>9.2f} "
            f"{s.bytes_out / 1e6:>9.2f} {s.seconds:>8.2f} {s.docs_per_s:>9,.0f} "
            f"{s.mb_per_s:>7.2f}  {why}"
        )
    lines.append("")
    lines.append(
        f"{result.ran} tasks run, {result.skipped} already complete, "
        f"{result.seconds:.1f} s; stats in {WorkDir(result.workdir).stats_path}"
    )
    for sink, files in result.outputs.items():
        where = sorted({f.rsplit("/", 1)[0] for f in files}) or ["(no documents)"]
        tokens = result.tokens.get(sink)
        counted = f", {tokens:,} tokens" if tokens else ""
        lines.append(f"output '{sink}': {len(files)} Parquet file(s){counted} in "
                     f"{', '.join(where)} (manifest.json beside them)")
    return "\n".join(lines)
