"""``curate status WORKDIR``: per-step, per-phase progress from the completion records."""

from __future__ import annotations

import orjson

from curation.core import fs
from curation.core.errors import CurationError


def step_progress(workdir: str) -> tuple[dict, dict[str, dict[str, tuple[int, int]]]]:
    """The run file and, per step and phase, (tasks with a record, tasks planned)."""
    path = fs.join(workdir, "_run.json")
    if not fs.exists(path):
        raise CurationError(f"{workdir}: no run has started here (no _run.json)")
    run = orjson.loads(fs.read_bytes(path))
    progress: dict[str, dict[str, tuple[int, int]]] = {}
    for step, info in run["steps"].items():
        names = fs.list_dir(fs.join(workdir, "_tasks", step))
        progress[step] = {
            phase: (sum(1 for n in names if n.startswith(f"{phase}-")), total)
            for phase, total in info["phases"].items()
        }
    return run, progress


def format_status(workdir: str) -> str:
    run, progress = step_progress(workdir)
    lines = [f"pipeline '{run['pipeline']}': {run['state']}"]
    for step, phases in progress.items():
        if not phases:
            lines.append(f"  {step:28} not started")
            continue
        parts = [f"{ph} {done}/{total}" for ph, (done, total) in phases.items()]
        lines.append(f"  {step:28} " + "  ".join(parts))
    return "\n".join(lines)
