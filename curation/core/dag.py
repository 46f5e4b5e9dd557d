"""The pipeline DAG: sources, map and global stages, unions and sinks, wired in Python. ``Dag``
builds and validates it and knows nothing of running it (``curation.core.pipeline.Pipeline``,
the class users build, adds ``plan``, ``describe`` and ``run`` on top).

    p = Pipeline("web", workdir="runs/web")
    docs = p.source(read("data/*.jsonl.zst", source="cc"))
    p.sink(docs >> DocumentLength(min_chars=200) >> ExactDedup(), "out/web")

Nodes refer to their inputs by name, so a DAG can also be wired by names (``p.add(stage,
inputs=["docs"])``). ``validate()`` checks names, arity, cycles and columns before anything runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from curation.core.errors import PipelineValidationError
from curation.core.inputs import Input
from curation.core.readers import Reader
from curation.core.stage import SAFE_NAME, GlobalStage, MapStage, Stage

Kind = Literal["source", "map", "global", "union", "sink"]


@dataclass
class Node:
    """One node of the DAG. ``inputs`` are node names, resolved when the DAG is validated."""

    dag: Dag = field(repr=False)
    name: str
    kind: Kind
    inputs: list[str]
    stage: Stage | None = None
    reader: Reader | None = None
    path: str | None = None  # sinks: where the output goes

    def __rshift__(self, stage: Stage) -> Node:
        return self.dag.add(stage, inputs=[self])


class Dag:
    """A DAG of stages with a work dir (intermediate data, completion records, stats) and a seed."""

    def __init__(self, name: str, workdir: str, seed: int = 0, max_shard_bytes: int = 512 << 20):
        self.name, self.workdir, self.seed = name, workdir, seed
        self.max_shard_bytes = max_shard_bytes
        self.nodes: dict[str, Node] = {}
        self.inputs: dict[str, Input] = {}
        self._problems: list[str] = []

    # -- building ----------------------------------------------------------------------------
    def _name(self, explicit: str | None, default: str) -> str:
        if explicit is not None:
            if explicit in self.nodes:
                self._problems.append(f"duplicate node name '{explicit}'")
                return f"{explicit}#{len(self.nodes)}"
            return explicit
        name, k = default, 2
        while name in self.nodes:
            name, k = f"{default}_{k}", k + 1
        return name

    def _add(self, node: Node) -> Node:
        self.nodes[node.name] = node
        return node

    def input(self, name: str, path: str, build: Callable[[str], object] | None = None,
              help: str = "") -> str:
        """Declare a file or directory the pipeline reads, made by ``build(path)`` when a run
        starts (never now); returns ``path``. See ``curation.core.inputs``."""
        if name in self.inputs and self.inputs[name].path != path:
            self._problems.append(f"input '{name}' declared twice with different paths")
        self.inputs[name] = Input(name, path, build, help)
        return path

    def source(self, reader: Reader, name: str | None = None) -> Node:
        """A node reading documents; each matched file is one shard."""
        if not isinstance(reader, Reader):
            raise TypeError(f"source() takes a Reader (see curation.read), not {type(reader)}")
        name = self._name(name, reader.source or "source")
        return self._add(Node(self, name, "source", [], reader=reader))

    def add(self, stage: Stage, inputs: list[Node | str], name: str | None = None) -> Node:
        """A map or global stage fed by ``inputs`` (one node, or its name)."""
        if isinstance(stage, MapStage):
            kind: Kind = "map"
        elif isinstance(stage, GlobalStage):
            kind = "global"
        else:
            raise TypeError(f"{stage!r} is not a MapStage or GlobalStage")
        name = self._name(name or stage.name, stage.default_name())
        return self._add(Node(self, name, kind, _names(inputs), stage=stage))

    def union(self, *inputs: Node | str, name: str | None = None) -> Node:
        """Several nodes' documents as one dataset (shards concatenated in argument order)."""
        return self._add(Node(self, self._name(name, "union"), "union", _names(inputs)))

    def sink(self, node: Node | str, path: str, name: str | None = None) -> Node:
        """Write ``node``'s documents as Parquet shards under ``path``."""
        return self._add(Node(self, self._name(name, "sink"), "sink", _names([node]), path=path))

    # -- checking ----------------------------------------------------------------------------
    def consumers(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for node in self.nodes.values():
            for i in node.inputs:
                out[i].append(node.name)
        return out

    def validate(self) -> list[Node]:
        """Nodes in execution order, or ``PipelineValidationError`` listing every problem."""
        problems = list(self._problems)
        arity = {
            "source": (0, 0),
            "map": (1, 1),
            "global": (1, 1),
            "sink": (1, 1),
            "union": (2, None),
        }
        for node in self.nodes.values():
            if not SAFE_NAME.fullmatch(node.name):
                problems.append(
                    f"node name {node.name!r} is not a safe file name: use letters, digits and "
                    "'_', '-', '.' (not first), at most 128 characters; pass name=... to "
                    f"{'source()' if node.kind == 'source' else 'the node'}")
            for i in node.inputs:
                if i not in self.nodes:
                    problems.append(f"'{node.name}' reads from '{i}', which is not a node")
            lo, hi = arity[node.kind]
            n = len(node.inputs)
            if n < lo or (hi is not None and n > hi):
                problems.append(f"{node.kind} node '{node.name}' has {n} inputs")
            if node.kind == "sink" and any(
                self.nodes.get(i) is not None and self.nodes[i].kind == "sink" for i in node.inputs
            ):
                problems.append(f"sink '{node.name}' reads from another sink")
        order, cycle = self._topological_order()
        if cycle:
            problems.append("cycle: " + " -> ".join(cycle))
        if not any(n.kind == "sink" for n in self.nodes.values()):
            problems.append("the pipeline has no sink (use pipeline.sink(node, path))")
        if not problems:
            problems += self._check_reachable() + self._check_columns(order)
        if problems:
            raise PipelineValidationError(problems)
        return [self.nodes[n] for n in order]

    def _topological_order(self) -> tuple[list[str], list[str]]:
        """Kahn's algorithm, ties broken by insertion order; a found cycle is returned too."""
        indeg = {
            n: sum(1 for i in node.inputs if i in self.nodes) for n, node in self.nodes.items()
        }
        consumers = self.consumers()
        ready = [n for n in self.nodes if indeg[n] == 0]
        order: list[str] = []
        while ready:
            n = ready.pop(0)
            order.append(n)
            for c in consumers.get(n, []):
                indeg[c] -= 1
                if indeg[c] == 0:
                    ready.append(c)
        if len(order) == len(self.nodes):
            return order, []
        # walk back along unresolved inputs until a node repeats: that loop is a cycle
        node = next(n for n in self.nodes if indeg[n] > 0)
        path: list[str] = []
        while node not in path:
            path.append(node)
            node = next(i for i in self.nodes[node].inputs if i in self.nodes and indeg[i] > 0)
        loop = path[path.index(node) :] + [node]
        return order, list(reversed(loop))

    def _check_reachable(self) -> list[str]:
        useful, todo = set(), [n for n, node in self.nodes.items() if node.kind == "sink"]
        while todo:
            n = todo.pop()
            if n not in useful:
                useful.add(n)
                todo.extend(self.nodes[n].inputs)
        dangling = [n for n in self.nodes if n not in useful]
        return [f"nodes leading to no sink: {', '.join(dangling)}"] if dangling else []

    def columns(self, order: list[str] | None = None) -> dict[str, list[str]]:
        """Columns of each node's output (assuming a valid DAG)."""
        cols: dict[str, list[str]] = {}
        for n in order or self._topological_order()[0]:
            node = self.nodes[n]
            if node.kind == "source":
                cols[n] = node.reader.output_columns()
            elif node.kind == "union":
                first = cols[node.inputs[0]]
                cols[n] = [c for c in first if all(c in cols[i] for i in node.inputs[1:])]
            elif node.kind == "sink":
                cols[n] = list(cols[node.inputs[0]])
            else:
                cols[n] = node.stage.columns_after(cols[node.inputs[0]])
        return cols

    def _check_columns(self, order: list[str]) -> list[str]:
        cols = self.columns(order)
        problems = []
        for n in order:
            node = self.nodes[n]
            if node.stage is None:
                continue
            have = cols[node.inputs[0]]
            for c in node.stage.requires:
                if c not in have:
                    problems.append(
                        f"'{n}' needs column '{c}', which its input '{node.inputs[0]}' lacks "
                        f"(it has: {', '.join(have)})"
                    )
        return problems


def _names(nodes) -> list[str]:
    return [n.name if isinstance(n, Node) else n for n in nodes]
