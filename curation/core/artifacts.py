"""Files a stage's tasks read on a worker (models, indexes), shipped through the work dir.

The nodes of a cluster share no disk: a model named by a path on the driver is not there on
another node. A stage lists such files in ``Stage.artifacts()`` (name -> the driver's path of
a file or a directory) and opens them in its tasks through ``Stage.artifact(name)``.

- Before the first task of a run the driver stages each one into the work dir, addressed by
  its content::

      <workdir>/_artifacts/<digest>/files/...      the file under its base name, or the tree
      <workdir>/_artifacts/<digest>/manifest.json  name, kind, and each file's size and SHA-256

  ``digest`` is the SHA-256 of the manifest's entries, so one content (under one name) is
  staged once whatever its path, and re-staged if it changes. The manifest is written last:
  an entry that has one is complete.
- A task asks for a local path. A work dir on a local path is one every node sees (the
  executor's storage check refuses anything else on a multi-node cluster), so the staged copy
  is read in place. A work dir on object storage is fetched once per node into the cache
  ``$CURATION_CACHE/artifacts/<digest>`` (default ``~/.cache/curation``): every file checked
  against the manifest, then renamed into place whole, so no task sees a partial copy (two
  first uses at once may both fetch; one copy is kept).

A stage used outside a run (``stage.process`` in a notebook) reads its driver paths. Staging
changes no fingerprint: a stage's config already holds its files' checksums.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass

import orjson

from curation.core import fs
from curation.core.errors import CurationError

CHUNK = 8 << 20  # bytes copied and hashed at a time
ENV_CACHE = "CURATION_CACHE"
_digests: dict[tuple, dict] = {}  # (path, size, mtime_ns) of each file -> its manifest entry


def cache_root() -> str:
    """``$CURATION_CACHE``, else ``~/.cache/curation``: this machine's cache."""
    return os.environ.get(ENV_CACHE) or os.path.join(os.path.expanduser("~"), ".cache",
                                                     "curation")


@dataclass(frozen=True)
class Shipped:
    """An artifact staged at ``entry`` (``<workdir>/_artifacts/<digest>``): ``name`` is the
    base name of a file, or None for a directory."""

    entry: str
    digest: str
    name: str | None

    def local_path(self) -> str:
        """The artifact's path on this machine, fetched into the cache on first use."""
        root = self.entry if fs.is_local(self.entry) else fetch(self.entry, self.digest)
        files = os.path.join(root, "files")
        return os.path.join(files, self.name) if self.name else files


def _copy(src, dst) -> str:
    """Copy stream ``src`` into ``dst``; the SHA-256 of the bytes."""
    h = hashlib.sha256()
    while block := src.read(CHUNK):
        h.update(block)
        dst.write(block)
    return h.hexdigest()


def _file_entry(path: str, relative: str) -> dict:
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    if key not in _digests:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while block := f.read(CHUNK):
                h.update(block)
        _digests[key] = {"size": st.st_size, "sha256": h.hexdigest()}
    return {"path": relative, **_digests[key]}


def manifest_of(path: str) -> dict:
    """The manifest of the local file or directory ``path``, with its ``digest``."""
    if os.path.isfile(path):
        kind, files = "file", [_file_entry(path, os.path.basename(path))]
    elif os.path.isdir(path):
        kind, files = "dir", []
        for root, dirs, names in os.walk(path):
            dirs.sort()
            files += [_file_entry(os.path.join(root, n),
                                  os.path.relpath(os.path.join(root, n), path).replace(os.sep, "/"))
                      for n in sorted(names)]
    else:
        raise FileNotFoundError(path)
    body = {"kind": kind, "files": files}
    return {**body, "digest": hashlib.sha256(orjson.dumps(body)).hexdigest()}


def store(path: str, directory: str) -> Shipped:
    """Stage the local file or directory ``path`` under ``directory`` (a work dir's
    ``_artifacts``), unless that content is there already."""
    manifest = manifest_of(path)
    entry = fs.join(directory, manifest["digest"])
    if fs.is_local(entry):
        entry = os.path.abspath(entry)  # tasks run elsewhere than the driver's cwd
    name = os.path.basename(path) if manifest["kind"] == "file" else None
    shipped = Shipped(entry, manifest["digest"], name)
    if fs.exists(fs.join(entry, "manifest.json")):
        return shipped
    for f in manifest["files"]:
        source = path if name else os.path.join(path, f["path"])
        with open(source, "rb") as src, fs.atomic_output(fs.join(entry, "files", f["path"])) as dst:
            if _copy(src, dst) != f["sha256"]:
                raise CurationError(f"{source} changed while it was staged into {entry}; run "
                                    "again once it is no longer being written")
    fs.write_json(fs.join(entry, "manifest.json"), manifest)
    return shipped


def fetch(entry: str, digest: str) -> str:
    """The local copy of the staged ``entry`` in this machine's cache, fetched if missing."""
    local = os.path.join(cache_root(), "artifacts", digest)
    if os.path.exists(os.path.join(local, "manifest.json")):
        return local
    manifest = orjson.loads(fs.read_bytes(fs.join(entry, "manifest.json")))
    body = {"kind": manifest["kind"], "files": manifest["files"]}
    if hashlib.sha256(orjson.dumps(body)).hexdigest() != digest:
        raise CurationError(f"{entry}/manifest.json does not describe content {digest}")
    os.makedirs(os.path.dirname(local), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f"{fs.TMP_PREFIX}{digest[:16]}-", dir=os.path.dirname(local))
    try:
        for f in manifest["files"]:
            target = os.path.join(tmp, "files", *f["path"].split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            staged = fs.join(entry, "files", f["path"])
            with fs.open_input(staged) as src, open(target, "wb") as dst:
                if _copy(src, dst) != f["sha256"]:
                    raise CurationError(f"{staged}: its bytes differ from the manifest's "
                                        "SHA-256 (a damaged copy); remove the entry and rerun")
        with open(os.path.join(tmp, "manifest.json"), "wb") as out:
            out.write(orjson.dumps(manifest))
        try:
            os.rename(tmp, local)
        except OSError:  # another task of this node fetched it first
            if not os.path.exists(os.path.join(local, "manifest.json")):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return local
