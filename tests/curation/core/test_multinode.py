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
from collections.abc import Iterator

import pytest
from objectstore import S3_ENV, s3_files, upload
from test_executors import make_inputs, output_bytes

RAY = os.path.join(os.path.dirname(sys.executable), "ray")
HOME = os.path.realpath(os.path.expanduser("~"))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))
# every process of the two-node cluster and its driver: no usage stats, no token auth
ENV = os.environ | {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_node(args: list[str], tmp: str, env: dict[str, str] = ENV,
               prefix: tuple[str, ...] = ()) -> subprocess.Popen:
    """``ray start --block`` (run by ``prefix``): the node lives as long as this process;
    SIGTERM stops it."""
    return subprocess.Popen(
        [*prefix, RAY, "start", "--block", "--num-cpus=1", "--disable-usage-stats",
         "--object-store-memory=100000000", *args],
        env=env, stdout=open(os.path.join(tmp, f"node-{len(os.listdir(tmp))}.log"), "w"),
        stderr=subprocess.STDOUT, start_new_session=True)


@contextlib.contextmanager
def cluster(tmp_path, env: dict[str, str] = ENV, worker_env: dict[str, str] | None = None,
            worker_prefix: tuple[str, ...] = (), worker_args: tuple[str, ...] = (),
            ) -> Iterator[types.SimpleNamespace]:
    """A head node and a worker node started with ``worker_prefix`` (a command that execs the
    rest of its arguments), ``worker_env`` and extra ``worker_args`` to ``ray start``; both
    stopped on exit. Yields the ``address`` and the ``worker`` process and Ray node id."""
    logs = tmp_path / "logs"
    logs.mkdir()
    port = free_port()
    # a short private temp dir: socket paths must stay under 108 bytes, and a cluster in the
    # default /tmp/ray would be found by any later ray.init() on this machine
    ray_tmp = tempfile.mkdtemp(prefix="rmn-", dir="/tmp")
    address = f"127.0.0.1:{port}"
    head = start_node(["--head", f"--port={port}", "--node-ip-address=127.0.0.1",
                       "--include-dashboard=false", f"--temp-dir={ray_tmp}"], str(logs), env)
    time.sleep(4)
    worker = start_node([f"--address={address}", "--node-ip-address=127.0.0.1", *worker_args],
                        str(logs), worker_env or env, worker_prefix)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            if head.poll() is not None or worker.poll() is not None:
                break
            try:
                probe = subprocess.run(
                    [sys.executable, "-c", "import ray; ray.init(address='" + address + "', "
                     "configure_logging=False); print(*[n['NodeID'] for n in ray.nodes() if "
                     "n['Alive'] and 'node:__internal_head__' not in n['Resources']])"],
                    capture_output=True, text=True, timeout=30, env=env)
            except subprocess.TimeoutExpired:
                continue
            if probe.returncode == 0 and probe.stdout.strip():
                worker_id = probe.stdout.split()[-1]
                break
            time.sleep(1)
        else:
            pytest.fail("the second Ray node did not join in time")
        if head.poll() is not None or worker.poll() is not None:
            pytest.fail("a Ray node exited:\n" + "".join(p.read_text()[-2000:]
                                                        for p in logs.iterdir()))
        yield types.SimpleNamespace(address=address, worker=worker, worker_id=worker_id)
    finally:
        for proc in (worker, head):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in (worker, head):
            try:  # Ray's graceful stop can take half a minute; nothing here needs it
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=60)
        shutil.rmtree(ray_tmp, ignore_errors=True)


@pytest.fixture
def two_nodes(tmp_path):
    with cluster(tmp_path) as nodes:
        yield nodes


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



ISOLATED = """
import os
from curation import Pipeline, read
from curation.decon import Decontaminate
from curation.dedup import ExactDedup
from curation.filters import LanguageID
from curation.tagging import Quality, Topic
from curation.tokenize import Tokenize

ELSEWHERE = {"isolated": 1}  # only the worker node offers it: these tasks run there
pipeline = Pipeline("isolated", os.environ["WORK"], seed=1)
docs = pipeline.source(read(os.environ["INPUTS"], source="web"))
tagged = (docs >> LanguageID(model=os.environ["LID"], min_score=0.0)
          >> Decontaminate(os.environ["EVALS"], purify="drop", cache_dir=os.environ["DECON"])
          .with_resources(resources=ELSEWHERE)
          >> Topic(os.environ["TOPIC"]) >> Quality(os.environ["QUALITY"]))
tokens = tagged >> ExactDedup(partitions=2) >> Tokenize(os.environ["TOKENIZER"]).with_resources(
    resources=ELSEWHERE)
pipeline.sink(tokens, os.environ["OUT"])
"""



