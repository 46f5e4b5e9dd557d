"""Benchmark results: the JSON each run writes, and the README table rendered from them.

A result is ``{"benchmark", "date", "machine", "input", "input_kind", "docs", "text_mb",
"input_mb", "rows": [row, ...], ...}`` with rows as ``common.rate_row`` makes them (``what``,
``metric``, ``ours``, ``peer_name``, ``peer``, ``{ours,peer}_{docs_s,mb_s,s,peak_mb}``); the
ratio is ours / peer for rates (higher is better). Results on real text are ``NAME.json``, on
another input ``NAME-<input_kind>.json``, so both coexist. Results written before inputs were
named (no ``input`` field) were all on the synthetic corpus.
"""

from __future__ import annotations

import datetime
import json
import os
import platform

RESULTS_DIR = os.path.join(os.path.dirname(__file__), "results")
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(terse=True)}


def result_path(name: str, kind: str, out_dir: str = RESULTS_DIR) -> str:
    """``NAME.json`` for the real-text input, ``NAME-<kind>.json`` for another."""
    return os.path.join(out_dir, f"{name}.json" if kind == "real" else f"{name}-{kind}.json")


def save_result(name: str, result: dict, out_dir: str = RESULTS_DIR) -> str:
    result = {"benchmark": name, "date": datetime.date.today().isoformat(),
              "machine": machine(), **result}
    os.makedirs(out_dir, exist_ok=True)
    path = result_path(name, result.get("input_kind", "real"), out_dir)
    with open(path + ".tmp", "w") as f:
        json.dump(result, f, indent=2)
    os.replace(path + ".tmp", path)
    return path


def load_results(out_dir: str = RESULTS_DIR) -> list[dict]:
    """Every result in ``out_dir``, by benchmark then input (real text first)."""
    if not os.path.isdir(out_dir):
        return []
    results = []
    for name in sorted(os.listdir(out_dir)):
        if name.endswith(".json"):
            with open(os.path.join(out_dir, name)) as f:
                results.append(json.load(f))
    return sorted(results, key=lambda r: (r["benchmark"], _kind(r) != "real", _kind(r)))


def _kind(result: dict) -> str:
    return result.get("input_kind", "synthetic")


def _input(result: dict) -> str:
    if "input" in result:
        return result["input"]
    return f"synthetic ({result['docs']:,} docs, {result['input_mb']:.0f} MB .zst)"


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:,.2f}"


def _pair(row: dict, field: str, fmt=_fmt) -> str:
    ours, peer = row.get(f"ours_{field}"), row.get(f"peer_{field}")
    return "n/a" if ours is None or peer is None else f"{fmt(ours)} / {fmt(peer)}"


def render_table(out_dir: str = RESULTS_DIR, only: list[str] | None = None) -> str:
    lines = ["| benchmark | input | what | metric | ours | peer | peer's | ours / peer "
             "| MB/s, ours / peer | peak MB, ours / peer |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    results = [r for r in load_results(out_dir) if not only or r["benchmark"] in only]
    for r in results:
        for row in r["rows"]:
            ratio = row["ours"] / row["peer"] if row["peer"] else float("inf")
            lines.append(f"| {r['benchmark']} | {_input(r)} | {row['what']} | {row['metric']} | "
                         f"{_fmt(row['ours'])} | {row['peer_name']} | {_fmt(row['peer'])} | "
                         f"**{ratio:.2f}x** | {_pair(row, 'mb_s')} | "
                         f"{_pair(row, 'peak_mb', lambda x: f'{x:.0f}')} |")
    machine_line = ""
    if results:
        m = results[0]["machine"]
        machine_line = (f"\nMeasured on {m['cpus']} CPU cores, Python {m['python']}, "
                        f"{m['platform']}; one run each, ours and the peer on the same input. "
                        "MB are 10^6 bytes of UTF-8 text.")
    return "\n".join(lines) + "\n" + machine_line


def update_readme(readme: str, out_dir: str = RESULTS_DIR) -> None:
    with open(readme) as f:
        text = f.read()
    if START not in text or END not in text:
        raise SystemExit(f"{readme} has no {START} ... {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    with open(readme, "w") as f:
        f.write(f"{head}{START}\n{render_table(out_dir)}\n{END}{tail}")
