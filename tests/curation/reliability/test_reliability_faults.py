"""Fault injection: a Ray worker killed mid-task, an unreadable shard, an output directory that
turns read-only, and a driver killed between the phases of a global stage. Each run ends with a
clear error naming the file, or completes (on rerun) with the bytes of an undisturbed run."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap

import pyarrow as pa
import pytest
from corpora import corpus, write_jsonl

from curation import MapStage, Pipeline, read
from curation.core.executors import RayExecutor
from curation.dedup import ExactDedup
from curation.filters import DocumentLength

SHARDS = 4


def make_inputs(root) -> str:
    """Four JSONL shards with exact duplicates across them."""
    os.makedirs(root, exist_ok=True)
    docs = corpus(200)
    for k in range(SHARDS):
        write_jsonl(os.path.join(root, f"in-{k}.jsonl"), docs[k::SHARDS])
    return str(root)


def output_bytes(out) -> dict[str, bytes]:
    """Every file of a sink directory, by name, with its bytes."""
    return {n: open(os.path.join(out, n), "rb").read() for n in sorted(os.listdir(out))}


class KillWorkerOnce(MapStage):
    """SIGKILLs its own process on shard ``shard``'s first attempt; the marker file (holding the
    killed pid) says the attempt happened, so the retry goes through."""

    def __init__(self, markers: str, shard: int):
        self.markers, self.shard = markers, shard

    def process(self, batch: pa.Table, ctx) -> pa.Table:
        marker = os.path.join(self.markers, f"killed-{ctx.shard}")
        if ctx.shard == self.shard and not os.path.exists(marker):
            with open(marker, "w") as f:
                f.write(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return batch


def build(inputs: str, work: str, out: str, stage: MapStage | None = None) -> Pipeline:
    """Read, (an optional extra map stage), length filter, exact dedup, sink."""
    p = Pipeline("faults", work, seed=5)
    docs = p.source(read(os.path.join(inputs, "in-*.jsonl"), source="a", batch_rows=20))
    if stage is not None:
        docs = docs >> stage
    p.sink(docs >> DocumentLength(min_chars=40) >> ExactDedup(partitions=2), out)
    return p


@pytest.mark.ray
def test_worker_killed_mid_task_is_retried_by_ray(tmp_path, ray_cluster):
    inputs = make_inputs(tmp_path / "in")
    markers = tmp_path / "markers"
    markers.mkdir()
    stage = KillWorkerOnce(str(markers), shard=1)
    result = build(inputs, str(tmp_path / "w"), str(tmp_path / "o"), stage).run(
        RayExecutor(), progress=False)

    killed_pid = int((markers / "killed-1").read_text())
    assert killed_pid != os.getpid()  # a worker died, not the driver
    record = json.loads((tmp_path / "w" / "_tasks" / "document_length" /  # the fused map step
                         "map-00001.json").read_text())
    assert record["ran_on"]["pid"] != killed_pid  # the retry ran in another worker
    assert record["outputs"][0]["rows"] == record["stats"]["kill_worker_once"]["docs_in"] == 50
    assert result.stats["kill_worker_once"].docs_in == 200  # the killed attempt counts nothing
    # a reference run where the marker already exists: nothing is killed
    build(inputs, str(tmp_path / "w2"), str(tmp_path / "o2"), stage).run(progress=False)
    assert output_bytes(tmp_path / "o") == output_bytes(tmp_path / "o2")
    leftovers = list((tmp_path / "w").rglob(".tmp-*")) + list((tmp_path / "o").glob(".*"))
    assert leftovers == []


# -- file modes: root ignores them, so these run without CAP_DAC_OVERRIDE ---------------------

RUN = textwrap.dedent("""
    import os, sys
    from curation import MapStage, Pipeline, read
    from curation.core.errors import CurationError
    from curation.filters import DocumentLength

    class LockAfterFirstShard(MapStage):
        '''Makes the output directory read-only once shard 0 is published (when asked to).'''
        def __init__(self, out):
            self.out = out
        def process(self, batch, ctx):
            if ctx.shard == 1 and os.environ.get("LOCK") and os.path.exists(self.out):
                os.chmod(self.out, 0o555)
            return batch

    root = sys.argv[1]
    p = Pipeline("perm", os.path.join(root, sys.argv[2]), seed=5)
    docs = p.source(read(os.path.join(root, "in", "in-*.jsonl"), source="a"))
    out = os.path.join(root, sys.argv[3])
    p.sink(docs >> DocumentLength(min_chars=40) >> LockAfterFirstShard(out), out)
    try:
        result = p.run(progress=False)
    except CurationError as e:
        print(e)
        sys.exit(1)
    print(f"ran={result.ran} skipped={result.skipped}")
