"""Shared pieces of the benchmarks: the input corpus (real text by default, or synthetic), timing,
peak memory, and the table row every benchmark reports.

A benchmark module exposes ``run(corpus: Corpus, workdir: str) -> dict``: ``corpus`` is built or
taken from the cache beforehand and ``workdir`` (its scratch space) is empty; ``run`` returns
``{"rows": [row, ...], ...}`` plus anything else worth keeping, and ``curate bench`` adds the
input's description (``Corpus.describe``). Rows come from ``compare`` (ours and the peer timed
back to back on the same work) or ``rate_row`` (sides timed separately, e.g. on different
amounts of work); each row has the rate in its own ``metric`` and in docs/s and MB/s of text.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import psutil

INPUTS = ("real", "synthetic")
DEFAULT_INPUT = "real"
DEFAULT_DOCS = 20_000  # synthetic documents


@dataclass(frozen=True)
class Corpus:
    """A benchmark's input: JSONL.zst shards of documents (``id``, ``text``, ``url``, ...).

    ``kind`` is ``"real"`` or ``"synthetic"``; ``root`` is the corpus directory (a synthetic one
    also holds ``truth.parquet`` and ``evals/``); ``files`` are the shards, sorted, all in one
    directory (``data_dir``); ``docs`` counts documents and ``text_mb`` their text in MB
    (10**6 bytes of UTF-8), both as our reader reads them.
    """

    kind: str
    root: str
    files: list[str]
    docs: int
    text_mb: float

    @property
    def data_dir(self) -> str:
        return os.path.dirname(self.files[0])

    @property
    def file_mb(self) -> float:
        """Size of the compressed shards in MB."""
        return sum(os.path.getsize(f) for f in self.files) / 1e6

    @property
    def label(self) -> str:
        """e.g. ``real-text (17,739 docs, 55 MB)``: the table's input column."""
        name = "real-text" if self.kind == "real" else self.kind
        mb = f"{self.text_mb:.0f}" if self.text_mb >= 10 else f"{self.text_mb:.1f}"
        return f"{name} ({self.docs:,} docs, {mb} MB)"

    def describe(self) -> dict:
        """The input fields of a result file."""
        return {"input": self.label, "input_kind": self.kind, "docs": self.docs,
                "text_mb": self.text_mb, "input_mb": self.file_mb}

    def datatrove_reader(self) -> Any:
        """datatrove's ``JsonlReader`` over exactly these shards."""
        from datatrove.pipeline.readers import JsonlReader

        return JsonlReader(self.data_dir, glob_pattern="*.jsonl.zst", compression="zstd")


def _data_dir(workdir: str) -> str:
    """Where corpora are cached: beside the benchmarks' scratch directories."""
    return os.path.abspath(os.path.join(workdir, "..", "data"))


def synthetic_corpus(docs: int, workdir: str) -> str:
    """Directory of a synthetic corpus of ``docs`` documents (generated once, then reused)."""
    from curation.synthetic import GeneratorConfig, generate

    root = os.path.join(_data_dir(workdir), f"synthetic-{docs}")
    if not os.path.exists(os.path.join(root, "truth.parquet")):
        generate(root, GeneratorConfig(docs=docs, seed=0))
    return root


def real_corpus(workdir: str, target_mb: float) -> str:
    """Directory of the real-text corpus of about ``target_mb`` MB (built once, then reused;
    see ``curation.samples.realtext``); its shards are in ``docs/``."""
    from curation.samples.realtext import build_real_text_corpus

    root = os.path.join(_data_dir(workdir), f"real-text-{target_mb:g}MB")
    build_real_text_corpus(os.path.join(root, "docs"), target_mb)
    return root


def corpus_files(root: str) -> list[str]:
    docs = os.path.join(root, "docs")
    return sorted(os.path.join(docs, n) for n in os.listdir(docs) if n.endswith(".jsonl.zst"))


