"""A DCLM-style quality classifier: fastText trained on positives (text like what we want more
of) against negatives (ordinary or bad web text); its score is P(positive).

``train_quality`` holds out a seeded fraction of each class, trains on the rest, and measures on
the held-out documents: precision and recall of the positive class at ``threshold`` and the ROC
AUC of P(positive) (the Mann-Whitney statistic, ties counted one half). It writes the model and
a model card next to it: ``<model>.card.json`` (machine-readable) and ``<model>.card.md``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from classifiers.fasttext_model import FastTextParams, train
from curation.fasttext import FastTextModel, fasttext_version, file_sha256

POSITIVE, NEGATIVE = "hq", "lq"


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve: P(score of a random positive > score of a random negative),
    ties counted as one half. ``nan`` when either class is empty."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    mid_rank = ends - (counts - 1) / 2.0  # average 1-based rank of each distinct score
    rank_sum = mid_rank[inverse][positive].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def precision_recall(scores: np.ndarray, positive: np.ndarray, threshold: float):
    """Precision and recall of the rule ``score >= threshold`` for the positive class (a
    precision of ``nan`` when nothing is predicted positive)."""
    predicted = np.asarray(scores) >= threshold
    positive = np.asarray(positive, dtype=bool)
    tp = int((predicted & positive).sum())
    precision = tp / int(predicted.sum()) if predicted.any() else float("nan")
    recall = tp / int(positive.sum()) if positive.any() else float("nan")
    return precision, recall


@dataclass
class QualityReport:
    """What a training run measured; also the content of the model card."""

    model_path: str
    positive_label: str
    params: dict
    data: dict  # documents per class, train and held out
    metrics: dict  # held-out precision, recall, auc, threshold
    train_seconds: float
    model_sha256: str
    fasttext_version: str = field(default_factory=fasttext_version)
    notes: str = ""

    def card_paths(self) -> tuple[str, str]:
        return self.model_path + ".card.json", self.model_path + ".card.md"

    def write_card(self) -> tuple[str, str]:
        """Write ``<model>.card.json`` and ``<model>.card.md``; returns their paths."""
        json_path, md_path = self.card_paths()
        Path(json_path).write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        m = self.metrics
        lines = [
            f"# Quality classifier `{os.path.basename(self.model_path)}`",
            "",
            "fastText, DCLM-style: positives against negatives; the score is "
            f"P(`__label__{self.positive_label}`).",
            "",
            self.notes,
            "",
            "| held-out metric | value |",
            "|---|---|",
            f"| ROC AUC | {m['auc']:.4f} |",
            f"| precision @ {m['threshold']} | {m['precision']:.4f} |",
            f"| recall @ {m['threshold']} | {m['recall']:.4f} |",
            "",
            "| documents | train | held out |",
            "|---|---|---|",
            *(
                f"| {cls} | {self.data['train'][cls]} | {self.data['heldout'][cls]} |"
                for cls in ("positive", "negative")
            ),
            "",
            "Hyperparameters: "
            + ", ".join(f"`{k}={v}`" for k, v in sorted(self.params.items())),
            "",
            f"Training took {self.train_seconds:.2f} s; model SHA-256 `{self.model_sha256}`; "
            f"{self.fasttext_version}.",
            "",
        ]
        Path(md_path).write_text("\n".join(lines))
        return json_path, md_path


def _split(n: int, holdout: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train / held-out indices of ``n`` items; at least one held out when n >= 2."""
    order = rng.permutation(n)
    k = min(n - 1, max(1, round(n * holdout))) if n >= 2 else 0
    return np.sort(order[k:]), np.sort(order[:k])


def train_quality(
    positives: Sequence[str],
    negatives: Sequence[str],
    out_path: str | os.PathLike,
    params: FastTextParams = FastTextParams(),  # noqa: B008 (frozen)
    holdout: float = 0.2,
    threshold: float = 0.5,
    quantize: bool = False,
    notes: str = "",
) -> QualityReport:
    """Train on ``1 - holdout`` of each class (split seeded by ``params.seed``), evaluate on the
    rest, save the model to ``out_path`` with its card beside it, and return the report."""
    if not positives or not negatives:
        raise ValueError("need at least one positive and one negative document")
    rng = np.random.Generator(np.random.PCG64(params.seed))
    pos_train, pos_held = _split(len(positives), holdout, rng)
    neg_train, neg_held = _split(len(negatives), holdout, rng)
    texts = [positives[i] for i in pos_train] + [negatives[i] for i in neg_train]
    labels = [POSITIVE] * len(pos_train) + [NEGATIVE] * len(neg_train)
    order = rng.permutation(len(texts))  # fastText's SGD sees the classes interleaved
    start = time.perf_counter()
    model = train([texts[i] for i in order], [labels[i] for i in order], out_path, params,
                  quantize=quantize)
    seconds = time.perf_counter() - start

    held = [positives[i] for i in pos_held] + [negatives[i] for i in neg_held]
    truth = np.array([True] * len(pos_held) + [False] * len(neg_held))
    scores = quality_scores(model, held)
    precision, recall = precision_recall(scores, truth, threshold)
    report = QualityReport(
        model_path=str(out_path),
        positive_label=POSITIVE,
        params=params.as_dict(),
        data={
            "train": {"positive": len(pos_train), "negative": len(neg_train)},
            "heldout": {"positive": len(pos_held), "negative": len(neg_held)},
        },
        metrics={
            "auc": roc_auc(scores, truth),
            "precision": precision,
            "recall": recall,
            "threshold": threshold,
        },
        train_seconds=round(seconds, 3),
        model_sha256=file_sha256(out_path),
        notes=notes,
    )
    report.write_card()
    return report


def quality_scores(model: FastTextModel, texts: Sequence[str], positive: str = POSITIVE):
    """P(``positive``) for each text, ``float32``."""
    if positive not in model.index:
        raise KeyError(f"{model.path} has no label {positive!r}; it has {list(model.labels)}")
    return model.predict_proba(texts)[:, model.index[positive]]
