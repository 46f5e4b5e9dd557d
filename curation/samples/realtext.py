"""A real-text corpus of web-like documents from text every installation of this project carries.

Sources, in this fixed order (each one a *source text*; identical texts are kept once):

1. the language reference's help topics shipped with the interpreter (``pydoc_data``), one
   source per topic;
2. the docstrings of ``python_docs.MODULES`` (standard library), one source per module;
3. for every installed distribution, sorted by name (this project's own excluded): its long
   description (the body of ``METADATA``: usually the README), its licence files (``LICENSE*``,
   ``LICENCE*``, ``COPYING*``, ``NOTICE*``, anything under ``licenses/``) and the docstrings of
   each of its ``.py`` files (read with ``ast``, nothing is imported), one source per file.

Undecodable or binary files are skipped. ``*.txt``/``*.rst``/``*.md`` files shipped inside
site-packages are not used: measured here they are mostly data (word lists, test tables).

Each source text is split into paragraphs at blank lines (a paragraph over ``MAX_DOC_BYTES`` is
cut at line breaks, or at a character boundary for a single over-long line), and consecutive
paragraphs are joined with ``"\\n\\n"`` into documents: a document is closed when it reaches its
length target, drawn in [``MIN_DOC_BYTES``, ``MAX_DOC_BYTES``] from an xxh3 hash of the source
name and the document's index, or when the next paragraph would take it over ``MAX_DOC_BYTES``.
A run shorter than ``MIN_DOC_BYTES`` (a source's tail, or a run before a long paragraph) is
appended to the previous document of its source if that stays within ``MAX_DOC_BYTES``, and is
dropped otherwise (counted in ``meta.json`` as ``dropped_bytes``). So every document is
``MIN_DOC_BYTES`` to ``MAX_DOC_BYTES`` UTF-8 bytes and is ``"\\n\\n".join`` of a run of
consecutive ``paragraphs()`` of one source, the runs of one source in order and disjoint.

Sources are taken in order until the documents hold ``target_mb`` MB (1 MB = 10**6 bytes of
UTF-8 text) or the sources run out. Documents are then ordered by an xxh3 hash of their id and
dealt round-robin to the shards. Deterministic: same interpreter and installed distributions,
same bytes. Measured in this project's environment (2 cores): all sources together make about
55 MB in 17.7k documents (mean 3.1 KB, p10 1.4 KB, p90 5.4 KB), below the default target;
the build takes about 80 s, most of it parsing the 350 MB of installed ``.py`` files.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import json
import os
import re
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import xxhash
import zstandard

from curation.samples.python_docs import (
    MIN_CHARS,
    MODULES,
    _docstrings,
    _topics,
    library_url,
    topic_url,
)

KB = 1024
MIN_DOC_BYTES = 1 * KB
MAX_DOC_BYTES = 6 * KB
DEFAULT_TARGET_MB = 64.0
DEFAULT_SHARDS = 8
META = "meta.json"
OWN_DISTRIBUTION = "curation"  # this project: its README changes with the code, so not used
_LICENSE_NAME = re.compile(r"(?i)^(licen[cs]e|copying|notice)")
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n)+")


@dataclass(frozen=True)
class SourceText:
    """One source text: ``name`` (unique, stable: ``kind:...``), its ``url``, its ``text``."""

    name: str
    url: str
    text: str

    @property
    def kind(self) -> str:
        return self.name.split(":", 1)[0]


def _split_long(paragraph: str) -> list[str]:
    """``paragraph`` cut into pieces of at most ``MAX_DOC_BYTES`` bytes: at line breaks (the
    newline dropped), and a single over-long line at UTF-8 character boundaries."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for line in paragraph.split("\n"):
        data = line.encode()
        if current and size + 1 + len(data) > MAX_DOC_BYTES:
            pieces.append("\n".join(current))
            current, size = [], 0
        while len(data) > MAX_DOC_BYTES:  # one line over the maximum: cut at a character
            cut = MAX_DOC_BYTES
            while data[cut] & 0xC0 == 0x80:
                cut -= 1
            pieces.append(data[:cut].decode())
            data = data[cut:]
        size += len(data) + (1 if current else 0)
        current.append(data.decode())
    if current:
        pieces.append("\n".join(current))
    return [p for p in pieces if p.strip()]


