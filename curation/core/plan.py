"""From a validated DAG to a ``Plan``: everything a run needs (name, work dir, seed, the steps
with their stages and columns), which the runner executes one step after another and records
in the work dir's run file.

- a ``MapStep`` fuses a chain of map stages (from a source, or from a materialised dataset)
  into one task per input shard, so a filter chain reads and writes each shard once;
- a ``GlobalStep`` runs a global stage's scan, reduce, own (``GlobalStage.next_phase``) and
  apply phases;
- a ``UnionStep`` concatenates the shard lists of its inputs (no task, no copy).

A node's output is materialised (written as Parquet shards) where it feeds a global stage, a
union, more than one node, or a sink; a step feeding only a sink writes straight into the
sink's path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from curation.core.dag import Dag, Node
from curation.core.inputs import Input
from curation.core.readers import Reader
from curation.core.stage import GlobalStage, MapStage
from curation.core.workdir import LAYOUT, WorkDir, stage_entry


@dataclass
class MapStep:
    name: str
    output: str
    reader: Reader | None = None
    source_node: str | None = None
    input: str | None = None
    stages: list[tuple[str, MapStage]] = field(default_factory=list)
    is_sink: bool = False

    kind = "segment"

    def nodes(self) -> list[str]:
        return ([self.source_node] if self.source_node else []) + [n for n, _ in self.stages]

    def phases(self) -> list[str]:
        return ["map"]

    def summary(self) -> str:
        start = f"read {self.source_node}" if self.reader else f"from {self.input}"
        chain = " -> ".join([start, *(n for n, _ in self.stages)])
        return f"{self.name}: {chain}  => {self.output}"


@dataclass
class GlobalStep:
    name: str
    output: str
    stage: GlobalStage
    input: str
    is_sink: bool = False

    kind = "global"

    def nodes(self) -> list[str]:
        return [self.name]

    def phases(self) -> list[str]:
        return ["scan", "reduce", *self.stage.planned_phases(), "apply"]

    def summary(self) -> str:
        own = "".join(f" -> {p}" for p in self.stage.planned_phases())
        return (f"{self.name}: {type(self.stage).__name__} over {self.input} "
                f"(scan -> reduce x{self.stage.partitions}{own} -> apply)  => {self.output}")


@dataclass
class UnionStep:
    name: str
    inputs: list[str]
    columns: tuple[str, ...] = ()  # the columns every input has: what the union reads

    kind = "union"
    is_sink = False

    def nodes(self) -> list[str]:
        return []

    def phases(self) -> list[str]:
        return []

    def summary(self) -> str:
        return f"{self.name}: union of {', '.join(self.inputs)}"


Step = MapStep | GlobalStep | UnionStep


@dataclass
class Plan:
    """Everything a run needs: the pipeline's ``name``, ``workdir``, ``seed`` and
    ``max_shard_bytes``, its ``steps`` in order, the step producing each node's output
    (``step_of``), the sinks' paths, the nodes a run reports stats for (``stat_nodes``, in
    execution order) and each node's output ``columns``."""

    name: str
    workdir: str
    seed: int
    max_shard_bytes: int
    steps: list[Step]
    step_of: dict[str, str]  # node name -> name of the step producing its output
    sinks: dict[str, str]  # sink node name -> output path
    stat_nodes: list[str]
    columns: dict[str, list[str]]
    inputs: list[Input] = field(default_factory=list)  # built before the first step

    def to_dict(self) -> dict:
        """What the run file records of the plan (each step's ``phases`` gets the task total
        of a phase as it starts)."""
        return {"pipeline": self.name, "layout": LAYOUT, "seed": self.seed,
                "max_shard_bytes": self.max_shard_bytes,
                "steps": {step.name: _step_entry(step, self.columns) for step in self.steps}}

    def paths(self) -> dict[str, str]:
        """Every place the run reads or writes, named: the work dir, each sink, each source's
        input patterns."""
        out = {"work dir": self.workdir}
        out |= {f"sink '{name}'": path for name, path in self.sinks.items()}
        for step in self.steps:
            if isinstance(step, MapStep) and step.reader is not None:
                patterns = step.reader.paths
                for i, path in enumerate([patterns] if isinstance(patterns, str) else patterns):
                    out[f"input {i} of source '{step.source_node}'"] = path
        return out

    def stages(self) -> list[MapStage | GlobalStage]:
        """Every stage the plan runs, in step order."""
        return [s for step in self.steps for s in (
            [stage for _, stage in step.stages] if isinstance(step, MapStep)
            else [step.stage] if isinstance(step, GlobalStep) else [])]

    def describe(self) -> list[str]:
        """One line per step."""
        return [f"{i}. {step.summary()}" for i, step in enumerate(self.steps, 1)]


