"""Train the small default pair of models (quality + topic) from data the repository generates.

    python -m classifiers.train_default [--out runs/classifiers/default] [--force]

Data (deterministic, nothing downloaded):

- the synthetic web corpus (``curation.synthetic``, ``SYNTHETIC_DOCS`` documents, seed 0) with
  its planted truth, and
- the Python documentation shipped with the interpreter (``curation.samples.python_docs``).

Quality (``quality.bin``, DCLM-style): positives are the Python documentation and English
``original`` synthetic prose; negatives are the synthetic ``spam`` and ``low_quality`` pages.
Topic (``topic.bin``): the MiniLM teacher labels ``TOPIC_DOCS`` synthetic originals and
``TOPIC_PYDOCS`` documentation pages, and a fastText student learns its confident labels. Each
model gets a card beside it (``*.card.json`` / ``*.card.md``); ``report.json`` holds both
reports. Models are not committed: ``ensure_default_models`` trains them when missing.
Measured here (2 cores shared with other jobs): 35 s of CPU, 52-59 s wall. Most of it is the
teacher: importing sentence-transformers (about 10 s) and embedding 440 documents at 10-16
documents per second; the quality model trains in about 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import pyarrow.parquet as pq
import zstandard

from classifiers.fasttext_model import FastTextParams
from classifiers.quality import train_quality
from classifiers.topic import Teacher, distill

DEFAULT_DIR = "runs/classifiers/default"
SYNTHETIC_DOCS = 3000
TOPIC_DOCS = 900
TOPIC_PYDOCS = 40
TEACHER_TOKENS = 64  # word pieces the teacher reads per document (0.97 vs 0.995 accuracy at
# 128 on the synthetic topics, 1.3x faster)
QUALITY_ORIGINALS = 600
SEED = 0


def _jsonl_zst(path: str | os.PathLike) -> list[dict]:
    data = zstandard.ZstdDecompressor().decompressobj().decompress(Path(path).read_bytes())
    return [json.loads(line) for line in data.splitlines()]


def training_data(work: str) -> dict[str, list]:
    """The texts and labels the default models learn from, built under ``work``."""
    from curation.samples.python_docs import build_python_docs_corpus
    from curation.synthetic import GeneratorConfig, generate

    generate(work, GeneratorConfig(docs=SYNTHETIC_DOCS, seed=SEED, shard_docs=SYNTHETIC_DOCS))
    docs = _jsonl_zst(Path(work) / "docs" / "part-00000.jsonl.zst")
    truth = pq.read_table(Path(work) / "truth.parquet").to_pylist()
    pydocs = [
        d["text"]
        for p in build_python_docs_corpus(os.path.join(work, "pydocs"))
        for d in _jsonl_zst(p)
    ]
    originals = [(d["text"], t["topic"]) for d, t in zip(docs, truth, strict=True)
                 if t["kind"] == "original" and t["lang"] == "en"]
    low = [d["text"] for d, t in zip(docs, truth, strict=True) if t["quality"] == "low"]
    topic_texts = [t for t, _ in originals[:TOPIC_DOCS]] + pydocs[:TOPIC_PYDOCS]
    topic_truth = [k for _, k in originals[:TOPIC_DOCS]] + [None] * len(pydocs[:TOPIC_PYDOCS])
    return {
        "positives": pydocs + [t for t, _ in originals[:QUALITY_ORIGINALS]],
        "negatives": low,
        "topic_texts": topic_texts,
        "topic_truth": topic_truth,
    }


def train_default(out_dir: str = DEFAULT_DIR) -> dict:
    """Train both models into ``out_dir``; returns the combined report (also ``report.json``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        data = training_data(work)
    quality = train_quality(
        data["positives"], data["negatives"], out / "quality.bin",
        FastTextParams(dim=32, epoch=10, lr=0.5, seed=SEED),
        notes="Positives: Python documentation and synthetic English prose; negatives: "
        "synthetic spam and low-quality pages (`classifiers/train_default.py`).",
    )
    topic = distill(data["topic_texts"], out / "topic.bin",
                    teacher=Teacher(max_seq_length=TEACHER_TOKENS), reference=data["topic_truth"])
    (out / "topic.bin.card.json").write_text(json.dumps(asdict(topic), indent=2) + "\n")
    report = {
        "quality": asdict(quality),
        "topic": asdict(topic),
        "seconds": round(time.perf_counter() - start, 1),
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def ensure_default_models(out_dir: str = DEFAULT_DIR) -> tuple[str, str]:
    """Paths of the default ``(quality, topic)`` models, trained first if either is missing."""
    quality, topic = os.path.join(out_dir, "quality.bin"), os.path.join(out_dir, "topic.bin")
    if not (os.path.isfile(quality) and os.path.isfile(topic)):
        train_default(out_dir)
    return quality, topic


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_DIR, help="output directory")
    parser.add_argument("--force", action="store_true", help="retrain even if models exist")
    args = parser.parse_args(argv)
    names = ("quality.bin", "topic.bin", "report.json")
    if args.force or not all(os.path.exists(os.path.join(args.out, n)) for n in names):
        report = train_default(args.out)
    else:
        report = json.loads(Path(args.out, "report.json").read_text())
    q, t = report["quality"], report["topic"]
    print(f"quality: {q['model_path']}  held-out AUC {q['metrics']['auc']:.4f}  "
          f"precision {q['metrics']['precision']:.3f}  recall {q['metrics']['recall']:.3f}")
    print(f"topic:   {t['model_path']}  {t['confident']}/{t['documents']} confident, "
          f"student-teacher agreement {t['agreement']:.3f}, "
          f"teacher {t['teacher_docs_per_s']} docs/s, student {t['student_docs_per_s']} docs/s, "
          f"vs truth {t['reference_accuracy']}")
    print(f"took {report.get('seconds', '?')} s")


if __name__ == "__main__":
    main()
