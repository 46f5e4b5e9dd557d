"""``curate status WORKDIR``: per-step, per-phase progress from the completion records."""

from __future__ import annotations

from curation.core.workdir import WorkDir


def step_progress(workdir: str) -> tuple[dict, dict[str, dict[str, tuple[int, int]]]]:
    """The run file and, per step and phase started, (tasks with a record, tasks planned)."""
    wd = WorkDir(workdir)
    run = wd.read_run()
    progress = {
        step: {phase: (len(wd.task_indices(step, phase)), total)
               for phase, total in info["phases"].items()}
        for step, info in run["steps"].items()
    }
    return run, progress


def format_status(workdir: str) -> str:
    """One line per step; a phase not started yet shows as ``phase -`` (runs recorded before
    the planned phases were, list the phases started only)."""
    run, progress = step_progress(workdir)
    lines = [f"pipeline '{run['pipeline']}': {run['state']}"]
    for step, phases in progress.items():
        if run["steps"][step].get("kind") == "union":  # shard lists joined: no task to run
            lines.append(f"  {step:28} union (no tasks)")
            continue
        if not phases:
            lines.append(f"  {step:28} not started")
            continue
        parts = [f"{ph} {done}/{total}" for ph, (done, total) in phases.items()]
        parts += [f"{ph} -" for ph in run["steps"][step].get("planned_phases", [])
                  if ph not in phases]
        lines.append(f"  {step:28} " + "  ".join(parts))
    return "\n".join(lines)
