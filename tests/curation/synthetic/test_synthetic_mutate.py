"""Near duplicates land just under their target Jaccard, recomputed from scratch."""

from __future__ import annotations

import numpy as np
from synthetic_corpus import CONFIG, rows

from curation.synthetic import jaccard, shingles
from curation.synthetic.mutate import near_duplicate


def test_near_dups_record_the_measured_jaccard(corpus):
    targets = set()
    for row in rows(corpus, "near_dup"):
        text = corpus["docs"][row["id"]]["text"]
        source = corpus["docs"][row["dup_of"]]["text"]
        measured = jaccard(shingles(text), shingles(source))
        assert row["jaccard"] == measured
        assert row["target_jaccard"] - 1 / len(shingles(source)) < measured
        assert measured <= row["target_jaccard"]
        targets.add(row["target_jaccard"])
    assert targets == set(CONFIG.near_dup_targets)


def test_near_duplicate_reaches_low_targets():
    rng = np.random.Generator(np.random.PCG64(0))
    source = " ".join(f"w{i % 97}x{i}" for i in range(300)) + "."
    for target in (0.99, 0.6, 0.1):
        text, measured = near_duplicate(source, target, ("alpha", "beta", "gamma"), rng)
        assert measured == jaccard(shingles(text), shingles(source))
        assert target - 1 / 296 < measured <= target
