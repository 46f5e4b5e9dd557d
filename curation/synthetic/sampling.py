"""Seeded draws the generators share: one item of a sequence, and Zipf-weighted ranks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def pick(rng: np.random.Generator, seq: Sequence[Any]) -> Any:
    """One item of ``seq``, uniformly (one ``rng.integers`` draw)."""
    return seq[int(rng.integers(len(seq)))]


def zipf_cdf(n: int, exponent: float) -> np.ndarray:
    """Cumulative probabilities of ranks 0..n-1 with weight (rank + 1) ** -exponent."""
    cdf = np.cumsum(np.arange(1, n + 1, dtype=np.float64) ** -exponent)
    return cdf / cdf[-1]
