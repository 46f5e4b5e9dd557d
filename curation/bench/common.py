"""Shared pieces of the benchmarks: a cached synthetic corpus, timing, peak memory."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import psutil


def synthetic_corpus(docs: int, workdir: str) -> str:
    """Directory of a synthetic corpus of ``docs`` documents (generated once, then reused)."""
    from curation.synthetic import GeneratorConfig, generate

    root = os.path.join(workdir, "..", "data", f"synthetic-{docs}")
    if not os.path.exists(os.path.join(root, "truth.parquet")):
        generate(root, GeneratorConfig(docs=docs, seed=0))
    return os.path.abspath(root)


def fresh_corpus(docs: int, workdir: str) -> tuple[str, list[str]]:
    """The cached synthetic corpus of ``docs`` documents (its root and its JSONL.zst files),
    with the benchmark's scratch ``workdir`` emptied."""
    import shutil

    root = synthetic_corpus(docs, workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    return root, corpus_files(root)


def corpus_files(root: str) -> list[str]:
    docs = os.path.join(root, "docs")
    return sorted(os.path.join(docs, n) for n in os.listdir(docs) if n.endswith(".jsonl.zst"))


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


def compare(what: str, peer_name: str, ours: Callable[[], Any], peer: Callable[[], Any],
            docs: int, metric: str = "docs/s", units: int | None = None) -> dict:
    """Run ours, then the peer, on the same input; their results must agree.

    Returns a table row: the rate of each (``units``, by default ``docs``, per wall second,
    named ``metric``) and the peak memory increase of each.
    """
    ours_out, ours_s, ours_mb = measure(ours)
    peer_out, peer_s, peer_mb = measure(peer)
    if ours_out != peer_out:
        raise RuntimeError(f"{what}: ours gave {ours_out!r}, {peer_name} gave {peer_out!r}")
    n = docs if units is None else units
    return {"what": what, "metric": metric, "ours": n / ours_s, "peer_name": peer_name,
            "peer": n / peer_s, "ours_peak_mb": ours_mb, "peer_peak_mb": peer_mb}


def input_mb(files: list[str]) -> float:
    return sum(os.path.getsize(f) for f in files) / 1e6
