"""The dedup report of a work dir: what each deduplication stage removed, and what it was.

For every dedup step of a finished run (a step whose recorded stage is an ``ExactDedup``,
``MinHashDedup`` or ``SubstringDedup``, or a subclass of one):

- the **funnel**: documents and text bytes before and after, overall and per ``source``
  (read from the step's input and output shards, ``source`` and text lengths only);
- the **largest clusters** (exact and MinHash): size and the start of a few members' texts;
- the **most-removed substrings** (substring dedup): the removed spans grouped by content,
  by total bytes removed, with how often each was cut.

Memory: one shard's text column at a time, plus one entry per cluster or distinct span.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from curation.core import fs
from curation.core.commands import command_parser
from curation.core.workdir import WorkDir
from curation.dedup.exact import ExactDedup
from curation.dedup.minhash import MinHashDedup
from curation.dedup.substring import SubstringDedup

SAMPLE_CHARS = 160
KINDS = {ExactDedup: "exact", MinHashDedup: "minhash", SubstringDedup: "substring"}


def _dedup_steps(wd: WorkDir) -> list[tuple[str, str]]:
    """``(step, kind)`` of every dedup step, in plan order."""
    kind_of = {step: kind for cls, kind in KINDS.items() for step, _ in wd.stages_of(cls)}
    return [(step, kind_of[step]) for step in wd.steps() if step in kind_of]


def _decisions(wd: WorkDir, step: str) -> list[tuple[int, str]]:
    """The step's decision files (its last phase before apply) with the shard each is for;
    none where the step removed nothing."""
    phases = list(wd.steps()[step]["phases"])  # in the order they ran
    phase = phases[phases.index("apply") - 1]
    return sorted((o["key"], o["path"]) for r in wd.records(step, phase) for o in r["outputs"])


def _per_source(paths: list[str]) -> dict[str, list[int]]:
    """source -> [documents, text bytes] over Parquet shards."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for path in paths:
        with fs.open_input(path) as f:
            t = pq.read_table(f, columns=["source", "text"])
        sizes = pa.table({"source": t["source"], "n": pc.binary_length(t["text"])})
        grouped = sizes.group_by(["source"]).aggregate([([], "count_all"), ("n", "sum")])
        for source, docs, n in zip(*grouped.to_pydict().values(), strict=True):
            out[source][0] += docs
            out[source][1] += n or 0
    return dict(out)


class _Texts:
    """Texts of a step's input shards by (shard, row), one shard held at a time."""

    def __init__(self, inputs: dict[int, str]):
        self.inputs, self._shard, self._texts = inputs, None, []

    def get(self, shard: int, row: int) -> str:
        if shard != self._shard:
            with fs.open_input(self.inputs[shard]) as f:
                self._texts = pq.read_table(f, columns=["text"])["text"].to_pylist()
            self._shard = shard
        return self._texts[row]


def _clusters(kind: str, files: list[tuple[int, str]], texts: _Texts, top: int,
              samples: int) -> list[dict]:
    members: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for shard, path in files:
        with fs.open_input(path) as f:
            t = pq.read_table(f)
        key = "exact_dup_of" if kind == "exact" else "minhash_cluster"
        for row, cluster in zip(t["row"].to_pylist(), t[key].to_pylist(), strict=True):
            members[str(cluster)].append((shard, row))
    # exact decisions list only the removed copies: the keeper makes one more
    extra = 1 if kind == "exact" else 0
    largest = sorted(members.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:top]
    return [{"cluster": cluster, "size": len(rows) + extra,
             "samples": [texts.get(s, r)[:SAMPLE_CHARS] for s, r in rows[:samples]]}
            for cluster, rows in largest]


