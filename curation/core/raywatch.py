"""A watchdog for the local Ray cluster a driver starts: when the driver's process is gone,
however it ended (SIGKILL included), every process of that cluster is stopped, so that no
GCS, raylet, dashboard or runtime-env agent is left running.

It is a separate, detached process (``python -m curation.core.raywatch DRIVER_PID``) that, once
per ``POLL_S`` while the driver lives, notes the driver's descendants (every process of a
cluster the driver started descends from it; Ray's agents rename themselves, so names cannot be
trusted), and stops those still alive when the driver is gone. ``RayExecutor.close`` stops the
watchdog after a clean shutdown.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time

import psutil

POLL_S = 0.5
GRACE_S = 5.0  # between SIGTERM and SIGKILL


def descendants(pid: int) -> set[tuple[int, float]]:
    """``(pid, create_time)`` of every live descendant of ``pid`` (create time: a pid reused
    by an unrelated process is never taken for one of ours)."""
    out = set()
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process(pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                out.add((child.pid, child.create_time()))
    return out


def alive(known: set[tuple[int, float]]) -> list[psutil.Process]:
    """The processes of ``known`` still running (the same process, not a reused pid)."""
    out = []
    for pid, created in known:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            if proc.create_time() == created and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(proc)
    return out


def stop(procs: list[psutil.Process]) -> None:
    """SIGTERM each, then SIGKILL those left after ``GRACE_S``."""
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, left = psutil.wait_procs(procs, timeout=GRACE_S)
    for proc in left:
        with contextlib.suppress(psutil.Error):
            proc.kill()


def start(driver: int) -> subprocess.Popen:
    """Start the watchdog of ``driver``'s cluster (detached: it outlives a killed driver)."""
    return subprocess.Popen([sys.executable, "-m", "curation.core.raywatch", str(driver)],
                            start_new_session=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main(argv: list[str]) -> int:
    driver = int(argv[0])
    known: set[tuple[int, float]] = set()
    while True:
        try:
            if psutil.Process(driver).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        known |= {(pid, t) for pid, t in descendants(driver) if pid != os.getpid()}
        time.sleep(POLL_S)
    stop(alive(known))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
