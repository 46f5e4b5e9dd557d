"""Artifacts: files stages read on workers, staged into the work dir by content and fetched
into each node's cache (local work dirs are read in place)."""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from corpora import corpus, write_jsonl

from curation import MapStage, Pipeline, read
from curation.core import artifacts, fs
from curation.core.errors import CurationError


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def make_tree(root) -> str:
    """A directory with a nested file: what a decon index or a tokenizer folder looks like."""
    os.makedirs(root / "sub")
    (root / "a.bin").write_bytes(b"\x00\x01" * 1000)
    (root / "sub" / "b.json").write_text('{"b": 1}')
    return str(root)


def test_a_file_is_stored_once_per_content(tmp_path):
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights" * 100)
    store = str(tmp_path / "work" / "_artifacts")
    first = artifacts.store(str(model), store)
    assert read_bytes(first.local_path()) == model.read_bytes()
    assert first.local_path() == os.path.join(first.entry, "files", "model.bin")
    manifest = os.path.join(first.entry, "manifest.json")
    written = os.stat(manifest).st_mtime_ns
    copy = tmp_path / "elsewhere"
    copy.mkdir()
    (copy / "model.bin").write_bytes(model.read_bytes())
    again = artifacts.store(str(copy / "model.bin"), store)
    assert again == first and os.stat(manifest).st_mtime_ns == written  # not staged twice
    model.write_bytes(b"retrained")
    changed = artifacts.store(str(model), store)
    assert changed.digest != first.digest
    assert read_bytes(changed.local_path()) == b"retrained"
    assert sorted(os.listdir(store)) == sorted([first.digest, changed.digest])


def test_a_relative_work_dir_gives_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.bin").write_bytes(b"m")
    shipped = artifacts.store("m.bin", "work/_artifacts")
    assert os.path.isabs(shipped.local_path())  # a worker's cwd is not the driver's


def test_a_directory_travels_through_object_storage(tmp_path, bucket, monkeypatch):
    monkeypatch.setenv(artifacts.ENV_CACHE, str(tmp_path / "cache"))
    tree = make_tree(tmp_path / "index")
    shipped = artifacts.store(tree, f"{bucket}/work/_artifacts")
    assert fs.exists(f"{bucket}/work/_artifacts/{shipped.digest}/files/sub/b.json")
    local = shipped.local_path()
    assert local == str(tmp_path / "cache" / "artifacts" / shipped.digest / "files")
    assert read_bytes(os.path.join(local, "a.bin")) == b"\x00\x01" * 1000
    assert read_bytes(os.path.join(local, "sub", "b.json")) == b'{"b": 1}'
    fs.remove(f"{bucket}/work/_artifacts/{shipped.digest}/files/a.bin")
    assert shipped.local_path() == local  # fetched once: later uses read the cache
    leftovers = [n for n in os.listdir(tmp_path / "cache" / "artifacts") if n != shipped.digest]
    assert leftovers == []


def test_a_damaged_staged_copy_is_refused(tmp_path, bucket, monkeypatch):
    monkeypatch.setenv(artifacts.ENV_CACHE, str(tmp_path / "cache"))
    (tmp_path / "m.bin").write_bytes(b"good bytes")
    shipped = artifacts.store(str(tmp_path / "m.bin"), f"{bucket}/a")
    fs.atomic_write_bytes(f"{bucket}/a/{shipped.digest}/files/m.bin", b"bad bytes!")
    with pytest.raises(CurationError, match="differ from the manifest's SHA-256"):
        shipped.local_path()
    assert os.listdir(tmp_path / "cache" / "artifacts") == []  # no partial copy left
    with pytest.raises(CurationError, match="does not describe content"):
        artifacts.fetch(f"{bucket}/a/{shipped.digest}", "0" * 64)


class ReadsArtifact(MapStage):
    """Adds the path it read its artifact from and the artifact's bytes."""

    adds = {"from_path": pa.string(), "payload": pa.string()}

    def __init__(self, path: str):
        self.path = path

    def artifacts(self) -> dict[str, str]:
        return {"payload": self.path}

    def process(self, batch, ctx):
        local = self.artifact("payload")
        with open(local) as f:
            payload = f.read()
        n = batch.num_rows
        return (batch.append_column("from_path", pa.array([local] * n, pa.string()))
                .append_column("payload", pa.array([payload] * n, pa.string())))


def run_reader(tmp_path, workdir: str, sink: str, stage: MapStage) -> list[dict]:
    os.makedirs(tmp_path / "in", exist_ok=True)
    write_jsonl(tmp_path / "in" / "docs.jsonl", corpus(20))
    p = Pipeline("artifacts", workdir)
    p.sink(p.source(read(str(tmp_path / "in"), source="t")) >> stage, sink)
    result = p.run(progress=False)
    return [row for f in result.outputs["sink"]
            for row in pq.read_table(fs.open_input(f)).select(["from_path", "payload"])
            .to_pylist()]


def test_a_run_reads_the_staged_copy_not_the_drivers_path(tmp_path):
    (tmp_path / "payload.txt").write_text("hello")
    stage = ReadsArtifact(str(tmp_path / "payload.txt"))
    assert stage.artifact("payload") == str(tmp_path / "payload.txt")  # outside a run
    rows = run_reader(tmp_path, str(tmp_path / "work"), str(tmp_path / "out"), stage)
    staged = str(tmp_path / "work" / "_artifacts")
    assert {r["payload"] for r in rows} == {"hello"}
    assert all(r["from_path"].startswith(staged + os.sep) for r in rows)


def test_a_run_on_object_storage_fetches_into_the_cache(tmp_path, bucket, monkeypatch):
    monkeypatch.setenv(artifacts.ENV_CACHE, str(tmp_path / "cache"))
    (tmp_path / "payload.txt").write_text("over s3")
    rows = run_reader(tmp_path, f"{bucket}/work", f"{bucket}/out",
                      ReadsArtifact(str(tmp_path / "payload.txt")))
    assert {r["payload"] for r in rows} == {"over s3"}
    assert all(r["from_path"].startswith(str(tmp_path / "cache" / "artifacts")) for r in rows)


def test_a_missing_artifact_names_the_stage(tmp_path):
    stage = ReadsArtifact(str(tmp_path / "gone.txt"))
    with pytest.raises(CurationError, match=r"ReadsArtifact: its payload .*gone.txt is missing"):
        run_reader(tmp_path, str(tmp_path / "work"), str(tmp_path / "out"), stage)