def paragraphs(text: str) -> list[str]:
    """The paragraphs of ``text``: split at blank lines (lines of spaces and tabs count as
    blank), trailing whitespace and blank paragraphs dropped, leading indentation kept; a
    paragraph over ``MAX_DOC_BYTES`` is cut by ``_split_long``. No paragraph contains
    ``"\\n\\n"``, so a document joined with ``"\\n\\n"`` splits back into its paragraphs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out = []
    for para in _BLANK_LINES.split(text):
        para = para.strip("\n").rstrip()
        if not para.strip():
            continue
        out += _split_long(para) if len(para.encode()) > MAX_DOC_BYTES else [para]
    return out


def doc_target(source: str, index: int) -> int:
    """Length target in bytes of document ``index`` of ``source``, in [MIN, MAX]_DOC_BYTES."""
    h = xxhash.xxh3_64_intdigest(f"{source}#{index}".encode())
    return MIN_DOC_BYTES + h % (MAX_DOC_BYTES - MIN_DOC_BYTES + 1)


def split_documents(source: SourceText) -> tuple[list[str], int]:
    """(documents of ``source``, bytes of paragraphs dropped); see the module docstring."""
    docs: list[str] = []
    run: list[str] = []
    size = 0
    dropped = 0

    def close() -> None:
        nonlocal size, dropped
        if not run:
            return
        if size >= MIN_DOC_BYTES:
            docs.append("\n\n".join(run))
        elif docs and len(docs[-1].encode()) + 2 + size <= MAX_DOC_BYTES:
            docs[-1] = "\n\n".join([docs[-1], *run])
        else:
            dropped += size
        run.clear()
        size = 0

    for para in paragraphs(source.text):
        n = len(para.encode())
        if run and size + 2 + n > MAX_DOC_BYTES:
            close()
        size += n + (2 if run else 0)
        run.append(para)
        if size >= doc_target(source.name, len(docs)):
            close()
    close()
    return docs, dropped


def _read_text(path: str) -> str | None:
    """The file's text, or None when it is missing, binary or not UTF-8."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        if b"\x00" in data:
            return None
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def file_docstrings(source: str) -> str:
    """The docstrings (at least ``MIN_CHARS`` characters, cleaned like ``inspect.cleandoc``)
    of a module, its classes and functions, nested ones included, in source order, separated
    by blank lines; empty when the source does not parse."""
    try:
        with warnings.catch_warnings():  # invalid escape sequences and the like
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ""
    found: list[str] = []

    def visit(node: ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        doc = ast.get_docstring(node)
        if doc and len(doc) >= MIN_CHARS:
            found.append(doc)
        for child in node.body:
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child)

    visit(tree)
    return "\n\n".join(found)


def _python_docs() -> Iterator[SourceText]:
    for key, text in _topics():
        yield SourceText(f"python-topic:{key}", topic_url(key), text)
    for module in MODULES:
        text = "\n\n".join(doc for _, doc in _docstrings(module))
        yield SourceText(f"python-stdlib:{module}", library_url(module), text)


def _distributions() -> list[importlib.metadata.Distribution]:
    """Installed distributions sorted by normalised name, one per name, this project's
    excluded."""
    found: dict[str, importlib.metadata.Distribution] = {}
    for dist in importlib.metadata.distributions():
        name = re.sub(r"[-_.]+", "-", (dist.metadata["Name"] or "").lower())
        if name and name != OWN_DISTRIBUTION:
            found.setdefault(name, dist)
    return [found[n] for n in sorted(found)]


def _distribution_texts(dist: importlib.metadata.Distribution) -> Iterator[SourceText]:
    name = dist.metadata["Name"]
    url = f"https://pypi.org/project/{name}/{dist.version}/"
    body = dist.metadata.get_payload()  # type: ignore[attr-defined]
    if isinstance(body, str):
        yield SourceText(f"readme:{name}", url, body)
    for path in sorted(dist.files or [], key=str):
        parts = path.parts
        is_license = _LICENSE_NAME.match(path.name) or "licenses" in (p.lower() for p in parts[:-1])
        if not (is_license or path.suffix == ".py"):
            continue
        text = _read_text(str(path.locate()))
        if text is None:
            continue
        if is_license:
            yield SourceText(f"license:{name}/{path}", f"{url}#{path}", text)
        else:
            yield SourceText(f"docstrings:{name}/{path}", f"{url}#{path}", file_docstrings(text))


