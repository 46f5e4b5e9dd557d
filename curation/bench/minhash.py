"""MinHash dedup: signature throughput and the whole stage end to end.

Signatures (texts in memory -> one signature per document, ``num_perm`` = 112, FineWeb's
14 x 8; normalising and shingling included for everyone): ``MinHashDedup.signatures`` (Arrow
normalisation, xxh3-64 shingle hashes, rensa's flat-matrix signer) vs datasketch's
``MinHash.bulk`` and vs rensa's ``RMinHash`` per document, both fed 5-word shingles of the
same normalised texts.

End to end (JSONL.zst in, Parquet out, 14 x 8 bands, 5-word shingles, one worker each): our
``MinHashDedup`` global stage on the local executor vs datatrove's ``MinhashDedupSignature``
-> ``MinhashDedupBuckets`` -> ``MinhashDedupCluster`` -> ``MinhashDedupFilter``. The two use
different hash families and text normalisation, so their kept counts may differ slightly:
both are recorded (with each one's recall on the planted near-duplicates of Jaccard >= 0.8 on
the synthetic input, which has them), and the run fails if the kept counts differ by more than
1% of the documents.
"""

from __future__ import annotations

import os

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from curation.bench.common import Corpus, compare, measure
from curation.core.pipeline import Pipeline
from curation.core.readers import read
from curation.dedup.minhash import FINEWEB, MinHashDedup, normalise
from curation.synthetic import jaccard, shingles

NGRAM = 5


def _corpus(files: list[str]) -> pl.DataFrame:
    """``id`` and ``text`` of every document, in file order."""
    return pl.concat([pl.read_ndjson(f).select("id", "text") for f in files])


def _shingle_lists(texts: pa.Array) -> list[list[bytes]]:
    """Each text's distinct 5-word shingles (normalised like ours), as UTF-8 bytes."""
    out = []
    for text in normalise(texts).to_pylist():
        words = text.split()
        grams = {" ".join(words[i:i + NGRAM]) for i in range(max(len(words) - NGRAM + 1, 1))}
        out.append([g.encode() for g in grams if g])
    return out


def _ours_signatures(texts: pa.Array) -> int:
    return len(MinHashDedup(preset="fineweb", ngram=NGRAM).signatures(texts)[0])


def _datasketch(texts: pa.Array) -> int:
    from datasketch import MinHash

    return len(MinHash.bulk(_shingle_lists(texts), num_perm=FINEWEB.num_perm, seed=1))


def _rensa(texts: pa.Array) -> int:
    from rensa import RMinHash

    signed = 0
    for grams in _shingle_lists(texts):
        m = RMinHash(num_perm=FINEWEB.num_perm, seed=1)
        m.update(grams)
        signed += len(m.digest()) == FINEWEB.num_perm
    return signed


def _engine_rate(texts: pa.Array, engine: str) -> float:
    """Documents per second of our signature path with the ``numpy`` or ``rensa`` engine."""
    stage = MinHashDedup(preset="fineweb", ngram=NGRAM, engine=engine)
    if engine == "numpy":  # the numpy signer is slow: time it on a slice
        texts = texts.slice(0, min(len(texts), 2000))
    _, seconds, _ = measure(lambda: stage.signatures(texts))
    return len(texts) / seconds


def _recall(root: str, kept: set[str], texts: dict[str, str]) -> float:
    """Share of planted (duplicate, source) pairs with Jaccard >= 0.8 where one was removed."""
    truth = pl.read_parquet(os.path.join(root, "truth.parquet")).filter(
        pl.col("kind").is_in(["near_dup", "exact_dup"]))
    hits = [not (i in kept and d in kept)
            for i, d in zip(truth["id"], truth["dup_of"], strict=True)
            if jaccard(shingles(texts[i]), shingles(texts[d])) >= 0.8]
    return float(np.mean(hits)) if hits else 1.0


def _ours(files: list[str], scratch: str, kept: dict) -> None:
    p = Pipeline("bench-minhash", workdir=os.path.join(scratch, "work"))
    p.sink(p.source(read(files, source="bench")) >> MinHashDedup(preset="fineweb", ngram=NGRAM),
           os.path.join(scratch, "out"))
    result = p.run("local", progress=False)
    kept["ours"] = {i for f in result.outputs["sink"]
                    for i in pq.read_table(f, columns=["id"]).column("id").to_pylist()}


def _datatrove(corpus: Corpus, scratch: str, kept: dict) -> None:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.writers import ParquetWriter

    config = MinhashConfig(n_grams=NGRAM, num_buckets=FINEWEB.bands,
                           hashes_per_bucket=FINEWEB.rows)
    n_files = len(corpus.files)
    sigs, buckets, remove, out = (os.path.join(scratch, d)
                                  for d in ("sigs", "buckets", "remove", "out"))

    def executor(pipeline, tasks, name):
        return LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1,
                                     logging_dir=os.path.join(scratch, "logs", name))

    executor([corpus.datatrove_reader(), MinhashDedupSignature(sigs, config)],
             n_files, "sig").run()
    executor([MinhashDedupBuckets(sigs, buckets, config=config)], FINEWEB.bands,
             "buckets").run()
    executor([MinhashDedupCluster(buckets, remove, config=config)], 1, "cluster").run()
    executor([corpus.datatrove_reader(), MinhashDedupFilter(remove),
              ParquetWriter(out)], n_files, "filter").run()
    kept["peer"] = {i for f in sorted(os.listdir(out)) if f.endswith(".parquet")
                    for i in pq.read_table(os.path.join(out, f), columns=["id"])
                    .column("id").to_pylist()}


def run(corpus: Corpus, workdir: str) -> dict:
    docs, mb = corpus.docs, corpus.text_mb
    frame = _corpus(corpus.files)
    texts = frame["text"].to_arrow().cast(pa.large_string())
    rows = [
        compare("MinHash signatures, 112 perms, texts in memory", "datasketch MinHash.bulk",
                lambda: _ours_signatures(texts), lambda: _datasketch(texts), docs, mb),
        compare("MinHash signatures, 112 perms, texts in memory", "rensa RMinHash per doc",
                lambda: _ours_signatures(texts), lambda: _rensa(texts), docs, mb),
    ]
    kept: dict[str, set[str]] = {}
    rows.append(compare("MinHash dedup 14x8, JSONL.zst in, Parquet out",
                        "datatrove MinHash (4 steps)",
                        lambda: _ours(corpus.files, os.path.join(workdir, "ours"), kept),
                        lambda: _datatrove(corpus, os.path.join(workdir, "datatrove"), kept),
                        docs, mb))
    if abs(len(kept["ours"]) - len(kept["peer"])) > 0.01 * docs:
        raise RuntimeError(f"minhash: ours kept {len(kept['ours'])}, datatrove kept "
                           f"{len(kept['peer'])} of {docs}")
    result = {
        "rows": rows,
        "kept": {"ours": len(kept["ours"]), "peer": len(kept["peer"]),
                 "both": len(kept["ours"] & kept["peer"])},
        "signature_engines_docs_per_s": {e: _engine_rate(texts, e) for e in ("rensa", "numpy")},
    }
    if corpus.kind == "synthetic":  # planted near-duplicates: recall is known
        all_texts = dict(zip(frame["id"], frame["text"], strict=True))
        result["recall_at_0.8"] = {"ours": _recall(corpus.root, kept["ours"], all_texts),
                                   "peer": _recall(corpus.root, kept["peer"], all_texts)}
    return result
