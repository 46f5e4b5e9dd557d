"""Packing against plain references: every token placed once, best fit as brute force does it."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from curation.tokenize import flat_documents, pack_best_fit, pack_concat
from curation.tokenize.packing import best_fit_bins


def random_docs(seed: int, n: int = 60, max_len: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, max_len, n)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return rng.integers(2, 1000, offsets[-1]).astype(np.uint32), offsets


def check_positions(packed, values, offsets) -> None:
    """Every non-padding position holds token ``pos`` of document ``doc``."""
    real = packed.doc_index >= 0
    doc, pos = packed.doc_index[real], packed.positions[real]
    assert (values[offsets[doc] + pos] == packed.tokens[real]).all()


def test_flat_documents_of_a_sliced_list_array():
    arr = pa.array([[1, 2], [3], [4, 5, 6]], pa.list_(pa.uint16())).slice(1)
    values, offsets = flat_documents(pa.chunked_array([arr]))
    assert values.tolist() == [3, 4, 5, 6] and offsets.tolist() == [0, 1, 4]


def test_concat_is_the_concatenation_cut_in_rows():
    values, offsets = random_docs(0)
    packed = pack_concat(values, offsets, seq_len=16)
    rows = len(values) // 16
    assert packed.tokens.shape == (rows, 16)
    assert packed.tokens.ravel().tolist() == values[: rows * 16].tolist()
    check_positions(packed, values, offsets)
    padded = pack_concat(values, offsets, seq_len=16, pad_id=1)
    assert padded.tokens.shape[0] == rows + 1 and padded.padding == (-len(values)) % 16


def test_concat_with_seed_permutes_whole_documents():
    values, offsets = random_docs(1)
    a = pack_concat(values, offsets, 8, pad_id=1, seed=3)
    assert np.array_equal(a.tokens, pack_concat(values, offsets, 8, pad_id=1, seed=3).tokens)
    assert not np.array_equal(a.tokens, pack_concat(values, offsets, 8, pad_id=1).tokens)
    check_positions(a, values, offsets)
    real = a.doc_index[a.doc_index >= 0]
    assert sorted(np.unique(real).tolist()) == list(range(len(offsets) - 1))


def brute_force_best_fit(lengths: list[int], capacity: int) -> list[list[int]]:
    bins: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        rooms = [capacity - sum(lengths[j] for j in b) for b in bins]
        fits = [(r, k) for k, r in enumerate(rooms) if r >= lengths[i]]
        if fits:
            bins[min(fits)[1]].append(i)
        else:
            bins.append([i])
    return bins


@pytest.mark.parametrize("seed", range(5))
def test_best_fit_bins_equal_brute_force(seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 33, 200).tolist()
    assert best_fit_bins(lengths, 32) == brute_force_best_fit(lengths, 32)


def test_best_fit_places_every_token_once_and_cuts_only_long_documents():
    values, offsets = random_docs(2, n=80, max_len=50)
    packed = pack_best_fit(values, offsets, seq_len=32, pad_id=1)
    check_positions(packed, values, offsets)
    real = packed.doc_index >= 0
    placed = sorted(zip(packed.doc_index[real].tolist(), packed.positions[real].tolist(),
                        strict=True))
    lengths = np.diff(offsets)
    assert placed == [(d, p) for d in range(len(lengths)) for p in range(lengths[d])]
    rows_of = {}
    for row in range(packed.tokens.shape[0]):
        for d in set(packed.doc_index[row][packed.doc_index[row] >= 0].tolist()):
            rows_of.setdefault(d, set()).add(row)
    assert all(len(rows_of[d]) == 1 for d in range(len(lengths)) if lengths[d] <= 32)
    assert (packed.tokens[~real] == 1).all()
    concat = pack_concat(values, offsets, 32, pad_id=1)
    assert packed.tokens.shape[0] <= concat.tokens.shape[0] + len(lengths) // 4


def test_best_fit_seed_shuffles_rows_deterministically():
    values, offsets = random_docs(3)
    plain = pack_best_fit(values, offsets, 24, pad_id=1)
    a, b = (pack_best_fit(values, offsets, 24, pad_id=1, seed=9) for _ in range(2))
    assert np.array_equal(a.tokens, b.tokens)
    assert sorted(map(tuple, a.tokens.tolist())) == sorted(map(tuple, plain.tokens.tolist()))


def test_boundaries_are_cu_seqlens():
    values = np.arange(2, 9, dtype=np.uint32)
    packed = pack_best_fit(values, np.array([0, 3, 5, 7]), seq_len=4, pad_id=1)
    assert packed.tokens.tolist() == [[2, 3, 4, 1], [5, 6, 7, 8]]  # 3 | 2+2: best fit
    assert packed.boundaries(0).tolist() == [0, 3, 4] and packed.boundaries(1).tolist() == [0, 2, 4]