def _substrings(files: list[tuple[int, str]], texts: _Texts, top: int) -> list[dict]:
    removed: dict[int, list] = {}
    counts: Counter = Counter()
    for shard, path in files:
        with fs.open_input(path) as f:
            t = pq.read_table(f)
        if "first" in t.column_names:  # scope="corpus": runs of first copies are kept
            t = t.filter(pc.invert(t["first"]))
        for row, start, end in zip(t["row"].to_pylist(), t["start"].to_pylist(),
                                   t["end"].to_pylist(), strict=True):
            span = texts.get(shard, row).encode("utf-8")[start:end]
            h = xxhash.xxh3_64_intdigest(span)
            counts[h] += 1
            removed.setdefault(h, [span, 0])[1] += len(span)
    ranked = sorted(removed.items(), key=lambda kv: (-kv[1][1], kv[0]))[:top]
    return [{"bytes_removed": total, "times": counts[h], "length": len(span),
             "text": span.decode("utf-8", errors="replace")[:SAMPLE_CHARS]}
            for h, (span, total) in ranked]


def dedup_report(workdir: str, top: int = 10, samples: int = 3) -> dict:
    """The report of every dedup step in ``workdir`` (see the module docstring)."""
    wd = WorkDir(workdir)
    stats = wd.read_stats()["stages"]
    steps = []
    for step, kind in _dedup_steps(wd):
        s, files = stats[step], _decisions(wd, step)
        inputs = {r["index"]: r["input"] for r in wd.records(step, "scan")}
        outputs = [o["path"] for r in wd.records(step, "apply") for o in r["outputs"]
                   if "side" not in o]
        before, after = _per_source(list(inputs.values())), _per_source(outputs)
        texts = _Texts(inputs)
        entry = {
            "step": step, "kind": kind,
            "docs": [s["docs_in"], s["docs_out"]], "bytes": [s["bytes_in"], s["bytes_out"]],
            "dropped": s["dropped"],
            "sources": {src: {"docs": [b[0], after.get(src, [0, 0])[0]],
                              "bytes": [b[1], after.get(src, [0, 0])[1]]}
                        for src, b in sorted(before.items())},
        }
        if kind == "substring":
            entry["top_substrings"] = _substrings(files, texts, top)
        else:
            entry["largest_clusters"] = _clusters(kind, files, texts, top, samples)
        steps.append(entry)
    return {"workdir": workdir, "steps": steps}


def format_report(report: dict) -> str:
    lines = [f"dedup report of {report['workdir']}"]
    for s in report["steps"]:
        (d0, d1), (b0, b1) = s["docs"], s["bytes"]
        lines += ["", f"{s['step']} ({s['kind']}): documents {d0:,} -> {d1:,} "
                      f"({d0 - d1:,} removed), bytes {b0:,} -> {b1:,} "
                      f"({100 * (b0 - b1) / max(1, b0):.1f}% removed)"]
        for src, v in s["sources"].items():
            lines.append(f"  {src:24} docs {v['docs'][0]:>9,} -> {v['docs'][1]:>9,}   "
                         f"bytes {v['bytes'][0]:>12,} -> {v['bytes'][1]:>12,}")
        for c in s.get("largest_clusters", []):
            lines.append(f"  cluster of {c['size']}: " + " | ".join(
                repr(t[:60]) for t in c["samples"]))
        for t in s.get("top_substrings", []):
            lines.append(f"  {t['bytes_removed']:>9,} bytes, cut {t['times']} times: "
                         f"{t['text'][:80]!r}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("curate dedup report", __doc__,
                            "curate dedup report runs/demo/work --json dedup.json")
    parser.add_argument("workdir", help="a pipeline's work dir")
    parser.add_argument("--json", default=None, help="also write the report as JSON")
    parser.add_argument("--top", type=int, default=10,
                        help="most-removed substrings and clusters to show (default: 10)")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.workdir):
        parser.error(f"no such work dir: {args.workdir}")
    report = dedup_report(args.workdir, args.top)
    print(format_report(report))
    if args.json:
        fs.write_json(args.json, report)
    return 0
