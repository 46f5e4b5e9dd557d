"""The pipeline users build: a ``Dag`` (core/dag.py) that can also compile, show and run
itself. It sits above the plan and the runner, which know only ``Dag`` and ``Plan``:

    p = Pipeline("web", workdir="runs/web")
    p.sink(p.source(read("data/*.jsonl.zst")) >> DocumentLength() >> ExactDedup(), "out/web")
    print(p.describe())
    p.run("ray")  # the same as curation.run(p, "ray")
"""

from __future__ import annotations

from curation.core.dag import Dag
from curation.core.executors import Executor
from curation.core.plan import Plan, compile_plan
from curation.core.runner import RunResult, run


class Pipeline(Dag):
    """A DAG of stages with a work dir and a seed (see ``Dag``), plus ``plan``, ``describe`` and
    ``run``."""

    def plan(self, workdir: str | None = None) -> Plan:
        """The compiled plan: every step a run executes, with its stages and columns."""
        return compile_plan(self, workdir)

    def describe(self) -> str:
        """The DAG as text: one line per node in execution order, then the steps."""
        nodes = self.validate()
        cols = self.columns([n.name for n in nodes])
        lines = [f"pipeline '{self.name}'  workdir={self.workdir}  seed={self.seed}"]
        if self.inputs:
            lines.append("inputs (built when a run starts, in this order):")
            lines += [f"  {i.describe()}" for i in self.inputs.values()]
        lines.append("nodes:")
        for node in nodes:
            src = f" <- {', '.join(node.inputs)}" if node.inputs else ""
            if node.kind == "source":
                what = f"read {node.reader.paths!r}"
            elif node.kind == "sink":
                what = f"write {node.path}"
            elif node.kind == "union":
                what = "union"
            else:
                added = node.stage.output_names()
                what = type(node.stage).__name__ + (f"  adds {', '.join(added)}" if added else "")
            lines.append(f"  [{node.kind:6}] {node.name:24} {what}{src}")
        lines.append(f"output columns: {', '.join(cols[nodes[-1].name])}")
        lines.append("steps (each a set of independent shard tasks):")
        lines += [f"  {line}" for line in self.plan().describe()]
        return "\n".join(lines)

    def run(self, executor: str | Executor = "local", **options) -> RunResult:
        """``curation.run(self, executor, ...)``: see ``curation.core.runner.run``."""
        return run(self, executor=executor, **options)
