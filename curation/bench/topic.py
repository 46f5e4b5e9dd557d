"""Topic tagging: the default fastText student against the MiniLM embedding teacher it was
distilled from, on the same synthetic documents in memory, one process each (documents per
second), with the student's agreement with the teacher on the documents the teacher labels
confidently. The teacher is slow, so it sees at most 400 documents; rates are per document."""

from __future__ import annotations

from curation.bench.common import fresh_corpus, input_mb, measure
from curation.tokenize.cli import iter_texts

TEACHER_DOCS = 400


def run(docs: int, workdir: str) -> dict:
    from classifiers.fasttext_model import FastTextModel
    from classifiers.topic import Teacher
    from classifiers.train_default import ensure_default_models

    _, files = fresh_corpus(docs, workdir)
    texts = list(iter_texts(files))
    student = FastTextModel(ensure_default_models()[1])
    teacher = Teacher()
    sample = texts[:TEACHER_DOCS]
    (labels, _), student_s, student_mb = measure(lambda: student.predict(texts))
    (ids, _, confident), teacher_s, teacher_mb = measure(lambda: teacher.label(sample))
    pairs = [(s, t) for s, t, c in zip(labels, ids, confident, strict=False) if c]
    agreement = sum(s == t for s, t in pairs) / max(1, len(pairs))
    row = {"what": f"topic labels; student agrees with teacher on {agreement:.0%} of "
                   f"{len(pairs)} confident docs",
           "metric": "docs/s", "ours": len(texts) / student_s,
           "peer_name": "all-MiniLM-L6-v2 teacher (embeddings)", "peer": len(sample) / teacher_s,
           "ours_peak_mb": student_mb, "peer_peak_mb": teacher_mb}
    return {"docs": docs, "input_mb": input_mb(files), "agreement": agreement, "rows": [row]}