def source_texts() -> Iterator[SourceText]:
    """Every source text in the fixed order of the module docstring; an identical text (many
    licences are the same file) is yielded once, blank ones never."""
    seen: set[bytes] = set()

    def all_sources() -> Iterator[SourceText]:
        yield from _python_docs()
        for dist in _distributions():
            yield from _distribution_texts(dist)

    for src in all_sources():
        if not src.text.strip():
            continue
        digest = hashlib.sha256(src.text.encode()).digest()
        if digest not in seen:
            seen.add(digest)
            yield src


def size_summary(sizes: list[int]) -> dict[str, float]:
    """mean, p10, p50, p90, min and max of document sizes in bytes (zeros when empty)."""
    a = np.asarray(sizes or [0], dtype=np.float64)
    return {"mean": float(a.mean()), **{f"p{q}": float(np.percentile(a, q)) for q in (10, 50, 90)},
            "min": float(a.min()), "max": float(a.max())}


def _shard_paths(out_dir: str, shards: int) -> list[str]:
    return [os.path.join(out_dir, f"real-text-{k}.jsonl.zst") for k in range(shards)]


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _complete(out_dir: str, target_mb: float, shards: int) -> bool:
    """Whether ``out_dir`` holds a finished build of these parameters (checksums verified)."""
    try:
        with open(os.path.join(out_dir, META)) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return False
    if meta.get("target_mb") != target_mb or len(meta.get("shards", {})) != shards:
        return False
    return all(os.path.exists(p) and meta["shards"][os.path.basename(p)] == _sha256(p)
               for p in _shard_paths(out_dir, shards))


def read_meta(out_dir: str) -> dict:
    """The ``meta.json`` of a build: ``docs``, ``bytes`` (UTF-8 text), ``mb``, ``sources``
    (count per kind), ``dropped_bytes``, ``doc_bytes`` (mean, p10, p50, p90, min, max),
    ``target_mb``, ``shards`` (file name -> sha256), ``build_seconds``."""
    with open(os.path.join(out_dir, META)) as f:
        return json.load(f)


def build_real_text_corpus(out_dir: str, target_mb: float = DEFAULT_TARGET_MB,
                           shards: int = DEFAULT_SHARDS) -> list[str]:
    """Write ``real-text-<k>.jsonl.zst`` shards (records ``id``, ``text``, ``url``; the reader
    sets ``source``) and ``meta.json`` to ``out_dir``; returns the shard paths.

    About ``target_mb`` MB of text (less if the installation holds less, a little more since
    the last source is split whole). Skipped when ``meta.json`` and the shards it names with
    their checksums are there for the same ``target_mb`` and ``shards``.
    """
    paths = _shard_paths(out_dir, shards)
    if _complete(out_dir, target_mb, shards):
        return paths
    t0 = time.perf_counter()
    os.makedirs(out_dir, exist_ok=True)
    for name in os.listdir(out_dir):  # a stale or partial build: its meta and every shard
        if name == META or (name.startswith("real-text-") and name.endswith(".jsonl.zst")):
            os.remove(os.path.join(out_dir, name))
    records: list[tuple[int, str, bytes]] = []
    sizes: list[int] = []
    kinds: Counter[str] = Counter()
    total = dropped = 0
    for src in source_texts():
        if total >= target_mb * 1e6:
            break
        docs, lost = split_documents(src)
        dropped += lost
        kinds[src.kind] += 1
        for k, text in enumerate(docs):
            doc_id = f"{src.name}#{k}"
            line = json.dumps({"id": doc_id, "text": text, "url": src.url}, ensure_ascii=False)
            records.append((xxhash.xxh3_64_intdigest(doc_id.encode()), doc_id,
                            line.encode() + b"\n"))
            sizes.append(len(text.encode()))
            total += sizes[-1]
    records.sort()
    compressor = zstandard.ZstdCompressor(level=10)
    for k, path in enumerate(paths):
        with open(path + ".tmp", "wb") as f:
            f.write(compressor.compress(b"".join(line for _, _, line in records[k::shards])))
        os.replace(path + ".tmp", path)
    meta = {
        "docs": len(records), "bytes": total, "mb": total / 1e6, "sources": dict(kinds),
        "dropped_bytes": dropped, "doc_bytes": size_summary(sizes),
        "target_mb": target_mb, "shards": {os.path.basename(p): _sha256(p) for p in paths},
        "build_seconds": time.perf_counter() - t0,
    }
    with open(os.path.join(out_dir, META + ".tmp"), "w") as f:
        json.dump(meta, f, indent=2)
    os.replace(os.path.join(out_dir, META + ".tmp"), os.path.join(out_dir, META))
    return paths
