"""Texts shared by the decontamination tests: one long benchmark item and filler prose."""

from __future__ import annotations

import numpy as np

from curation.decon.evals import EvalItem

QUESTION = (
    "A farmer in the northern valley plants rows of apple trees along the river every spring. "
    "Each row holds exactly twelve young trees and the farmer plants nine rows this year. "
    "During a storm in early summer the wind breaks seven of the trees near the water. "
    "The farmer later replaces half of the broken trees with cherry saplings from a neighbour. "
    "How many apple trees are still standing in the orchard at the end of the summer?"
)
ANSWER = "There are 101 apple trees still standing."
ITEM = EvalItem("farm", QUESTION, ANSWER)


def filler(seed: int, words: int) -> str:
    """Pseudo-words that never occur in eval items, in sentences."""
    rng = np.random.default_rng(seed)
    out = [f"zq{int(k)}x" for k in rng.integers(0, 3000, words)]
    return " ".join(w + ("." if i % 12 == 11 else "") for i, w in enumerate(out))
