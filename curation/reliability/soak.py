"""Soak run: a demo-like pipeline over N synthetic documents on a local Ray cluster while its
workers are killed at random, checked against an undisturbed run of the same pipeline.

    python -m curation.reliability.soak                      # 1M documents, p = 0.2
    python -m curation.reliability.soak --docs 20000 --kill-probability 0.5 --root /tmp/soak

The pipeline: synthetic web crawl (``curation.synthetic``) -> chaos -> length, Gopher quality and
FineWeb filters -> exact dedup -> chaos -> MinHash dedup -> Parquet. A ``Chaos`` stage SIGKILLs
the Ray worker running it, on a task's first attempt only, for a seeded random subset of shards
(probability p each); Ray retries the task on another worker. The report gives throughput,
peak memory (the driver, the largest worker and the whole process tree, sampled) and whether
the output is byte-identical to the undisturbed run's. Exit status 1 if it is not.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa
import xxhash

from curation.core.stage import BatchContext, MapStage

if TYPE_CHECKING:
    from curation.core.executors import Executor
    from curation.core.pipeline import Pipeline

UNDISTURBED, DISTURBED = "calm", "chaos"


class Chaos(MapStage):
    """Kills its own process (a Ray worker) on the first attempt of a task, for shards drawn with
    probability ``p`` (seeded: the same shards every run). A marker file per (stage, shard) in
    ``markers`` says the first attempt happened, so the retry passes through untouched."""

    def __init__(self, p: float, markers: str, seed: int = 0):
        self.p, self.markers, self.seed = p, markers, seed

    def doomed(self, shard: int) -> bool:
        """Whether this shard's first attempt is killed."""
        draw = xxhash.xxh64_intdigest(f"{self.seed}:{self.name}:{shard}") / 2**64
        return draw < self.p

    def process(self, batch: pa.Table, ctx: BatchContext) -> pa.Table:
        if self.p > 0 and self.doomed(ctx.shard):
            marker = os.path.join(self.markers, f"{self.name}-{ctx.shard:05d}")
            if not os.path.exists(marker):
                with open(marker, "w") as f:
                    f.write(str(os.getpid()))
                os.kill(os.getpid(), signal.SIGKILL)
        return batch


def build(inputs: str, work: str, out: str, p: float, markers: str, seed: int) -> Pipeline:
    """The soak pipeline; ``p = 0`` is the undisturbed run."""
    from curation import Pipeline, read
    from curation.dedup import ExactDedup, MinHashDedup
    from curation.filters import DocumentLength, FineWebQuality, GopherQuality

    pipeline = Pipeline("soak", work, seed=seed)
    web = pipeline.source(read(os.path.join(inputs, "docs", "*.jsonl.zst"),
                               on_error="quarantine"), name="web")
    first, second = Chaos(p, markers, seed), Chaos(p, markers, seed)
    first.name, second.name = "chaos_map", "chaos_after_exact"
    clean = (web >> first >> DocumentLength(min_chars=200, max_chars=100_000) >> GopherQuality()
             >> FineWebQuality() >> ExactDedup(partitions=4))
    pipeline.sink(clean >> second >> MinHashDedup(partitions=4), out)
    return pipeline


@dataclass
class MemorySampler:
    """Samples the RSS of this process and all its descendants (Ray's raylet, GCS, workers)."""

    interval: float = 0.25
    tree_peak: int = 0
    worker_peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> MemorySampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(self.interval):
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    rss = proc.memory_info().rss
                    workerish = proc.pid != me.pid and "ray::" in " ".join(proc.cmdline()[:1])
                except psutil.Error:  # gone since listed (a killed worker)
                    continue
                total += rss
                if workerish:
                    self.worker_peak = max(self.worker_peak, rss)
            self.tree_peak = max(self.tree_peak, total)


def output_digest(directory: str) -> dict[str, str]:
    """xxh3-128 of every file of a sink directory."""
    from curation.core.hashing import file_checksum

    return {n: file_checksum(os.path.join(directory, n)) for n in sorted(os.listdir(directory))}


def run_once(executor: Executor, inputs: str, root: str, name: str, p: float,
             seed: int) -> dict:
    """One run of the pipeline; returns its measurements."""
    import resource

    markers = os.path.join(root, f"markers-{name}")
    os.makedirs(markers, exist_ok=True)
    pipeline = build(inputs, os.path.join(root, f"work-{name}"), os.path.join(root, f"out-{name}"),
                     p, markers, seed)
    with MemorySampler() as memory:
        t0 = time.perf_counter()
        result = pipeline.run(executor, progress=sys.stderr.isatty())
        seconds = time.perf_counter() - t0
    docs_in = result.stats["web"].docs_out
    return {
        "seconds": round(seconds, 2),
        "docs_per_s": round(docs_in / seconds),
        "docs_in": docs_in,
        "docs_out": result.stats["min_hash_dedup"].docs_out,
        "tasks": result.ran,
        "workers_killed": len(os.listdir(markers)),
        "driver_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "worker_peak_rss_mib": round(memory.worker_peak / 2**20),
        "tree_peak_rss_mib": round(memory.tree_peak / 2**20),
        "digest": output_digest(os.path.join(root, f"out-{name}")),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=1_000_000, help="synthetic documents")
    parser.add_argument("--shard-docs", type=int, default=10_000, help="documents per shard")
    parser.add_argument("--kill-probability", type=float, default=0.2,
                        help="chance that a task's first attempt kills its worker, per chaos stage")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", default="runs/soak", help="inputs, work dirs and outputs")
    parser.add_argument("--num-cpus", type=int, default=None, help="local Ray cluster size")
    parser.add_argument("--report", default=None, help="also write the report here (JSON)")
    args = parser.parse_args(argv)
    if not 0 <= args.kill_probability <= 1:
        parser.error("--kill-probability must lie in [0, 1]")

    from curation.core.executors import RayExecutor
    from curation.synthetic import GeneratorConfig, generate

    root = os.path.abspath(args.root)
    inputs = os.path.join(root, f"synthetic-{args.docs}-{args.shard_docs}-{args.seed}")
    if not os.path.exists(os.path.join(inputs, "meta.json")):
        print(f"generating {args.docs:,} synthetic documents in {inputs}", file=sys.stderr)
        generate(inputs, GeneratorConfig(docs=args.docs, seed=args.seed,
                                         shard_docs=args.shard_docs))
    for name in (UNDISTURBED, DISTURBED):  # this script's own earlier outputs only
        for kind in ("work", "out", "markers"):
            shutil.rmtree(os.path.join(root, f"{kind}-{name}"), ignore_errors=True)

    executor = RayExecutor(num_cpus=args.num_cpus)
    try:
        calm = run_once(executor, inputs, root, UNDISTURBED, 0.0, args.seed)
        chaos = run_once(executor, inputs, root, DISTURBED, args.kill_probability, args.seed)
    finally:
        executor.close()
    same = calm.pop("digest") == chaos.pop("digest")
    report = {"docs": args.docs, "shards": -(-args.docs // args.shard_docs),
              "kill_probability": args.kill_probability, UNDISTURBED: calm, DISTURBED: chaos,
              "identical_output": same}
    text = json.dumps(report, indent=2)
    print(text)
    if args.report:
        with open(args.report, "w") as f:
            f.write(text + "\n")
    if not same:
        print("FAIL: the disturbed run's output differs from the undisturbed run's",
              file=sys.stderr)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