def _step_entry(step: Step, columns: dict[str, list[str]]) -> dict:
    stages = (step.stages if isinstance(step, MapStep)
              else [(step.name, step.stage)] if isinstance(step, GlobalStep) else [])
    return {"kind": step.kind, "nodes": step.nodes(),
            "stages": {node: stage_entry(stage) for node, stage in stages},
            "columns": columns.get(step.name, []),
            "planned_phases": step.phases(), "phases": {}}


def compile_plan(dag: Dag, workdir: str | None = None) -> Plan:
    """The plan of a validated ``dag`` (``PipelineValidationError`` otherwise), writing its
    intermediate data under ``workdir`` (default: the DAG's)."""
    order = dag.validate()
    columns = dag.columns([n.name for n in order])
    consumers = dag.consumers()
    nodes = dag.nodes
    workdir = workdir or dag.workdir

    def ends_step(node: Node) -> bool:
        out = consumers.get(node.name, [])
        return len(out) != 1 or nodes[out[0]].kind != "map"

    def feeds_only_sink(node: Node) -> str | None:
        out = consumers.get(node.name, [])
        return nodes[out[0]].path if len(out) == 1 and nodes[out[0]].kind == "sink" else None

    def output_dir(node: Node, name: str) -> tuple[str, bool]:
        sink = feeds_only_sink(node)
        if sink is not None:
            return sink, True
        return WorkDir(workdir).dataset_dir(name), False

    steps: list[Step] = []
    step_of: dict[str, str] = {}
    open_segment: dict[str, MapStep] = {}  # node name -> segment still growing after it
    sinks: dict[str, str] = {}
    for node in order:
        if node.kind == "source":
            seg = MapStep(node.name, "", reader=node.reader, source_node=node.name)
            _grow(seg, node, steps, step_of, open_segment, ends_step, output_dir)
        elif node.kind == "map":
            (upstream,) = node.inputs
            seg = open_segment.pop(upstream, None)
            if seg is None:
                seg = MapStep(node.name, "", input=step_of[upstream])
            seg.stages.append((node.name, node.stage))
            _grow(seg, node, steps, step_of, open_segment, ends_step, output_dir)
        elif node.kind == "global":
            out, is_sink = output_dir(node, node.name)
            steps.append(GlobalStep(node.name, out, node.stage, step_of[node.inputs[0]], is_sink))
            step_of[node.name] = node.name
        elif node.kind == "union":
            steps.append(UnionStep(node.name, [step_of[i] for i in node.inputs],
                                   tuple(columns[node.name])))
            step_of[node.name] = node.name
        else:  # sink
            sinks[node.name] = node.path
            upstream = nodes[node.inputs[0]]
            if upstream.kind in ("union",) or len(consumers[upstream.name]) > 1:
                steps.append(
                    MapStep(node.name, node.path, input=step_of[upstream.name], is_sink=True)
                )
            step_of[node.name] = step_of[upstream.name] if feeds_only_sink(upstream) else node.name
    stat_nodes = [n.name for n in order if n.kind not in ("union", "sink")]
    return Plan(dag.name, workdir, dag.seed, dag.max_shard_bytes, steps, step_of, sinks,
                stat_nodes, columns, list(dag.inputs.values()))


def _grow(seg, node, steps, step_of, open_segment, ends_step, output_dir) -> None:
    """Either keep the segment open for the next map stage, or close it as a step."""
    if ends_step(node):
        seg.name = node.name
        seg.output, seg.is_sink = output_dir(node, node.name)
        steps.append(seg)
        for n in seg.nodes():
            step_of[n] = seg.name
    else:
        open_segment[node.name] = seg
