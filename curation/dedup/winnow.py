"""Content-defined anchors for finding repeats across a whole corpus (winnowing, Schleimer,
Wilkerson and Aiken 2003).

Every position ``p`` of a block (texts' bytes, each followed by a separator) whose k-gram
``block[p:p + k]`` lies inside one text gets a 64-bit hash of it (a polynomial rolling hash
mod 2**64, then MurmurHash3's finaliser). A position is an *anchor* when its hash is the
smallest of some ``w`` consecutive k-gram hashes around it (all tied positions, when equal).

The guarantee: a string of ``w + k - 1`` bytes or more inside one text holds a run of ``w``
k-grams whose smallest hash sits at an offset that depends on the string's bytes alone, so
every copy of the string, in any text, has an anchor with that hash at that offset. With
``w + k - 1 = min_bytes`` every repeat of ``min_bytes`` or more shares an anchor hash among
all its copies, and each copy lies inside the *window* ``[p - (min_bytes - k), p +
min_bytes)`` around its anchor ``p`` (clipped to its text). Routing windows by anchor hash
therefore puts every copy of every such repeat in the same partition. Anchors are about
``2 / (w + 1)`` of the positions, and windows ``2 * min_bytes - k`` bytes long, so the
windows hold about ``4 * min_bytes / (w + 1)`` (about 4) times the text.
"""

from __future__ import annotations

import numpy as np

from curation.core.hashing import fmix64

BASE = np.uint64(0x100000001B3)  # odd: invertible mod 2**64
NONE = np.uint64(np.iinfo(np.uint64).max)  # the hash of a k-gram that crosses a separator


def kgram_length(min_bytes: int) -> int:
    """The anchors' k for repeats of ``min_bytes``: a quarter of it, at most 32 bytes (long
    enough that equal hashes mostly mean equal k-grams, short enough that ``w`` stays large and
    anchors sparse)."""
    return max(1, min(32, min_bytes // 4))


def kgram_hashes(block: np.ndarray, k: int) -> np.ndarray:
    """uint64 hash of ``block[p:p + k]`` for every ``p`` in ``[0, len(block) - k]``.

    ``P[i] = sum_{j < i} block[j] * BASE**j`` (mod 2**64), so ``P[p + k] - P[p]`` is the k-gram's
    polynomial times ``BASE**p``; multiplying by ``BASE**-p`` leaves a value of the k-gram alone.
    """
    n = len(block) - k + 1
    if n <= 0:
        return np.zeros(0, np.uint64)
    powers = np.empty(len(block), np.uint64)
    powers[0] = 1
    powers[1:] = BASE
    with np.errstate(over="ignore"):
        powers = np.cumprod(powers, dtype=np.uint64)
        prefix = np.concatenate([[np.uint64(0)], np.cumsum(block * powers, dtype=np.uint64)])
        inverse = np.empty(n, np.uint64)
        inverse[0] = 1
        inverse[1:] = pow(int(BASE), -1, 1 << 64)
        inverse = np.cumprod(inverse, dtype=np.uint64)
        return fmix64((prefix[k:k + n] - prefix[:n]) * inverse)


def sliding(values: np.ndarray, w: int, op: np.ufunc) -> np.ndarray:
    """``op.reduce(values[j:j + w])`` for every ``j`` in ``[0, len(values) - w]`` (van Herk /
    Gil-Werman: a forward and a backward running ``op`` per block of ``w``; O(n))."""
    n = len(values)
    if n < w:
        return values[:0].copy()
    fill = NONE if op is np.minimum else np.uint64(0)
    blocks = -(-n // w)
    padded = np.full(blocks * w, fill, values.dtype)
    padded[:n] = values
    # one column per block: the running op goes down the rows, a whole row per numpy step
    columns = np.ascontiguousarray(padded.reshape(blocks, w).T)
    forward = op.accumulate(columns, axis=0).T.reshape(-1)
    backward = op.accumulate(columns[::-1], axis=0)[::-1].T.reshape(-1)
    return op(backward[:n - w + 1], forward[w - 1:n])


def anchors(block: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
            min_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """``(positions, hashes)`` of the anchors of a block whose text ``i`` owns
    ``block[starts[i]:starts[i] + lengths[i]]``; positions sorted. Texts shorter than
    ``min_bytes`` hold no repeat of ``min_bytes`` and give none."""
    k = kgram_length(min_bytes)
    w = min_bytes - k + 1
    hashes = kgram_hashes(block, k)
    if not len(hashes):
        return np.zeros(0, np.int64), hashes
    inside = np.zeros(len(block) + 1, np.int64)  # +1 at a text's first k-gram, -1 past its last
    ok = lengths >= k
    np.add.at(inside, starts[ok], 1)
    np.add.at(inside, starts[ok] + lengths[ok] - k + 1, -1)
    valid = np.cumsum(inside)[:len(hashes)] > 0
    hashes = np.where(valid, hashes, NONE)
    smallest = sliding(hashes, w, np.minimum)  # per run of w k-grams
    if not len(smallest):
        return np.zeros(0, np.int64), hashes[:0]
    # p is an anchor iff some run holding it has h[p] as its minimum, i.e. iff the largest
    # minimum over the runs holding p equals h[p] (every such minimum is <= h[p])
    padded = np.concatenate([np.zeros(w - 1, np.uint64), smallest, np.zeros(w - 1, np.uint64)])
    best = sliding(padded, w, np.maximum)
    chosen = valid & (best == hashes)
    positions = np.flatnonzero(chosen)
    text = np.searchsorted(starts, positions, side="right") - 1
    long_enough = lengths[text] >= min_bytes
    return positions[long_enough], hashes[positions[long_enough]]


def windows(positions: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
            min_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)`` block positions of the window around each anchor: every ``min_bytes``
    string holding the anchor's k-gram, clipped to the anchor's text."""
    k = kgram_length(min_bytes)
    text = np.searchsorted(starts, positions, side="right") - 1
    lo = np.maximum(positions - (min_bytes - k), starts[text])
    hi = np.minimum(positions + min_bytes, starts[text] + lengths[text])
    return lo, hi
