"""Peak resident memory of this process over a stretch of work (a task), on Linux.

``reset()`` makes the kernel's high-water mark of the process's resident set (``VmHWM``) its
current size (writing ``5`` to ``/proc/self/clear_refs``, Linux 4.0+); ``peak()`` reads it back
in bytes. Between the two, it is the most memory the process held, whatever ran. A Ray worker
runs many tasks one after another, so its lifetime peak (``ru_maxrss``) would not say which
task needed the memory; a reset before each task does. Elsewhere both give None.
"""

from __future__ import annotations

import contextlib


def reset() -> bool:
    """Start a new peak at the current resident size; False where the system cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def peak() -> int | None:
    """Bytes: the resident peak since ``reset()`` (or since the process started)."""
    with contextlib.suppress(OSError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None
