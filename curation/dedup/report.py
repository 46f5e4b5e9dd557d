"""The dedup report of a work dir: what each deduplication stage removed, and what it was.

For every dedup step of a finished run (recognised by its decision files: ``exact_dup_of`` for
exact dedup, ``minhash_cluster`` for MinHash, byte spans for substring dedup):

- the **funnel**: documents and text bytes before and after, overall and per ``source``
  (read from the step's input and output shards, ``source`` and text lengths only);
- the **largest clusters** (exact and MinHash): size and the start of a few members' texts;
- the **most-removed substrings** (substring dedup): the removed spans grouped by content,
  by total bytes removed, with how often each was cut.

Memory: one shard's text column at a time, plus one entry per cluster or distinct span.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections import Counter, defaultdict

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from curation.core import fs
from curation.core.errors import CurationError

SHARD = re.compile(r"-s(\d{5})-\d{3}\.parquet$")
SAMPLE_CHARS = 160


def _records(workdir: str, step: str, phase: str) -> list[dict]:
    """The completion records of the last run's ``phase`` tasks of ``step``, by index.

    A rerun in the same work dir with fewer shards or partitions leaves the earlier run's
    records of the higher indices behind (their outputs are removed): ``_run.json`` says how
    many tasks the last run had, and only those count."""
    directory = fs.join(workdir, "_tasks", step)
    count = None
    status = fs.join(workdir, "_run.json")
    if fs.exists(status):
        phases = json.loads(fs.read_bytes(status)).get("steps", {}).get(step, {}).get("phases")
        if phases is not None:
            count = phases.get(phase, 0)
    out = []
    for name in fs.list_dir(directory):
        if name.startswith(f"{phase}-") and name.endswith(".json"):
            record = json.loads(fs.read_bytes(fs.join(directory, name)))
            if count is None or record["index"] < count:
                out.append(record)
    return sorted(out, key=lambda r: r["index"])


def _decisions(workdir: str, step: str) -> tuple[str, list[tuple[int, str]]] | None:
    """The step's kind and its decision files with the shard each is for."""
    for phase in ("merge", "reduce"):
        directory = fs.join(workdir, "_global", step, phase)
        files = [(int(m.group(1)), fs.join(directory, n)) for n in fs.list_dir(directory)
                 if (m := SHARD.search(n))]
        if not files:
            continue
        names = set(pq.read_schema(files[0][1]).names)
        for kind, column in (("exact", "exact_dup_of"), ("minhash", "minhash_cluster"),
                             ("substring", "start")):
            if column in names:
                return kind, sorted(files)
    if _records(workdir, step, "merge"):  # MinHash with no cluster at all
        return "minhash", []
    # a step that removed nothing writes no decision: its scan pieces tell the kind
    directory = fs.join(workdir, "_global", step, "scan")
    pieces = [n for n in fs.list_dir(directory) if n.endswith(".parquet")]
    if pieces:
        names = set(pq.read_schema(fs.join(directory, pieces[0])).names)
        for kind, columns in (("exact", {"h_hi", "h_lo"}), ("minhash", {"bucket", "key"}),
                              ("substring", {"shard", "row", "id", "text"})):
            if columns <= names:
                return kind, []
    return None


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
    stats_path = fs.join(workdir, "stats.json")
    if not fs.exists(stats_path):
        raise CurationError(f"{workdir}: no stats.json; is it the work dir of a finished run?")
    stats = json.loads(fs.read_bytes(stats_path))["stages"]
    steps = []
    for step, s in stats.items():
        found = _decisions(workdir, step)
        if found is None:
            continue
        kind, files = found
        inputs = {r["index"]: r["input"] for r in _records(workdir, step, "scan")}
        outputs = [o["path"] for r in _records(workdir, step, "apply") for o in r["outputs"]
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
    parser = argparse.ArgumentParser(prog="curate dedup report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workdir")
    parser.add_argument("--json", default=None, help="also write the report as JSON")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv)
    if not os.path.isdir(args.workdir):
        parser.error(f"no such work dir: {args.workdir}")
    report = dedup_report(args.workdir, args.top)
    print(format_report(report))
    if args.json:
        fs.write_json(args.json, report)
    return 0
