"""Winnowing anchors against naive references: sliding minima, k-gram hashes, and the
guarantee that every copy of every repeat of ``min_bytes`` shares an anchor whose window holds
it."""

from __future__ import annotations

import random
from collections import defaultdict

import numpy as np
import pyarrow as pa
import pytest

from curation.dedup.substring import separated
from curation.dedup.winnow import anchors, kgram_hashes, kgram_length, sliding, windows


def test_sliding_minimum_and_maximum_match_a_naive_scan():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 50, 101).astype(np.uint64)
    for w in (1, 2, 7, 33, 101):
        for op, naive in ((np.minimum, np.min), (np.maximum, np.max)):
            expected = [naive(values[j:j + w]) for j in range(len(values) - w + 1)]
            assert sliding(values, w, op).tolist() == expected
    assert len(sliding(values, 102, np.minimum)) == 0


def test_kgram_hashes_equal_exactly_for_equal_kgrams():
    rng = np.random.default_rng(1)
    block = rng.choice(np.frombuffer(b"ab", np.uint8), 400)
    for k in (1, 3, 8):
        hashes = kgram_hashes(block, k)
        assert len(hashes) == len(block) - k + 1
        grams = [block[p:p + k].tobytes() for p in range(len(hashes))]
        by_gram = defaultdict(set)
        for gram, h in zip(grams, hashes.tolist(), strict=True):
            by_gram[gram].add(h)
        assert all(len(h) == 1 for h in by_gram.values())  # a k-gram has one hash
        assert len({next(iter(h)) for h in by_gram.values()}) == len(by_gram)  # no collision


def planted_texts(seed: int, min_bytes: int) -> list[str]:
    """Texts over a small alphabet (accents included) with passages of ``min_bytes`` or more
    repeated across them, at any offset."""
    rng = random.Random(seed)
    alphabet = "ab cé"
    passages = ["".join(rng.choice(alphabet) for _ in range(min_bytes + rng.randint(0, 30)))
                for _ in range(5)]
    texts = []
    for _ in range(50):
        parts = [rng.choice(passages) if rng.random() < 0.4 else
                 "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 90)))
                 for _ in range(rng.randint(1, 4))]
        texts.append("".join(parts))
    return texts


@pytest.mark.parametrize(("seed", "min_bytes"), [(0, 12), (1, 24), (2, 40), (3, 61)])
def test_every_copy_of_a_repeat_lies_in_a_window_of_one_shared_anchor(seed, min_bytes):
    texts = planted_texts(seed, min_bytes)
    block, starts, lengths = separated(pa.array(texts, pa.large_string()))
    positions, hashes = anchors(block, starts, lengths, min_bytes)
    lo, hi = windows(positions, starts, lengths, min_bytes)
    windows_of = defaultdict(list)
    for h, a, b in zip(hashes.tolist(), lo.tolist(), hi.tolist(), strict=True):
        windows_of[h].append((a, b))
    data = block.tobytes()
    copies = defaultdict(list)
    for s, n in zip(starts.tolist(), lengths.tolist(), strict=True):
        for p in range(s, s + n - min_bytes + 1):
            copies[data[p:p + min_bytes]].append(p)
    repeats = [ps for ps in copies.values() if len(ps) > 1]
    assert len(repeats) > 20
    for ps in repeats:
        assert any(all(any(a <= p and p + min_bytes <= b for a, b in spans) for p in ps)
                   for spans in windows_of.values())
    # anchors are sparse: about 2 / (w + 1) of the positions
    w = min_bytes - kgram_length(min_bytes) + 1
    assert len(positions) < 4 / (w + 1) * len(block)


def test_texts_shorter_than_min_bytes_have_no_anchor():
    block, starts, lengths = separated(pa.array(["short", "", None, "x" * 30], pa.large_string()))
    positions, _ = anchors(block, starts, lengths, 20)
    assert positions.min() >= starts[3]
