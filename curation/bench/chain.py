"""The whole chain of issue 16, JSONL.zst in, token shards out: ``LanguageID >>
GopherRepetition >> GopherQuality >> C4Quality >> FineWebQuality >> ExactDedup >> MinHashDedup
>> Tokenize``, on the local executor (one worker) and on a local Ray cluster of 1 and of 2 CPUs.

Rates are MB/s (10**6 bytes of input text per wall second) and docs/s (input documents per wall
second). A Ray run is timed with its start-up and without it; its shutdown is recorded apart
and in neither rate. Start-up is ``ray.init`` until every CPU's worker has warmed up: read the
first shard's first ``WARM_DOCS`` documents and run the chain's map stages over them, which
imports our code and loads the compiled kernels and the models, as any worker's first task
otherwise does (about 1 s a worker here, paid once per worker however long the run).
``warmup_s`` is that part; the local run warms its own process up the same way, untimed. The
map steps (the fused LanguageID..FineWebQuality step and the Tokenize step) are timed phase by
phase inside the same runs. Peak memory is the RSS increase summed over this process and every
process it started (Ray's own included); ``cpu_s`` is their CPU time, so ``cpu_s / seconds`` is
the cores a run really used. Tokenize runs with one thread (``parallel=False``) everywhere. The
language-ID model is the installed lid.176.ftz; the BPE tokenizer is trained, untimed, on the
corpus's first documents. The three runs' token shards should be byte-identical: ``identical``
says whether they are.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import psutil
import pyarrow as pa
import ray

from curation.bench.common import Corpus, Timed, rate_row
from curation.bench.tokenize import TRAIN_DOCS, VOCAB
from curation.core.executors import Executor, LocalExecutor, OnDone, RayExecutor
from curation.core.pipeline import Pipeline
from curation.core.readers import read
from curation.core.stage import BatchContext, MapStage
from curation.core.stats import StageStats
from curation.core.tasks import Task
from curation.dedup import ExactDedup, MinHashDedup
from curation.filters import C4Quality, FineWebQuality, GopherQuality, GopherRepetition, LanguageID
from curation.tokenize import Tokenize, train_bpe
from curation.tokenize.cli import iter_texts

CHAIN = ("LanguageID(keep=['en']) >> GopherRepetition >> GopherQuality >> C4Quality >> "
         "FineWebQuality >> ExactDedup >> MinHashDedup >> Tokenize(parallel=False)")


WARM_DOCS = 200


def _filters() -> list[MapStage]:
    return [LanguageID(keep=["en"]), GopherRepetition(), GopherQuality(), C4Quality(),
            FineWebQuality()]


def _pipeline(files: list[str], tokenizer: str, scratch: str) -> Pipeline:
    p = Pipeline("bench-chain", workdir=os.path.join(scratch, "work"))
    chain = p.source(read(files, source="bench"))
    for stage in [*_filters(), ExactDedup(), MinHashDedup(), Tokenize(tokenizer, parallel=False)]:
        chain = chain >> stage
    p.sink(chain, os.path.join(scratch, "out"))
    return p


def _warm_worker(shard: str, tokenizer: str) -> int:
    """Read the first ``WARM_DOCS`` documents of ``shard`` with our reader and run the chain's
    map stages over them, in this process; returns its pid. (The benchmark's cluster is local:
    its workers read the driver's paths, as the pipeline's own tasks never do.)"""
    texts = list(itertools.islice(iter_texts([shard]), WARM_DOCS))
    batch = pa.table({"id": pa.array(range(len(texts))), "text": pa.array(texts)})
    for stage in [*_filters(), Tokenize(tokenizer, parallel=False)]:
        stage.setup()
        batch = stage.process(batch, BatchContext(seed=0, shard=0, stats=StageStats()))
    return os.getpid()


class _PhaseTimer(Executor):
    """Another executor, keeping the wall seconds of each phase it runs (``step:phase``)."""

    def __init__(self, inner: Executor):
        self.inner, self.name = inner, inner.name
        self.seconds: dict[str, float] = {}

    def run(self, tasks: list[Task], on_done: OnDone) -> list[dict]:
        t0 = time.perf_counter()
        records = self.inner.run(tasks, on_done)
        if tasks:
            self.seconds[f"{tasks[0].step}:{tasks[0].phase}"] = time.perf_counter() - t0
        return records


class _ProcessTree:
    """Peak RSS increase (sampled every 50 ms) and CPU seconds of this process and all its
    descendants, from entering the context; ``cpu_s()`` can also be read inside it."""

    def __enter__(self) -> _ProcessTree:
        self._cpu0 = self._cpu()
        self._rss0 = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = (max(self.peak, self._rss()) - self._rss0) / 1e6

    @staticmethod
    def _procs() -> list[psutil.Process]:
        me = psutil.Process()
        return [me, *me.children(recursive=True)]

    def _rss(self) -> int:
        return sum(self._each(lambda p: p.memory_info().rss).values())

    def _cpu(self) -> dict[int, float]:
        return self._each(lambda p: sum(p.cpu_times()[:2]))

    def _each(self, fn: Callable[[psutil.Process], float]) -> dict[int, float]:
        out = {}
        for proc in self._procs():
            with contextlib.suppress(psutil.Error):  # it ended meanwhile
                out[proc.pid] = fn(proc)
        return out

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._rss())

    def cpu_s(self) -> float:
        """CPU seconds since entering, of the processes alive now."""
        return sum(c - self._cpu0.get(pid, 0.0) for pid, c in self._cpu().items())


@dataclass
class _Run:
    """One run of the chain: wall ``seconds`` of the pipeline run, ``startup_s`` (of which
    ``warmup_s`` warmed the workers up) and ``shutdown_s`` of its executor, ``cpu_s`` of the run and
    ``others_cpu_s`` that other processes of the machine took meanwhile (contention),
    ``phases`` (``step:phase`` -> wall seconds), per-stage ``stages`` stats (stats.json's),
    the output's documents, tokens and ``sha256``."""

    seconds: float
    startup_s: float
    warmup_s: float
    shutdown_s: float
    peak_mb: float
    cpu_s: float
    others_cpu_s: float
    phases: dict[str, float]
    stages: dict[str, dict]
    docs_out: int
    tokens: int
    sha256: str

    @property
    def map_s(self) -> float:
        """Wall seconds of the map steps."""
        return sum(s for k, s in self.phases.items() if k.endswith(":map"))


def _machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy since boot."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq


def _sha256(files: list[str]) -> str:
    """Hash of the output shards' names (relative to their directory) and bytes, in name order."""
    h = hashlib.sha256()
    for path in sorted(files, key=os.path.basename):
        h.update(os.path.basename(path).encode() + b"\0")
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def _run_chain(p: Pipeline, start: Callable[[], tuple[Executor, float]]) -> _Run:
    with _ProcessTree() as tree:
        t0 = time.perf_counter()
        executor, warmup_s = start()
        t1 = time.perf_counter()
        cpu_at_start, busy_at_start = tree.cpu_s(), _machine_busy_s()
        try:
            timer = _PhaseTimer(executor)
            result = p.run(timer, progress=False)
            t2 = time.perf_counter()
            cpu_s = tree.cpu_s() - cpu_at_start
            others_cpu_s = max(0.0, _machine_busy_s() - busy_at_start - cpu_s)
        finally:
            executor.close()
            t3 = time.perf_counter()
    return _Run(t2 - t1, t1 - t0, warmup_s, t3 - t2, tree.peak_mb, cpu_s, others_cpu_s,
                timer.seconds, {name: s.summary() for name, s in result.stats.items()},
                result.stats["tokenize"].docs_out, result.tokens["sink"],
                _sha256(result.outputs["sink"]))


def _start_local(warm: str, tokenizer: str) -> tuple[LocalExecutor, float]:
    """The local executor, this process warmed up (``_warm_worker``), and the warm-up's
    seconds."""
    t0 = time.perf_counter()
    _warm_worker(warm, tokenizer)
    return LocalExecutor(), time.perf_counter() - t0


def _start_ray(cpus: int, warm: str, tokenizer: str) -> tuple[RayExecutor, float]:
    """A local Ray cluster of ``cpus`` CPUs, each worker warmed up (``_warm_worker`` on each
    at once); returns it and the seconds the warm-up took."""
    executor = RayExecutor(num_cpus=cpus)
    t0 = time.perf_counter()
    pids = ray.get([ray.remote(num_cpus=1)(_warm_worker).remote(warm, tokenizer)
                    for _ in range(cpus)])
    if len(set(pids)) != cpus:
        raise RuntimeError(f"warm-up ran on {len(set(pids))} workers, not {cpus}")
    return executor, time.perf_counter() - t0


def run(corpus: Corpus, workdir: str) -> dict:
    tokenizer = os.path.join(workdir, "tokenizer.json")
    train_bpe(itertools.islice(iter_texts(corpus.files), TRAIN_DOCS), VOCAB, tokenizer)
    warm = corpus.files[0]
    runs = {"local": _run_chain(_pipeline(corpus.files, tokenizer, os.path.join(workdir, "local")),
                                functools.partial(_start_local, warm, tokenizer))}
    for cpus in (1, 2):
        p = _pipeline(corpus.files, tokenizer, os.path.join(workdir, f"ray{cpus}"))
        runs[f"ray{cpus}"] = _run_chain(p, functools.partial(_start_ray, cpus, warm, tokenizer))
    local, ray1, ray2 = runs["local"], runs["ray1"], runs["ray2"]

    def side(run: _Run, seconds: float) -> Timed:
        return Timed(seconds, run.peak_mb, corpus.docs, corpus.text_mb)

    rows = [
        rate_row("whole chain, local executor, 1 worker, warm (MB/s per core)", "MB/s",
                 side(local, local.seconds), "Ray executor, 1 CPU, start-up excluded",
                 side(ray1, ray1.seconds)),
        rate_row("whole chain, Ray 2 CPUs vs 1, start-up excluded", "MB/s",
                 side(ray2, ray2.seconds), "Ray 1 CPU", side(ray1, ray1.seconds)),
        rate_row("whole chain, Ray 2 CPUs vs 1, start-up included", "MB/s",
                 side(ray2, ray2.startup_s + ray2.seconds), "Ray 1 CPU",
                 side(ray1, ray1.startup_s + ray1.seconds)),
        rate_row("map steps (LanguageID..FineWebQuality fused; Tokenize), Ray 2 CPUs vs 1, "
                 "start-up excluded", "MB/s", side(ray2, ray2.map_s), "Ray 1 CPU",
                 side(ray1, ray1.map_s)),
    ]
    return {
        "chain": CHAIN,
        "tokenizer": {"vocab_size": VOCAB, "trained_on_docs": TRAIN_DOCS},
        "speedup_2_vs_1_cpus": {
            "whole_chain_startup_excluded": ray1.seconds / ray2.seconds,
            "whole_chain_startup_included": (ray1.startup_s + ray1.seconds)
            / (ray2.startup_s + ray2.seconds),
            "map_steps_startup_excluded": ray1.map_s / ray2.map_s,
        },
        "identical": len({r.sha256 for r in runs.values()}) == 1,
        "runs": {name: asdict(r) | {"map_s": r.map_s} for name, r in runs.items()},
        "rows": rows,
    }