""")


PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2


def _drop_dac_override() -> None:
    """In the child, before exec: give up root's power to ignore file modes (the capabilities
    leave the bounding set, so the exec'd interpreter never has them)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def run_unprivileged(root, work: str, out: str, **env: str) -> subprocess.CompletedProcess:
    """The pipeline above in a subprocess that file modes apply to, even when we are root."""
    try:
        return subprocess.run(
            [sys.executable, "-c", RUN, str(root), work, out], capture_output=True, text=True,
            timeout=120, env=os.environ | env,
            preexec_fn=_drop_dac_override if os.geteuid() == 0 else None)
    except subprocess.SubprocessError as e:  # prctl refused: no CAP_SETPCAP in this container
        pytest.skip(f"cannot run without CAP_DAC_OVERRIDE here: {e}")


def test_unreadable_shard_fails_naming_the_file(tmp_path):
    make_inputs(tmp_path / "in")
    bad = os.path.join(str(tmp_path), "in", "in-2.jsonl")
    os.chmod(bad, 0)
    proc = run_unprivileged(tmp_path, "w", "o")
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert f"{bad}: cannot read the file: [Errno 13] Permission denied" in proc.stdout
    assert "map task 2" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_read_only_output_dir_fails_clearly_and_rerun_completes(tmp_path):
    make_inputs(tmp_path / "in")
    clean = run_unprivileged(tmp_path, "w-clean", "o-clean")
    assert clean.returncode == 0, clean.stdout + clean.stderr[-3000:]

    locked = run_unprivileged(tmp_path, "w", "o", LOCK="1")
    out = os.path.join(str(tmp_path), "o")
    assert locked.returncode == 1, locked.stdout + locked.stderr[-3000:]
    assert "map task 1" in locked.stdout and "Permission denied" in locked.stdout
    assert os.path.join(out, ".tmp-part-00001-000.parquet") in locked.stdout
    assert os.listdir(out) == ["part-00000-000.parquet"]  # nothing partial is visible
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o555

    os.chmod(out, 0o755)  # the operator fixes the filesystem, then reruns
    rerun = run_unprivileged(tmp_path, "w", "o")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr[-3000:]
    assert "skipped=1" in rerun.stdout  # shard 0 was complete
    assert output_bytes(out) == output_bytes(os.path.join(str(tmp_path), "o-clean"))


# -- the driver killed between the phases of a global stage ----------------------------------

DRIVER = textwrap.dedent("""
    import os, signal
    from curation import Pipeline, read
    from curation.dedup import ExactDedup
    from curation.filters import DocumentLength

    class KillingDedup(ExactDedup):
        '''ExactDedup whose driver (the local executor runs tasks in it) dies when the phase
        named by $KILL_AT starts: every task of the phases before it is complete.'''
        def reduce(self, partition, tables):
            if os.environ.get("KILL_AT") == "reduce":
                os.kill(os.getpid(), signal.SIGKILL)
            return super().reduce(partition, tables)
        def apply(self, batch, offset, decisions, ctx):
            if os.environ.get("KILL_AT") == "apply":
                os.kill(os.getpid(), signal.SIGKILL)
            return super().apply(batch, offset, decisions, ctx)

    root = os.environ["ROOT"]
    pipeline = Pipeline("phases", os.path.join(root, os.environ["WORK"]), seed=5)
    docs = pipeline.source(read(os.path.join(root, "in", "in-*.jsonl"), source="a"))
    out = docs >> DocumentLength(min_chars=40) >> KillingDedup(partitions=2)
    pipeline.sink(out, os.path.join(root, os.environ["OUT"]))
""")


