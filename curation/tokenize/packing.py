"""Packing documents into fixed-length rows, keeping their boundaries (shared with the trainer).

Documents come as one flat token array and ``offsets`` (document ``i`` is
``values[offsets[i]:offsets[i+1]]``, as an Arrow list array stores them). Two strategies:

- ``pack_concat``: concatenate in order and cut every ``seq_len`` tokens; no padding, documents
  cross row boundaries; the tail shorter than a row is dropped or padded.
- ``pack_best_fit``: documents longer than a row are cut into row-sized pieces, then pieces go,
  longest first, into the open row with the least room that still fits them (best-fit
  decreasing); a row is padded at its end. No document is cut except the ones longer than a row.

Both return a ``Packed``: ``tokens`` (rows x seq_len), ``doc_index`` (which input document each
position came from, -1 on padding) and ``positions`` (the token's position inside its document),
from which the trainer builds document masks. Deterministic: same input, same seed, same rows.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np
import pyarrow as pa


@dataclass(frozen=True)
class Packed:
    tokens: np.ndarray  # (rows, seq_len) int64 token ids
    doc_index: np.ndarray  # (rows, seq_len) int64 input document of each position, -1 = padding
    positions: np.ndarray  # (rows, seq_len) int64 position inside that document, 0 on padding

    @property
    def padding(self) -> int:
        return int((self.doc_index < 0).sum())

    def boundaries(self, row: int) -> np.ndarray:
        """Start offsets of the segments of ``row`` (a new document or padding), plus seq_len:
        the ``cu_seqlens`` of that row for variable-length attention."""
        d = self.doc_index[row]
        starts = np.flatnonzero(np.concatenate([[True], d[1:] != d[:-1]]))
        return np.append(starts, len(d))


def flat_documents(ids: pa.ListArray | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """``(values, offsets)`` of a ``list<uint*>`` column, offsets starting at 0."""
    if isinstance(ids, pa.ChunkedArray):
        ids = pa.concat_arrays(ids.chunks) if ids.num_chunks else pa.array([], ids.type)
    offsets = ids.offsets.to_numpy().astype(np.int64)
    values = ids.values.to_numpy(zero_copy_only=False)[offsets[0]:offsets[-1]]
    return values, offsets - offsets[0]


def _doc_of(offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per flat position: its document and its position inside it."""
    lengths = np.diff(offsets)
    doc = np.repeat(np.arange(len(lengths)), lengths)
    return doc, np.arange(offsets[-1]) - offsets[doc]


def _shuffled(values: np.ndarray, offsets: np.ndarray,
              seed: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Documents in a seeded random order (or as given): values, offsets, original indices."""
    order = np.arange(len(offsets) - 1)
    if seed is None:
        return values, offsets, order
    order = np.random.default_rng(seed).permutation(order)
    lengths = np.diff(offsets)[order]
    new_offsets = np.concatenate([[0], np.cumsum(lengths)])
    take = np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in order]) if len(order) \
        else np.zeros(0, np.int64)
    return values[take], new_offsets, order


def pack_concat(values: np.ndarray, offsets: np.ndarray, seq_len: int, pad_id: int | None = None,
                seed: int | None = None) -> Packed:
    """Concatenate the documents (in a seeded shuffled order when ``seed`` is given) and cut
    rows of ``seq_len``; the last partial row is dropped, or padded with ``pad_id``."""
    if seq_len < 1:
        raise ValueError(f"seq_len must be positive, not {seq_len}")
    values, offsets, order = _shuffled(values, offsets, seed)
    doc, pos = _doc_of(offsets)
    doc = order[doc]
    total = len(values)
    rows, tail = divmod(total, seq_len)
    tokens = values[: rows * seq_len].astype(np.int64)
    if tail and pad_id is not None:
        pad = seq_len - tail
        tokens = np.concatenate([values.astype(np.int64), np.full(pad, pad_id, np.int64)])
        doc = np.concatenate([doc, np.full(pad, -1)])
        pos = np.concatenate([pos, np.zeros(pad, np.int64)])
        rows += 1
    shape = (rows, seq_len)
    n = rows * seq_len
    return Packed(tokens.reshape(shape), doc[:n].reshape(shape), pos[:n].reshape(shape))


def best_fit_bins(lengths: list[int], capacity: int) -> list[list[int]]:
    """Best-fit decreasing: item indices per bin. Items are taken longest first (ties by index);
    each goes into the bin with the least room that fits it (ties: the older bin), else into a
    new bin. Every length must be in ``[1, capacity]``."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    bins: list[list[int]] = []
    room: list[tuple[int, int]] = []  # (room left, bin), sorted
    for i in order:
        k = bisect.bisect_left(room, (lengths[i], -1))
        if k == len(room):
            bins.append([i])
            left, b = capacity - lengths[i], len(bins) - 1
        else:
            left, b = room.pop(k)
            bins[b].append(i)
            left -= lengths[i]
        if left:
            bisect.insort(room, (left, b))
    return bins


def pack_best_fit(values: np.ndarray, offsets: np.ndarray, seq_len: int, pad_id: int,
                  seed: int | None = None) -> Packed:
    """Best-fit-decreasing packing into rows of ``seq_len`` padded with ``pad_id``; rows come
    out in a seeded random order when ``seed`` is given, else in the order they were opened."""
    if seq_len < 1:
        raise ValueError(f"seq_len must be positive, not {seq_len}")
    lengths = np.diff(offsets)
    piece_doc, piece_start, piece_len = [], [], []
    for d in np.flatnonzero(lengths):
        for s in range(0, int(lengths[d]), seq_len):
            piece_doc.append(d)
            piece_start.append(s)
            piece_len.append(min(seq_len, int(lengths[d]) - s))
    bins = best_fit_bins(piece_len, seq_len)
    if seed is not None:
        bins = [bins[i] for i in np.random.default_rng(seed).permutation(len(bins))]
    tokens = np.full((len(bins), seq_len), pad_id, np.int64)
    doc_index = np.full((len(bins), seq_len), -1, np.int64)
    positions = np.zeros((len(bins), seq_len), np.int64)
    for row, pieces in enumerate(bins):
        at = 0
        for p in pieces:
            n, d, s = piece_len[p], piece_doc[p], piece_start[p]
            start = offsets[d] + s
            tokens[row, at:at + n] = values[start:start + n]
            doc_index[row, at:at + n] = d
            positions[row, at:at + n] = np.arange(s, s + n)
            at += n
    return Packed(tokens, doc_index, positions)
