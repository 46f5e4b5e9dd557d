"""The DCLM-style quality classifier: metrics against hand counts, a separable toy set, card."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from classifiers.fasttext_model import FastTextParams
from classifiers.quality import precision_recall, roc_auc, train_quality

GOOD = ("theorem proof lemma derivation analysis careful explanation rigorous definition example "
        "reference citation argument").split()
BAD = "click buy cheap free winner casino bonus viagra deal offer now subscribe".split()
COMMON = "the a of and to in is that it for on with as this was".split()


def toy(rng: random.Random, words: list[str], n: int) -> list[str]:
    return [" ".join(rng.choice(words if rng.random() < 0.4 else COMMON) for _ in range(30))
            for _ in range(n)]


def test_auc_and_precision_recall_by_hand():
    scores = np.array([0.9, 0.8, 0.8, 0.3, 0.1])
    truth = np.array([True, False, True, False, False])
    # pairs (pos, neg): 0.9 beats all 3; 0.8 ties one 0.8 (half) and beats 0.3, 0.1
    assert roc_auc(scores, truth) == pytest.approx((3 + 2.5) / 6)
    assert precision_recall(scores, truth, 0.5) == (2 / 3, 1.0)
    assert np.isnan(roc_auc(scores, np.zeros(5, bool)))


def test_separates_a_separable_toy_set(tmp_path):
    rng = random.Random(0)
    report = train_quality(toy(rng, GOOD, 300), toy(rng, BAD, 300), tmp_path / "q.bin",
                           FastTextParams(dim=16, epoch=10, lr=0.5))
    assert report.metrics["auc"] > 0.95
    assert report.metrics["precision"] > 0.9 and report.metrics["recall"] > 0.9
    assert report.data["heldout"] == {"positive": 60, "negative": 60}
    card = json.loads((tmp_path / "q.bin.card.json").read_text())
    assert card["metrics"]["auc"] == report.metrics["auc"]
    assert card["params"]["dim"] == 16 and card["positive_label"] == "hq"
    assert card["fasttext_version"].startswith("fasttext")
    assert "ROC AUC" in (tmp_path / "q.bin.card.md").read_text()


def test_needs_both_classes(tmp_path):
    with pytest.raises(ValueError, match="positive and one negative"):
        train_quality(["good text"], [], tmp_path / "q.bin")
