"""No orphans: a driver killed with SIGKILL takes the local Ray cluster it started with it. Ray
alone leaves its dashboard and runtime-env agents running (seen with Ray 2.60); the watchdog
stops every process that descended from the driver."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from curation.core.raywatch import alive, descendants

DRIVER = """
import time
import ray
{disable}
from curation.core.executors import RayExecutor
executor = RayExecutor(num_cpus=1)
ray.get(ray.remote(lambda: 1).remote())  # a worker and the agents are up
print("ready", flush=True)
time.sleep(600)
"""


def _left_after_sigkill(disable: str = "") -> list[str]:
    """Command lines of the driver's descendants still alive 15 s after it was killed."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    driver = subprocess.Popen([sys.executable, "-c", DRIVER.format(disable=disable)],
                              stdout=subprocess.PIPE, text=True,
                              env=env | {"RAY_USAGE_STATS_ENABLED": "0"})
    try:
        assert driver.stdout.readline().strip() == "ready"
        time.sleep(1)
        cluster = descendants(driver.pid)
        assert len(cluster) >= 4  # GCS, raylet, agents, a worker...
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    deadline = time.time() + 15
    while time.time() < deadline and alive(cluster):
        time.sleep(0.5)
    left = alive(cluster)
    names = [" ".join(p.cmdline())[:80] for p in left]
    for proc in left:  # leave the machine clean whatever the outcome
        proc.kill()
    return names


@pytest.mark.slow
def test_a_killed_driver_leaves_no_ray_process():
    assert _left_after_sigkill() == []


@pytest.mark.slow
def test_without_the_watchdog_ray_leaves_orphans():
    """What the watchdog is for (if Ray ever cleans up alone, this fails: drop the watchdog)."""
    left = _left_after_sigkill("import curation.core.raywatch as w; w.start = lambda pid: None")
    assert any("Agent" in name for name in left), left
