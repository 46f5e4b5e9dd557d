"""Console progress of a training run: one line every ``every`` steps, on rank 0 only.

A line holds the step, the data stage, the loss, the learning rate (of the first parameter
group), tokens per second (of the step just run, all ranks), the time left (the mean step time
since this process started training, times the steps to go) and, when the step evaluated, the
bits per byte of each evaluation domain::

    step   40/200 | main | loss 5.214 | lr 2.9e-03 | 48,117 tok/s | 1m02s left | bpb docs 2.31

``every=0`` prints nothing (``curate train --quiet``); ``metrics.jsonl`` holds every figure
either way.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def duration(seconds: float) -> str:
    """``1h02m``, ``3m05s`` or ``12s``."""
    s = max(0, round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def progress_line(record: dict, total: int, seconds_left: float | None) -> str:
    """The console line of one metrics ``record`` of a run of ``total`` steps."""
    width = len(str(total))
    parts = [f"step {record['step']:>{width}}/{total}", str(record.get("stage", ""))]
    if "loss" in record:
        parts.append(f"loss {record['loss']:.3f}")
    if "lr" in record:
        parts.append(f"lr {record['lr']:.1e}")
    if "tokens_per_s" in record:
        parts.append(f"{record['tokens_per_s']:,.0f} tok/s")
    if seconds_left is not None:
        parts.append(f"{duration(seconds_left)} left")
    if record.get("eval_bpb"):
        parts.append("bpb " + " ".join(f"{d} {v:.3f}" for d, v in record["eval_bpb"].items()))
    return " | ".join(parts)


class Progress:
    """Prints ``progress_line`` for every ``every``-th step, the last and any that evaluated,
    to ``stream``."""

    def __init__(self, total: int, every: int, start_step: int = 0,
                 stream: TextIO | None = None):
        self.total, self.every, self.stream = total, every, stream or sys.stderr
        self._start_step, self._start = start_step, time.perf_counter()

    def update(self, record: dict) -> None:
        step = record["step"]
        due = step % self.every == 0 or step == self.total or record.get("eval_bpb") \
            if self.every > 0 else False
        if not due:
            return
        done = step - self._start_step
        left = ((time.perf_counter() - self._start) / done * (self.total - step)
                if done > 0 else None)
        print(progress_line(record, self.total, left), file=self.stream, flush=True)
