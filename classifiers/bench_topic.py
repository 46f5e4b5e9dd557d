"""Topic tagging: the default fastText student against the MiniLM embedding teacher it was
distilled from, on the same documents in memory, one process each (documents per
second), with the student's agreement with the teacher on the documents the teacher labels
confidently. The teacher is slow, so it sees the first 400 documents only; each side's rates
are over the documents (and text) it was given, though the teacher embeds only the first
``max_seq_length`` (128) word pieces of each. Run by ``curate bench topic`` (it lives here,
beside the models it trains, because ``curation`` does not import ``classifiers``)."""

from __future__ import annotations

from classifiers.topic import Teacher
from classifiers.train_default import ensure_default_models
from curation.bench.common import Corpus, Timed, measure, rate_row, text_mb
from curation.fasttext import FastTextModel
from curation.tokenize.cli import iter_texts

TEACHER_DOCS = 400


def run(corpus: Corpus, workdir: str) -> dict:
    texts = list(iter_texts(corpus.files))
    student = FastTextModel(ensure_default_models()[1])
    teacher = Teacher()
    sample = texts[:TEACHER_DOCS]
    (labels, _), student_s, student_mb = measure(lambda: student.predict(texts))
    (ids, _, confident), teacher_s, teacher_mb = measure(lambda: teacher.label(sample))
    pairs = [(s, t) for s, t, c in zip(labels, ids, confident, strict=False) if c]
    agreement = sum(s == t for s, t in pairs) / max(1, len(pairs))
    labelled = rate_row(f"topic labels; student agrees with teacher on {agreement:.0%} of "
                        f"{len(pairs)} confident docs", "docs/s",
                        Timed(student_s, student_mb, len(texts), text_mb(texts)),
                        "all-MiniLM-L6-v2 teacher (embeddings)",
                        Timed(teacher_s, teacher_mb, len(sample), text_mb(sample)))
    return {"agreement": agreement, "teacher_docs": len(sample), "rows": [labelled]}
