"""Gather the ``matches`` side output of every ``Decontaminate`` node of a work dir (as the run
recorded its stages) into one JSONL report: one line per (document, eval item) match, sorted by
node, eval set, document id and item id, each with the node name and the ``MATCH_SCHEMA``
fields.

    curate decon report WORKDIR [--out FILE]     (default FILE: WORKDIR/decon_report.jsonl)
"""

from __future__ import annotations

import json
import os
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq

from curation.core import fs
from curation.core.commands import command_parser
from curation.core.workdir import WorkDir
from curation.decon.stage import MATCHES, Decontaminate


def _read(path: str) -> pa.Table:
    with fs.open_input(path) as f:
        return pq.read_table(f)


def gather(workdir: str) -> list[dict]:
    """Every match row of every ``Decontaminate`` node, with ``node`` added (none where no run
    has started)."""
    wd = WorkDir(workdir)
    rows: list[dict] = []
    if not wd.started():
        return rows
    for _, node in wd.stages_of(Decontaminate):
        files = wd.side_files(node, MATCHES)
        if not files:
            continue
        table = pa.concat_tables([_read(f) for f in files], promote_options="default")
        rows.extend({"node": node, **r} for r in table.to_pylist())
    rows.sort(key=lambda r: (r["node"], r["eval"], r["id"], r["item"], r["start"]))
    return rows


def write_report(workdir: str, out: str | None = None) -> dict:
    """Write the JSONL report; returns {"path", "matches", "documents", "by_eval"}."""
    rows = gather(workdir)
    path = out or WorkDir(workdir).report_path("decon_report.jsonl")
    fs.atomic_write_bytes(path, "".join(
        json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8"))
    return {"path": path, "matches": len(rows),
            "documents": len({(r["node"], r["id"]) for r in rows}),
            "by_eval": dict(sorted(Counter(r["eval"] for r in rows).items()))}


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("curate decon report", __doc__,
                            "curate decon report runs/demo/work --out matches.jsonl")
    parser.add_argument("workdir", help="a pipeline work dir")
    parser.add_argument("--out", default=None, help="JSONL file to write")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.workdir):
        parser.error(f"no such work dir: {args.workdir}")
    print(json.dumps(write_report(args.workdir, args.out), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