def hide_driver_files() -> str:
    """A shell script for the worker node, run in its own mount namespace before it execs
    ``ray start``: /tmp (every file of the driver's: inputs, models, eval set, tokenizer,
    caches) and HOME become empty tmpfs mounts; only the installation (Python, the venv, this
    checkout) is bound back where it lay under either (staged meanwhile on a tmpfs at /mnt)."""
    keep = sorted({d for d in (sys.base_prefix, sys.prefix, REPO)
                   if d.startswith((HOME + os.sep, "/tmp/"))})
    lines = ["set -e", "mount -t tmpfs tmpfs /mnt"]
    lines += [f"mkdir -p /mnt/keep{i} && mount --bind {d} /mnt/keep{i}"
              for i, d in enumerate(keep)]
    lines += ["mount -t tmpfs tmpfs /tmp", f"mount -t tmpfs tmpfs {HOME}"]
    lines += [f"mkdir -p {d} && mount --move /mnt/keep{i} {d}" for i, d in enumerate(keep)]
    return "\n".join([*lines, 'exec "$0" "$@"'])


def isolated_world(tmp_path, tokenizer: str) -> dict[str, str]:
    """What the driver alone has on its disk (under /tmp): a corpus with planted benchmark
    copies, its eval set, a copy of the language-ID model, topic and quality models trained
    here and a tokenizer."""
    from classifiers.fasttext_model import FastTextParams, train
    from curation.filters.langid import default_model
    from curation.synthetic import GeneratorConfig, generate
    from curation.tagging import TOPICS

    root = tmp_path / "driver"
    generate(root / "corpus", GeneratorConfig(docs=600, seed=0, bench_copy=0.1, shard_docs=75))
    shutil.copy(default_model(), root / "lid.ftz")
    shutil.copy(tokenizer, root / "tokenizer.json")
    texts = [f"{w} good clean prose {i}" for i, w in enumerate(["alpha", "beta"] * 20)]
    params = FastTextParams(dim=8, epoch=5)
    train(texts, ["hq", "lq"] * 20, root / "quality.bin", params)
    train(texts, list(TOPICS.ids[:2]) * 20, root / "topic.bin", params)
    return {"EVALS": str(root / "corpus" / "evals" / "synthetic_qa.jsonl"),
            "LID": str(root / "lid.ftz"), "QUALITY": str(root / "quality.bin"),
            "TOPIC": str(root / "topic.bin"), "TOKENIZER": str(root / "tokenizer.json"),
            "DECON": str(root / "decon"), "CURATION_CACHE": str(root / "cache")}


@pytest.mark.slow
def test_a_node_that_cannot_see_the_drivers_disk_gets_every_artifact(tmp_path, bucket,
                                                                      tokenizer_path):
    """The worker node cannot see the driver's /tmp or HOME; decontamination and tokenization
    ask for a resource only it has. The run works in and writes to object storage, and gives
    the bytes of a local run."""
    from curation.core import fs

    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) to give the worker node its own mounts")
    world = isolated_world(tmp_path, tokenizer_path)
    corpus = str(tmp_path / "driver" / "corpus" / "docs")
    upload(corpus, f"{bucket}/in")
    script = tmp_path / "p.py"
    script.write_text(ISOLATED)
    env = ENV | {k: os.environ[k] for k in S3_ENV} | world
    local = subprocess.run(
        [sys.executable, "-m", "curation.cli", "run", str(script)], capture_output=True,
        text=True, timeout=300, env=env | {"WORK": str(tmp_path / "w-local"),
                                           "OUT": str(tmp_path / "o-local"), "INPUTS": corpus})
    assert local.returncode == 0, local.stderr[-3000:]
    worker_env = env | {"CURATION_CACHE": "/tmp/node-cache"}
    hide = ("unshare", "--mount", "--propagation", "private", "sh", "-c", hide_driver_files())
    with cluster(tmp_path, env, worker_env, hide, ('--resources={"isolated": 1}',)) as nodes:
        ray = subprocess.run(
            [sys.executable, "-m", "curation.cli", "run", str(script), "--executor", "ray",
             "--address", nodes.address], capture_output=True, text=True, timeout=300,
            env=env | {"WORK": f"{bucket}/work", "OUT": f"{bucket}/out",
                       "INPUTS": f"{bucket}/in"})
        worker_id = nodes.worker_id
    assert ray.returncode == 0, ray.stderr[-3000:]
    assert s3_files(f"{bucket}/out") == output_bytes(str(tmp_path / "o-local"))
    ran_on = {}
    for step in fs.list_dir(f"{bucket}/work/_tasks", directories=True):
        for name in fs.list_dir(f"{bucket}/work/_tasks/{step}"):
            record = json.loads(fs.read_bytes(f"{bucket}/work/_tasks/{step}/{name}"))
            ran_on.setdefault(step, set()).add(record["ran_on"]["node"])
    assert ran_on["quality"] == ran_on["tokenize"] == {worker_id}
    assert len(set().union(*ran_on.values())) == 2, "tasks must have run on both nodes"
    stats = json.loads(fs.read_bytes(f"{bucket}/work/stats.json"))
    assert stats["stages"]["decontaminate"]["dropped"].get("contaminated", 0) > 0
