"""Benchmark results: the JSON each run writes, and the README table rendered from them.

A result is ``{"benchmark", "docs", "input_mb", "machine", "rows": [{"what", "metric",
"ours", "peer_name", "peer", "ours_peak_mb", "peer_peak_mb"}]}``; the ratio is ours / peer
for rates (higher is better).
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


def save_result(name: str, result: dict, out_dir: str = RESULTS_DIR) -> str:
    result = {"benchmark": name, "date": datetime.date.today().isoformat(),
              "machine": machine(), **result}
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{name}.json")
    with open(path + ".tmp", "w") as f:
        json.dump(result, f, indent=2)
    os.replace(path + ".tmp", path)
    return path


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:,.2f}"


def render_table(out_dir: str = RESULTS_DIR, only: list[str] | None = None) -> str:
    lines = ["| benchmark | what | input | metric | ours | peer | peer's | ours / peer |",
             "|---|---|---|---|---|---|---|---|"]
    names = sorted(n[:-5] for n in os.listdir(out_dir) if n.endswith(".json")) \
        if os.path.isdir(out_dir) else []
    for name in names:
        if only and name not in only:
            continue
        with open(os.path.join(out_dir, f"{name}.json")) as f:
            r = json.load(f)
        size = f"{r['docs']:,} docs, {r['input_mb']:.0f} MB"
        for row in r["rows"]:
            ratio = row["ours"] / row["peer"] if row["peer"] else float("inf")
            mem = ""
            if row.get("ours_peak_mb") is not None:
                mem = f" (peak {row['ours_peak_mb']:.0f} vs {row['peer_peak_mb']:.0f} MB)"
            lines.append(f"| {name} | {row['what']} | {size} | {row['metric']} | "
                         f"{_fmt(row['ours'])} | {row['peer_name']} | {_fmt(row['peer'])} | "
                         f"**{ratio:.2f}x**{mem} |")
    machine_line = ""
    if names:
        with open(os.path.join(out_dir, f"{names[0]}.json")) as f:
            m = json.load(f)["machine"]
        machine_line = (f"\nMeasured on {m['cpus']} CPU cores, Python {m['python']}, "
                        f"{m['platform']}; one run each, ours and the peer on the same input.")
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
