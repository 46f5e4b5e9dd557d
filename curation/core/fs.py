"""Paths on any pyarrow filesystem: expand globs, open inputs, write outputs atomically.

Local paths use the os module directly (with fsync); other schemes go through
``pyarrow.fs.FileSystem.from_uri`` (s3://, gs://, hdfs://...). An output becomes visible only
by a rename of a finished temporary file, so a reader never sees a partial file.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
from collections.abc import Iterator

import pyarrow.fs as pafs

from curation.core.errors import InputError

GLOB_CHARS = "*?["
TMP_PREFIX = ".tmp-"


def is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def resolve(path: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem holding ``path`` and the path inside it."""
    if is_local(path):
        return pafs.LocalFileSystem(), os.path.abspath(path.removeprefix("file://"))
    try:
        return pafs.FileSystem.from_uri(path)
    except Exception as e:  # pyarrow raises ArrowInvalid / ValueError for unknown schemes
        raise InputError(path, "unsupported_path", f"cannot open this path: {e}") from None


def expand(patterns: str | list[str]) -> list[str]:
    """Files matching glob patterns or directories (recursively), sorted, without duplicates.

    Hidden files and our own temporary files are skipped. A pattern matching nothing is an error.
    """
    if isinstance(patterns, str):
        patterns = [patterns]
    found: list[str] = []
    for pattern in patterns:
        matches = _expand_one(pattern)
        if not matches:
            raise InputError(pattern, "no_input", "no file matches this path or pattern")
        found.extend(matches)
    return sorted(set(found))


def _expand_one(pattern: str) -> list[str]:
    if is_local(pattern):
        pattern = pattern.removeprefix("file://")
        magic = any(c in pattern for c in GLOB_CHARS)
        paths = glob.glob(pattern, recursive=True) if magic else [pattern]
        # a glob's input root: the directory before its first wildcard
        cut = min((pattern.find(c) for c in GLOB_CHARS if c in pattern), default=len(pattern))
        top = os.path.dirname(pattern[:cut]) or "."
        out: list[str] = []
        for p in paths:
            if magic:
                _check_inside(p, top)
            if os.path.isdir(p):
                for root, dirs, files in os.walk(p):
                    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                    files = [f for f in files if not f.startswith(".")]
                    for name in dirs + files:
                        _check_inside(os.path.join(root, name), p)
                    out.extend(os.path.join(root, f) for f in files)
            elif os.path.isfile(p):
                out.append(p)
        return [os.path.abspath(p) for p in out]
    # a URI parser would take '?' for a query: resolve the part before the first wildcard only
    scheme = pattern.split("://", 1)[0]
    cut = min((pattern.find(c) for c in GLOB_CHARS if c in pattern), default=-1)
    head = pattern if cut < 0 else pattern[:cut].rsplit("/", 1)[0]
    if "://" not in head:
        raise InputError(pattern, "unsupported_path", "a bucket name cannot hold wildcards")
    try:
        fs, base = resolve(head)
    except InputError as e:  # name the pattern the user wrote
        raise InputError(pattern, e.reason, e.message) from None
    base = base.rstrip("/")
    path = base + pattern[len(head):]
    info = fs.get_file_info(base)
    if info.type == pafs.FileType.File:
        return [f"{scheme}://{base}"]
    if info.type == pafs.FileType.NotFound:
        return []
    matches = _glob_regex(path).fullmatch if cut >= 0 else None
    out = []
    for i in fs.get_file_info(pafs.FileSelector(base, recursive=True)):
        parts = i.path[len(base) + 1 :].split("/")
        if i.type != pafs.FileType.File or any(p.startswith(".") for p in parts):
            continue  # hidden files and directories are skipped, as locally
        # a file matches, or lies under a directory that matches (which is then walked)
        if matches is None or any(
            matches("/".join([base, *parts[: k + 1]])) for k in range(len(parts))
        ):
            out.append(f"{scheme}://{i.path}")
    return out


def _check_inside(path: str, root: str) -> None:
    """A path met while expanding a directory or a glob must resolve inside the input root: a
    symlink leading elsewhere (``/etc``, another user's data) is an error naming it, not read."""
    target, top = os.path.realpath(path), os.path.realpath(root)
    if os.path.commonpath([target, top]) != top:
        raise InputError(path, "outside_root",
                         f"resolves (through a symlink) to {target}, outside the input root "
                         f"{top}; name the target itself to read it")


