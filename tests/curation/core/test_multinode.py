"""Two Ray nodes on this machine (a head and a worker started with ``ray start``): tasks spread
over both, and the output is byte-identical to the in-process run."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import types

import pytest
from test_executors import make_inputs, output_bytes

RAY = os.path.join(os.path.dirname(sys.executable), "ray")
# every process of the two-node cluster and its driver: no usage stats, no token auth
ENV = os.environ | {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_node(args: list[str], tmp: str) -> subprocess.Popen:
    """``ray start --block``: the node lives as long as this process; SIGTERM stops it."""
    return subprocess.Popen(
        [RAY, "start", "--block", "--num-cpus=1", "--disable-usage-stats",
         "--object-store-memory=100000000", *args],
        env=ENV, stdout=open(os.path.join(tmp, f"node-{len(os.listdir(tmp))}.log"), "w"),
        stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture
def two_nodes(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    port = free_port()
    # a short private temp dir: socket paths must stay under 108 bytes, and a cluster in the
    # default /tmp/ray would be found by any later ray.init() on this machine
    ray_tmp = tempfile.mkdtemp(prefix="rmn-", dir="/tmp")
    address = f"127.0.0.1:{port}"
    head = start_node(["--head", f"--port={port}", "--node-ip-address=127.0.0.1",
                       "--include-dashboard=false", f"--temp-dir={ray_tmp}"], str(logs))
    time.sleep(4)
    worker = start_node([f"--address={address}", "--node-ip-address=127.0.0.1"], str(logs))
    deadline = time.time() + 60
    while time.time() < deadline:
        if head.poll() is not None or worker.poll() is not None:
            break
        try:
            probe = subprocess.run(
                [sys.executable, "-c", "import ray; ray.init(address='" + address + "', "
                 "configure_logging=False); print(len([n for n in ray.nodes() if n['Alive']]))"],
                capture_output=True, text=True, timeout=30,
                env=ENV)
        except subprocess.TimeoutExpired:
            continue
        if probe.stdout.strip().endswith("2"):
            break
        time.sleep(1)
    else:
        pytest.fail("the second Ray node did not join in time")
    if head.poll() is not None or worker.poll() is not None:
        pytest.fail("a Ray node exited:\n" + "".join(p.read_text()[-2000:]
                                                    for p in logs.iterdir()))
    yield types.SimpleNamespace(address=address, worker=worker)
    for proc in (worker, head):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in (worker, head):
        proc.wait(timeout=60)
    shutil.rmtree(ray_tmp, ignore_errors=True)


PIPELINE = """
import os, time
from curation import MapStage, Pipeline, read
from curation.dedup import ExactDedup
from curation.filters import DocumentLength

class Slow(MapStage):
    \"\"\"Sleeps SLOW seconds per batch, so that a node can be killed mid-run.\"\"\"
    def process(self, batch, ctx):
        time.sleep(float(os.environ.get("SLOW", "0")))
        return batch

pipeline = Pipeline("two-nodes", os.environ["WORK"], seed=1)
docs = pipeline.source(read({inputs!r} + "/in-*.jsonl.zst", source="a"))
pipeline.sink(docs >> Slow() >> DocumentLength(50) >> ExactDedup(partitions=3), os.environ["OUT"])
"""


def cli_env(tmp_path, name: str, slow: float = 0.0) -> dict[str, str]:
    return ENV | {"WORK": str(tmp_path / f"w-{name}"), "OUT": str(tmp_path / f"o-{name}"),
                  "SLOW": str(slow)}


def run_cli(script, tmp_path, name: str, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curation.cli", "run", str(script), *options],
                          capture_output=True, text=True, timeout=300,
                          env=cli_env(tmp_path, name))


@pytest.mark.slow
def test_pipeline_over_two_nodes_equals_local_run(tmp_path, two_nodes):
    inputs = make_inputs(tmp_path / "in", shards=8, docs=400)
    script = tmp_path / "p.py"
    script.write_text(PIPELINE.format(inputs=inputs))
    local = run_cli(script, tmp_path, "local")
    assert local.returncode == 0, local.stderr[-3000:]
    ray = run_cli(script, tmp_path, "ray", "--executor", "ray", "--address", two_nodes.address,
                  "--shared-dir", str(tmp_path))  # both nodes see this machine's disk
    assert ray.returncode == 0, ray.stderr[-3000:]
    assert output_bytes(str(tmp_path / "o-ray")) == output_bytes(str(tmp_path / "o-local"))
    records = tmp_path / "w-ray" / "_tasks"
    nodes = {json.loads(p.read_text())["ran_on"]["node"] for p in records.rglob("*.json")}
    assert len(nodes) == 2, "tasks must have run on both nodes"


@pytest.mark.slow
def test_a_local_workdir_is_refused_on_two_nodes(tmp_path, two_nodes):
    inputs = make_inputs(tmp_path / "in", shards=2, docs=50)
    script = tmp_path / "p.py"
    script.write_text(PIPELINE.format(inputs=inputs))
    refused = run_cli(script, tmp_path, "ray", "--executor", "ray", "--address",
                      two_nodes.address)
    assert refused.returncode == 1
    assert f"the work dir {tmp_path / 'w-ray'} is on this machine's disk, which the other 1 " \
        "node(s) of the Ray cluster cannot see: use an object-store URI" in refused.stderr
    assert "--shared-dir DIR" in refused.stderr
    assert not (tmp_path / "w-ray").exists()  # refused before anything ran
    elsewhere = run_cli(script, tmp_path, "ray", "--executor", "ray", "--address",
                        two_nodes.address, "--shared-dir", str(tmp_path / "w-ray"))
    assert elsewhere.returncode == 1
    assert f"the sink 'sink' {tmp_path / 'o-ray'} is on this machine's disk" in elsewhere.stderr


@pytest.mark.slow
def test_killing_a_node_mid_run_loses_and_duplicates_nothing(tmp_path, two_nodes):
    inputs = make_inputs(tmp_path / "in", shards=8, docs=400)
    script = tmp_path / "p.py"
    script.write_text(PIPELINE.format(inputs=inputs))
    assert run_cli(script, tmp_path, "local").returncode == 0
    args = [sys.executable, "-m", "curation.cli", "run", str(script), "--executor", "ray",
            "--address", two_nodes.address, "--shared-dir", str(tmp_path)]
    proc = subprocess.Popen(args, env=cli_env(tmp_path, "ray", slow=1.0),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    records = tmp_path / "w-ray" / "_tasks"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(records.rglob("*.json"))) < 2:
        time.sleep(0.1)
    os.killpg(two_nodes.worker.pid, signal.SIGKILL)  # the worker node and all its processes
    _, err = proc.communicate(timeout=300)
    if proc.returncode != 0:  # the run may fail for good with the node: a rerun completes it
        rerun = run_cli(script, tmp_path, "ray", "--executor", "ray", "--address",
                        two_nodes.address, "--shared-dir", str(tmp_path))
        assert rerun.returncode == 0, rerun.stderr[-3000:] + err.decode()[-3000:]
    assert output_bytes(str(tmp_path / "o-ray")) == output_bytes(str(tmp_path / "o-local"))

