"""Object storage: a whole pipeline reads from, works in and writes to an S3-compatible store
(moto's server, through pyarrow's S3FileSystem) and gives the bytes of the local run; a partial
upload never becomes a visible shard; a rerun after a failed task resumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pyarrow as pa
import pytest
from corpora import corpus, write_jsonl
from objectstore import S3_ENV, s3_files, upload

from curation import MapStage, Pipeline, read
from curation.core import fs
from curation.core.errors import InputError, TaskFailed
from curation.core.executors import RayExecutor
from curation.dedup import ExactDedup
from curation.filters import DocumentLength

SHARDS = 4


def make_local_inputs(root) -> str:
    """Four zstd JSONL shards with exact duplicates across them; returns the directory."""
    os.makedirs(root, exist_ok=True)
    docs = corpus(240)
    for k in range(SHARDS):
        write_jsonl(os.path.join(root, f"in-{k}.jsonl.zst"), docs[k::SHARDS], "zstd")
    write_jsonl(os.path.join(root, "notes.txt"), [{"text": "not matched by the glob"}])
    return str(root)


def local_files(directory: str) -> dict[str, bytes]:
    """Every file of a local directory (not recursive), by name, with its bytes."""
    return {n: open(os.path.join(directory, n), "rb").read() for n in sorted(os.listdir(directory))}


def build(inputs: str, work: str, out: str, stage: MapStage | None = None) -> Pipeline:
    """JSONL in, length filter, (an optional extra map stage), exact dedup, Parquet out."""
    p = Pipeline("s3", work, seed=3)
    docs = p.source(read(fs.join(inputs, "in-*.jsonl.zst"), source="a", batch_rows=16))
    docs = docs >> DocumentLength(min_chars=50)
    if stage is not None:
        docs = docs >> stage
    p.sink(docs >> ExactDedup(partitions=3), out)
    return p


class FailOnce(MapStage):
    """Raises on the second batch of one shard, its first batch already written, while
    ``_armed`` is set (private, so not part of the fingerprint)."""

    def __init__(self, shard: int):
        self.shard = shard
        self._armed = True
        self._batches = 0

    def process(self, batch: pa.Table, ctx) -> pa.Table:
        if self._armed and ctx.shard == self.shard:
            self._batches += 1
            if self._batches == 2:
                raise InputError(f"shard {ctx.shard}", "injected", "injected failure")
        return batch


def test_pipeline_on_s3_equals_local_run(tmp_path, bucket):
    inputs = make_local_inputs(tmp_path / "in")
    build(inputs, str(tmp_path / "w"), str(tmp_path / "o")).run(progress=False)
    upload(inputs, f"{bucket}/raw")

    result = build(f"{bucket}/raw", f"{bucket}/work", f"{bucket}/out").run(progress=False)

    assert result.ran > 0
    remote = s3_files(f"{bucket}/out")
    local = local_files(str(tmp_path / "o"))
    assert sorted(remote) == sorted(local)
    parquet = [n for n in local if n.endswith(".parquet")]
    assert parquet and all(remote[n] == local[n] for n in parquet)
    assert remote["manifest.json"] == local["manifest.json"]
    work = s3_files(f"{bucket}/work")
    assert any(k.startswith("_tasks/exact_dedup/reduce-") for k in work)
    assert any(k.startswith("_global/exact_dedup/scan/") for k in work)
    assert any(k.startswith("document_length/part-") for k in work)
    assert not [k for k in {**work, **remote} if os.path.basename(k).startswith(fs.TMP_PREFIX)]
    # a second run finds every task complete on the store
    again = build(f"{bucket}/raw", f"{bucket}/work", f"{bucket}/out").run(progress=False)
    assert again.ran == 0 and again.skipped == result.ran


TREE = ("a.jsonl", "b.jsonl", "c.parquet", ".hidden.jsonl", ".tmp-x.jsonl", "sub/c.jsonl",
        "sub/deeper/d.jsonl", "sub/.hid/e.jsonl", "sub2/f.jsonl")
PATTERNS = ("*.jsonl", "", "**/*.jsonl", "sub/*.jsonl", "?.jsonl", "[ab].jsonl", "[!a]*",
            "sub*", "**", "sub/**/*.jsonl", "*/*.jsonl", "a.jsonl")


@pytest.mark.slow
@pytest.mark.ray
def test_pipeline_on_s3_over_ray_workers_equals_local_run(tmp_path, bucket, ray_cluster):
    inputs = make_local_inputs(tmp_path / "in")
    build(inputs, str(tmp_path / "w"), str(tmp_path / "o")).run(progress=False)
    upload(inputs, f"{bucket}/raw")
    # workers started before the store would not know its endpoint: runtime_env passes it on
    env = {k: os.environ[k] for k in S3_ENV}
    result = build(f"{bucket}/raw", f"{bucket}/work", f"{bucket}/out").run(
        RayExecutor(runtime_env={"env_vars": env}), progress=False)
    assert result.ran > 0
    records = s3_files(f"{bucket}/work/_tasks")
    assert {json.loads(r)["ran_on"]["pid"] for r in records.values()} - {os.getpid()}
    remote, local = s3_files(f"{bucket}/out"), local_files(str(tmp_path / "o"))
    assert sorted(remote) == sorted(local) and all(remote[n] == local[n] for n in local)


def test_glob_expansion_on_s3_matches_local(tmp_path, bucket):
    for name in TREE:
        fs.atomic_write_bytes(fs.join(f"{bucket}/d", name), b"{}\n")
        fs.atomic_write_bytes(os.path.join(tmp_path, "d", name), b"{}\n")
    for pattern in PATTERNS:
        local = fs.expand(os.path.join(tmp_path, "d", pattern))
        remote = fs.expand(fs.join(f"{bucket}/d", pattern) if pattern else f"{bucket}/d")
        assert [p.removeprefix(f"{bucket}/d/") for p in remote] == [
            os.path.relpath(p, tmp_path / "d") for p in local], pattern
    with pytest.raises(InputError, match="no file matches"):
        fs.expand(f"{bucket}/d/*.zst")


def test_fs_helpers_on_s3(bucket):
    base = f"{bucket}/d"
    assert not fs.exists(base) and fs.list_dir(base) == []
    for name in ("a.jsonl", "b.jsonl", ".hidden.jsonl", "sub/c.jsonl"):
        fs.atomic_write_bytes(fs.join(base, name), b"{}\n")
    assert fs.exists(fs.join(base, "a.jsonl")) and fs.exists(base)
    assert fs.list_dir(base) == [".hidden.jsonl", "a.jsonl", "b.jsonl"]
    assert fs.list_dir(base, directories=True) == ["sub"]
    assert fs.list_dir(fs.join(base, "missing")) == []
    fs.remove(fs.join(base, "a.jsonl"))
    fs.remove(fs.join(base, "a.jsonl"))  # removing what is gone is not an error
    assert not fs.exists(fs.join(base, "a.jsonl"))
    assert fs.read_bytes(fs.join(base, "b.jsonl")) == b"{}\n"
    fs.atomic_write_bytes(fs.join(base, "b.jsonl"), b"new")  # replacing an object
    assert fs.read_bytes(fs.join(base, "b.jsonl")) == b"new"
    # a name ending in .zst is stored as written, not compressed again on the way
    fs.atomic_write_bytes(fs.join(base, "x.jsonl.zst"), b"plain")
    assert fs.read_bytes(fs.join(base, "x.jsonl.zst")) == b"plain"


def test_failed_upload_leaves_no_visible_object(bucket):
    target = f"{bucket}/shards/part-00000-000.parquet"
    block = os.urandom(1 << 20)
    with pytest.raises(RuntimeError, match="mid-write"), fs.atomic_output(target) as f:
        for _ in range(12):  # past pyarrow's 5 MiB part size: a multipart upload is under way
            f.write(block)
        raise RuntimeError("failure mid-write")
    assert s3_files(f"{bucket}/shards") == {}


KILLED_WRITER = textwrap.dedent("""
    import os, signal, sys
    from curation.core import fs
    with fs.atomic_output(sys.argv[1]) as f:
        for _ in range(12):
            f.write(os.urandom(1 << 20))
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
""")


def test_writer_killed_mid_upload_leaves_no_visible_shard(bucket):
    target = f"{bucket}/shards/part-00000-000.parquet"
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER, target], timeout=60,
                          capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert not fs.exists(target)
    assert [k for k in s3_files(f"{bucket}/shards") if not k.startswith(fs.TMP_PREFIX)] == []


def test_rerun_after_failed_task_resumes_on_s3(tmp_path, bucket):
    inputs = make_local_inputs(tmp_path / "in")
    reference = FailOnce(2)
    reference._armed = False
    build(inputs, str(tmp_path / "w"), str(tmp_path / "o"), reference).run(progress=False)
    upload(inputs, f"{bucket}/raw")
    stage = FailOnce(2)
    with pytest.raises(TaskFailed, match="in-2.jsonl.zst.*injected failure"):
        build(f"{bucket}/raw", f"{bucket}/work", f"{bucket}/out", stage).run(progress=False)
    assert stage._batches == 2  # the failure came mid-shard, after a batch was written
    assert sorted(s3_files(f"{bucket}/work/_tasks/fail_once")) == [
        "map-00000.json", "map-00001.json"]
    assert sorted(s3_files(f"{bucket}/work/fail_once")) == [
        "part-00000-000.parquet", "part-00001-000.parquet"]  # no partial shard 2, no temp key
    assert not fs.exists(f"{bucket}/out")

    stage._armed = False
    result = build(f"{bucket}/raw", f"{bucket}/work", f"{bucket}/out", stage).run(progress=False)
    assert result.skipped == 2  # the two map tasks that had completed
    remote, local = s3_files(f"{bucket}/out"), local_files(str(tmp_path / "o"))
    assert sorted(remote) == sorted(local)
    assert all(remote[n] == local[n] for n in local)