def load_corpus(workdir: str, kind: str = DEFAULT_INPUT, docs: int = DEFAULT_DOCS,
                mb: float | None = None) -> Corpus:
    """The cached corpus of this ``kind`` (``"real"`` or ``"synthetic"``): about ``mb`` MB of
    real text (``realtext.DEFAULT_TARGET_MB`` when None), or ``docs`` synthetic documents;
    corpora are cached in ``<workdir>/../data``."""
    from curation.samples.realtext import DEFAULT_TARGET_MB
    from curation.tokenize.cli import iter_texts

    if kind == "real":
        root = real_corpus(workdir, DEFAULT_TARGET_MB if mb is None else mb)
    elif kind == "synthetic":
        root = synthetic_corpus(docs, workdir)
    else:
        raise ValueError(f"unknown input {kind!r}; one of {INPUTS}")
    files = corpus_files(root)
    sizes = [len(text.encode()) for text in iter_texts(files)]
    return Corpus(kind, root, files, len(sizes), sum(sizes) / 1e6)


def fresh_corpus(workdir: str, kind: str = DEFAULT_INPUT, docs: int = DEFAULT_DOCS,
                 mb: float | None = None) -> Corpus:
    """``load_corpus(...)``, with the benchmark's scratch ``workdir`` emptied."""
    corpus = load_corpus(workdir, kind, docs, mb)
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    return corpus


def text_mb(texts: Iterable[str]) -> float:
    """MB (10**6 bytes) of the texts in UTF-8."""
    return sum(len(t.encode()) for t in texts) / 1e6


def measure(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, seconds, peak RSS increase in MB of this process while ``fn`` ran).

    RSS is sampled every 5 ms from a thread, so a very short spike can be missed.
    """
    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = base
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, proc.memory_info().rss)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    try:
        result = fn()
    finally:
        seconds = time.perf_counter() - t0
        stop.set()
        sampler.join()
    return result, seconds, (peak - base) / 1e6


@dataclass(frozen=True)
class Timed:
    """One side of a row: wall ``seconds``, ``peak_mb`` (RSS increase), and the work done:
    ``docs`` documents (or items) holding ``text_mb`` MB of text, and ``units`` of the row's
    metric when it counts something else (tokens)."""

    seconds: float
    peak_mb: float
    docs: int
    text_mb: float
    units: float | None = None


def rate_row(what: str, metric: str, ours: Timed, peer_name: str, peer: Timed) -> dict:
    """A table row: each side's rate in ``metric`` (``docs/s``, ``MB/s`` or units/s), docs/s,
    MB/s of text, seconds and peak memory."""

    def rate(side: Timed) -> float:
        n = {"docs/s": side.docs, "MB/s": side.text_mb}.get(metric, side.units)
        if n is None:
            raise ValueError(f"{what}: metric {metric!r} needs units")
        return n / side.seconds

    out: dict[str, Any] = {"what": what, "metric": metric, "ours": rate(ours),
                           "peer_name": peer_name, "peer": rate(peer)}
    for name, side in (("ours", ours), ("peer", peer)):
        out |= {f"{name}_docs_s": side.docs / side.seconds,
                f"{name}_mb_s": side.text_mb / side.seconds,
                f"{name}_s": side.seconds, f"{name}_peak_mb": side.peak_mb}
    return out


def compare(what: str, peer_name: str, ours: Callable[[], Any], peer: Callable[[], Any],
            docs: int, text_mb: float, metric: str = "docs/s",
            units: float | None = None) -> dict:
    """Run ours, then the peer, on the same input of ``docs`` documents and ``text_mb`` MB of
    text; their results must agree. Returns their ``rate_row`` (``units``: the metric's count
    when it is neither docs nor MB)."""
    ours_out, ours_s, ours_mb = measure(ours)
    peer_out, peer_s, peer_mb = measure(peer)
    if ours_out != peer_out:
        raise RuntimeError(f"{what}: ours gave {ours_out!r}, {peer_name} gave {peer_out!r}")
    return rate_row(what, metric, Timed(ours_s, ours_mb, docs, text_mb, units), peer_name,
                    Timed(peer_s, peer_mb, docs, text_mb, units))
