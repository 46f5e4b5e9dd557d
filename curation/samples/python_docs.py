"""A small real-text corpus from the Python documentation shipped with the interpreter.

Documents are the language reference's help topics (``pydoc_data.topics``, one document per
section) and the docstrings of a fixed list of standard-library modules, their public classes
and functions. The text is English prose with code, under the PSF licence, and contains the
natural duplicates of real data (modules that share docstrings, such as ``os.path`` and
``posixpath``). Built deterministically: same interpreter version, same bytes.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re

import xxhash
import zstandard

MODULES = tuple(
    (
        "abc argparse array ast asyncio base64 bisect bz2 calendar cmath codecs collections "
        "concurrent.futures contextlib copy csv dataclasses datetime decimal difflib dis email "
        "enum fnmatch fractions ftplib functools gc getopt gettext glob graphlib gzip hashlib "
        "heapq hmac html html.parser http.client http.server imaplib inspect io ipaddress "
        "itertools json keyword linecache locale logging lzma mailbox math mimetypes "
        "multiprocessing numbers operator optparse os os.path pathlib pickle pkgutil platform "
        "plistlib poplib posixpath pprint queue quopri random re reprlib sched secrets select "
        "selectors shelve shlex shutil signal smtplib socket socketserver sqlite3 ssl stat "
        "statistics string struct subprocess symtable sysconfig tarfile tempfile textwrap "
        "threading timeit token tokenize tomllib trace traceback types typing unicodedata "
        "unittest urllib.parse urllib.request uuid warnings wave weakref xml.dom.minidom "
        "xml.etree.ElementTree zipfile zlib zoneinfo "
    ).split()
)
MIN_CHARS = 200


def _docstrings(module_name: str) -> list[tuple[str, str]]:
    """(qualified name, docstring) of a module and its public classes and functions."""
    module = importlib.import_module(module_name)
    out = []
    if module.__doc__:
        out.append((module_name, module.__doc__))
    for name in sorted(getattr(module, "__all__", None) or dir(module)):
        if name.startswith("_"):
            continue
        obj = getattr(module, name, None)
        doc = getattr(obj, "__doc__", None)
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and isinstance(doc, str):
            out.append((f"{module_name}.{name}", inspect.cleandoc(doc)))
    return [(n, d) for n, d in out if len(d) >= MIN_CHARS]


def _topics() -> list[tuple[str, str]]:
    """(key, text) of every help topic of the language reference, sorted by key."""
    from pydoc_data.topics import topics

    return [(key, topics[key]) for key in sorted(topics)]


def _topic_sections() -> list[tuple[str, str]]:
    out = []
    for key, text in _topics():
        # sections are separated by underlined headings; keep each as one document
        parts = re.split(r"\n(?=[^\n]+\n[*=\-~^]{3,}\n)", text)
        for i, part in enumerate(parts):
            if len(part.strip()) >= MIN_CHARS:
                out.append((f"{key}#{i}", part.strip()))
    return out


def topic_url(name: str) -> str:
    """docs.python.org address of a help topic (``key`` or ``key#section``)."""
    return f"https://docs.python.org/3/reference/{name.split('#')[0]}.html"


def library_url(name: str) -> str:
    """docs.python.org address of a standard-library module or one of its members."""
    return f"https://docs.python.org/3/library/{name.split('.')[0]}.html#{name}"


def _created(name: str) -> str:
    """A deterministic date between 2015 and 2024 derived from the name."""
    h = xxhash.xxh3_64_intdigest(name.encode())
    year, month, day = 2015 + h % 10, 1 + (h >> 8) % 12, 1 + (h >> 16) % 28
    return f"{year:04d}-{month:02d}-{day:02d}T{(h >> 24) % 24:02d}:00:00Z"


def build_python_docs_corpus(out_dir: str, shards: int = 4) -> list[str]:
    """Write ``python-docs-<k>.jsonl.zst`` shards to ``out_dir``; returns their paths.

    Each line: ``id``, ``text``, ``url`` (docs.python.org), ``created``. No ``source``: the
    reader sets it. Existing complete shards are kept (the build is skipped).
    """
    paths = [os.path.join(out_dir, f"python-docs-{k}.jsonl.zst") for k in range(shards)]
    if all(os.path.exists(p) for p in paths):
        return paths
    os.makedirs(out_dir, exist_ok=True)
    docs = [("topic", n, t) for n, t in _topic_sections()]
    for module in MODULES:
        docs += [("docstring", n, t) for n, t in _docstrings(module)]
    lines: list[list[bytes]] = [[] for _ in range(shards)]
    for i, (kind, name, text) in enumerate(docs):
        url = topic_url(name) if kind == "topic" else library_url(name)
        record = {"id": f"{kind}:{name}", "text": text, "url": url, "created": _created(name)}
        lines[i % shards].append(json.dumps(record, ensure_ascii=False).encode() + b"\n")
    compressor = zstandard.ZstdCompressor(level=10)
    for path, shard_lines in zip(paths, lines, strict=True):
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(compressor.compress(b"".join(shard_lines)))
        os.replace(tmp, path)
    return paths