def run_driver(root, work: str, out: str, kill_at: str = "") -> subprocess.CompletedProcess:
    env = os.environ | {"ROOT": str(root), "WORK": work, "OUT": out, "KILL_AT": kill_at}
    return subprocess.run([sys.executable, "-m", "curation.cli", "run", str(root / "p.py")],
                          capture_output=True, text=True, timeout=120, env=env)


def pids(records_dir) -> dict[str, int]:
    """The pid that ran each task, by record name."""
    return {p.name: json.loads(p.read_text())["ran_on"]["pid"]
            for p in sorted(records_dir.glob("*.json"))}


@pytest.mark.slow
def test_driver_killed_between_global_phases_resumes_per_phase(tmp_path):
    make_inputs(tmp_path / "in")
    (tmp_path / "p.py").write_text(DRIVER)
    assert run_driver(tmp_path, "w-clean", "o-clean").returncode == 0
    records = tmp_path / "w" / "_tasks" / "killing_dedup"

    killed = run_driver(tmp_path, "w", "o", kill_at="reduce")
    assert killed.returncode == -signal.SIGKILL
    after_scan = pids(records)
    assert sorted(after_scan) == [f"scan-{i:05d}.json" for i in range(SHARDS)]

    killed = run_driver(tmp_path, "w", "o", kill_at="apply")  # resumes, dies at apply
    assert killed.returncode == -signal.SIGKILL
    after_reduce = pids(records)
    assert {k: after_reduce[k] for k in after_scan} == after_scan  # scan was not redone
    assert sorted(k for k in after_reduce if k.startswith("reduce")) == [
        "reduce-00000.json", "reduce-00001.json"]
    assert not [k for k in after_reduce if k.startswith("apply")]
    assert not (tmp_path / "o").exists()

    final = run_driver(tmp_path, "w", "o")
    assert final.returncode == 0, final.stderr[-3000:]
    # skipped: 4 map tasks, 4 scans, 2 reduces; run: 4 applies
    assert "4 tasks run, 10 already complete" in final.stdout
    done = pids(records)
    assert {k: done[k] for k in after_reduce} == after_reduce
    assert len({done[f"apply-{i:05d}.json"] for i in range(SHARDS)} - set(after_reduce.values()))
    assert output_bytes(tmp_path / "o") == output_bytes(tmp_path / "o-clean")


def test_full_filesystem_fails_clearly_and_rerun_completes(tmp_path):
    """Work dir and sink on a 64 KiB tmpfs: the run fails naming the cause; after the space
    grows, the rerun finishes with the bytes of an undisturbed run. Needs root to mount."""
    from curation.core.errors import TaskFailed

    small = tmp_path / "small"
    small.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(small)],
                           capture_output=True)
    if mount.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        inputs = make_inputs(tmp_path / "in")
        build(inputs, str(tmp_path / "w-ok"), str(tmp_path / "o-ok")).run(progress=False)
        with pytest.raises(TaskFailed, match="No space left on device"):
            build(inputs, str(small / "w"), str(small / "o")).run(progress=False)
        subprocess.run(["mount", "-o", "remount,size=64m", str(small)], check=True)
        build(inputs, str(small / "w"), str(small / "o")).run(progress=False)
        assert output_bytes(small / "o") == output_bytes(tmp_path / "o-ok")
    finally:
        subprocess.run(["umount", "-l", str(small)], capture_output=True)