def _glob_regex(pattern: str) -> re.Pattern:
    """``glob``'s rules as a regex over ``/`` paths: ``*``, ``?`` and ``[...]`` stay within one
    path component, ``**/`` spans any number of directories (``recursive=True``)."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
            continue
        if pattern.startswith("**", i) and i + 2 == len(pattern):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and (end := pattern.find("]", i + 2)) > 0:
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


def open_input(path: str, filesystem: pafs.FileSystem | None = None):
    """A binary, seekable-if-possible input stream."""
    if filesystem is None and is_local(path):
        return open(path.removeprefix("file://"), "rb")
    fs, inner = (filesystem, path) if filesystem is not None else resolve(path)
    return fs.open_input_file(inner)


def file_identity(path: str) -> dict:
    """What identifies an input file's version cheaply: size and modification time."""
    fs, inner = resolve(path)
    info = fs.get_file_info(inner)
    if info.type != pafs.FileType.File:
        raise InputError(path, "missing_file", "input file is missing")
    mtime = info.mtime_ns if info.mtime_ns is not None else None
    return {"path": path, "size": info.size, "mtime_ns": mtime}


def join(base: str, *parts: str) -> str:
    if is_local(base):
        return os.path.join(base, *parts)
    return "/".join([base.rstrip("/"), *parts])


def makedirs(path: str) -> None:
    if is_local(path):
        os.makedirs(path, exist_ok=True)
    else:
        fs, inner = resolve(path)
        fs.create_dir(inner, recursive=True)


def exists(path: str) -> bool:
    if is_local(path):
        return os.path.exists(path)
    fs, inner = resolve(path)
    return fs.get_file_info(inner).type != pafs.FileType.NotFound


def remove(path: str) -> None:
    if is_local(path):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
    else:
        fs, inner = resolve(path)
        with contextlib.suppress(FileNotFoundError):
            fs.delete_file(inner)


def list_dir(path: str, directories: bool = False) -> list[str]:
    """Names (not paths) of the files (or, with ``directories``, the subdirectories) directly
    inside ``path``; empty if it does not exist."""
    if is_local(path):
        try:
            return sorted(e.name for e in os.scandir(path)
                          if (e.is_dir() if directories else e.is_file()))
        except FileNotFoundError:
            return []
    fs, inner = resolve(path)
    infos = fs.get_file_info(pafs.FileSelector(inner, allow_not_found=True))
    kind = pafs.FileType.Directory if directories else pafs.FileType.File
    return sorted(i.base_name for i in infos if i.type == kind)


def tmp_path_for(path: str) -> str:
    head, tail = os.path.split(path) if is_local(path) else path.rsplit("/", 1)
    return join(head, f"{TMP_PREFIX}{tail}")


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator:
    """Write to a temporary sibling, then make it visible at ``path`` by rename.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    tmp = tmp_path_for(path)
    if is_local(path):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        f = open(tmp, "wb")  # noqa: SIM115 (closed below, on every path)
    else:
        fs, inner = resolve(tmp)
        f = fs.open_output_stream(inner, compression=None)  # bytes as given, whatever the name
    try:
        yield f
        if is_local(path):
            f.flush()
            os.fsync(f.fileno())
        f.close()
    except BaseException:
        with contextlib.suppress(OSError):  # closing can fail again (a full disk): the first
            f.close()                        # error is the one to report
        remove(tmp)
        raise
    if is_local(path):
        os.replace(tmp, path)
    else:
        fs, inner = resolve(path)
        fs.move(resolve(tmp)[1], inner)


def atomic_write_bytes(path: str, data: bytes) -> None:
    with atomic_output(path) as f:
        f.write(data)


def write_json(path: str, obj) -> None:
    """Atomically write ``obj`` as indented JSON."""
    import orjson

    atomic_write_bytes(path, orjson.dumps(obj, option=orjson.OPT_INDENT_2))


def read_bytes(path: str) -> bytes:
    with open_input(path) as f:
        return f.read()
