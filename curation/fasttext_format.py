"""fastText's model file (``.bin``, and ``.ftz`` after ``quantize``) read into numpy arrays,
for the compiled predictor in ``curation.fasttext_predict``.

The layout is fastText's version 12 (every release since 2017): magic and version, the training
arguments, the dictionary (words and labels with their counts, then the pruned-bucket map of a
quantized model), the input matrix, the output matrix. A matrix is dense (``float32`` rows) or
product-quantized (one ``uint8`` code per sub-vector, 256 centroids per sub-quantizer, and
optionally a quantized norm per row). Nothing here computes: the file's numbers are kept
exactly as stored (views of the file's bytes, not copies), so that predictions made from them
can equal fastText's bit for bit.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numba
import numpy as np

from curation.core.arrow_strings import gather_bytes
from curation.core.errors import CurationError

MAGIC = 793712314
VERSION = 12
LABEL_PREFIX = b"__label__"  # fastText's default; the file does not store it
EOS = b"</s>"
LOSS_HS, LOSS_NS, LOSS_SOFTMAX, LOSS_OVA = 1, 2, 3, 4
MODEL_SUPERVISED = 3
KSUB = 256  # centroids per sub-quantizer


@dataclass(frozen=True)
class Matrix:
    """``rows`` x ``dim`` matrix: ``dense`` (``float32``, rows x dim) or, when ``quantized``,
    ``codes`` (``uint8``, rows x ``nsubq``), ``centroids`` (``float32``: sub-quantizer ``m``'s
    centroid ``c`` starts at ``m * 256 * dsub + c * dsub``, the last sub-quantizer's at
    ``m * 256 * dsub + c * lastdsub``) and ``norms`` (``float32`` per row, or empty: no norm
    quantization)."""

    rows: int
    dim: int
    quantized: bool
    dense: np.ndarray
    codes: np.ndarray
    centroids: np.ndarray
    norms: np.ndarray
    dsub: int
    lastdsub: int


@dataclass(frozen=True)
class ModelFile:
    """A supervised fastText model as stored. The dictionary's entries (words first, then
    labels) are ``word_bytes[word_off[i]:word_off[i + 1]]``, ``counts`` their training counts;
    ``pruned`` maps a hashed bucket to its row after ``nwords`` (-1: dropped) when the model
    was quantized with ``-cutoff``, and is None when every bucket keeps its own row."""

    dim: int
    word_ngrams: int
    loss: int
    model: int
    bucket: int
    minn: int
    maxn: int
    nwords: int
    nlabels: int
    word_bytes: np.ndarray  # uint8
    word_off: np.ndarray  # int64 (entries + 1)
    counts: np.ndarray
    pruned: np.ndarray | None
    no_buckets: bool
    input: Matrix
    output: Matrix

    @property
    def words(self) -> list[bytes]:
        """Every entry, as ``bytes``."""
        data, off = self.word_bytes.tobytes(), self.word_off.tolist()
        return [data[a:b] for a, b in zip(off, off[1:], strict=False)]

    @property
    def labels(self) -> list[bytes]:
        return self.words[self.nwords:]


class _Reader:
    def __init__(self, data: bytes, path: str):
        self.data, self.at, self.path = data, 0, path

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.at + size > len(self.data):
            raise CurationError(f"{self.path}: fastText model file ends early (at byte {self.at})")
        values = struct.unpack_from(fmt, self.data, self.at)
        self.at += size
        return values if len(values) > 1 else values[0]

    def array(self, dtype, count: int) -> np.ndarray:
        """The next ``count`` items, a read-only view of the file's bytes (no copy)."""
        size = np.dtype(dtype).itemsize * count
        if count < 0 or self.at + size > len(self.data):
            raise CurationError(f"{self.path}: fastText model file ends early (at byte {self.at})")
        out = np.frombuffer(self.data, dtype, count, self.at)
        self.at += size
        return out

    def entries(self, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The dictionary's ``size`` entries (a NUL-ended word, an int64 count, a type byte):
        their words' bytes and offsets, and their counts."""
        lo, hi, counts, end = _entries(np.frombuffer(self.data, np.uint8), self.at, size)
        if end < 0:
            raise CurationError(f"{self.path}: fastText model file ends early (in its"
                                " dictionary)")
        self.at = end
        word_bytes, word_off = gather_bytes(np.frombuffer(self.data, np.uint8), lo, hi)
        return word_bytes, word_off, counts


@numba.njit(cache=True)
def _entries(data, at, size):
    """Where each of ``size`` dictionary entries from byte ``at`` has its word (``lo``, ``hi``)
    and its count, and the byte after them (-1: the data ends first)."""
    lo, hi = np.empty(size, np.int64), np.empty(size, np.int64)
    counts = np.empty(size, np.int64)
    for i in range(size):
        p = at
        while p < len(data) and data[p] != 0:
            p += 1
        if p + 10 > len(data):  # the NUL, the count and the type byte
            return lo, hi, counts, -1
        lo[i], hi[i] = at, p
        count = np.int64(0)
        for k in range(8):  # little-endian
            count |= np.int64(data[p + 1 + k]) << np.int64(8 * k)
        counts[i] = count
        at = p + 10
    return lo, hi, counts, at


def _quantizer(r: _Reader) -> tuple[int, int, int, int, np.ndarray]:
    dim, nsubq, dsub, lastdsub = r.take("<4i")
    return dim, nsubq, dsub, lastdsub, r.array("<f4", dim * KSUB)


def _matrix(r: _Reader, quantized: bool) -> Matrix:
    empty = np.zeros(0, np.float32)
    if not quantized:
        rows, dim = r.take("<qq")
        dense = r.array("<f4", rows * dim).reshape(rows, dim)
        return Matrix(rows, dim, False, dense, np.zeros((0, 0), np.uint8), empty, empty, 0, 0)
    qnorm, rows, dim, codesize = r.take("<?qqi")
    codes = r.array("u1", codesize)
    pq_dim, nsubq, dsub, lastdsub, centroids = _quantizer(r)
    if pq_dim != dim or codesize != rows * nsubq:
        raise CurationError(f"{r.path}: inconsistent product quantizer ({pq_dim=}, {dim=})")
    norms = empty
    if qnorm:
        norm_codes = r.array("u1", rows)
        *_, norm_centroids = _quantizer(r)  # one sub-quantizer of dimension 1
        norms = norm_centroids[norm_codes]
    return Matrix(rows, dim, True, np.zeros((0, 0), np.float32), codes.reshape(rows, nsubq),
                  centroids, norms, dsub, lastdsub)


def read_model(path: str) -> ModelFile:
    """Parse a supervised fastText model file; a clear error for anything else."""
    with open(path, "rb") as f:
        r = _Reader(f.read(), path)
    magic, version = r.take("<ii")
    if magic != MAGIC or version != VERSION:
        raise CurationError(f"{path}: not a fastText model file of version {VERSION} (magic"
                            f" {magic}, version {version})")
    (dim, _ws, _epoch, _min_count, _neg, word_ngrams, loss, model, bucket, minn, maxn,
     _lr_update_rate, _t) = r.take("<12id")
    size, nwords, nlabels, _ntokens, prune_size = r.take("<iiiqq")
    word_bytes, word_off, counts = r.entries(size)
    pruned = None
    if prune_size > 0:
        pairs = r.array("<i4", 2 * prune_size).reshape(-1, 2)
        if pairs[:, 0].min() < 0 or pairs[:, 0].max() >= bucket:
            raise CurationError(f"{path}: pruned buckets outside 0..{bucket - 1}")
        pruned = np.full(bucket, -1, np.int32)
        pruned[pairs[:, 0]] = pairs[:, 1]
    quant_input = r.take("<?")
    input_matrix = _matrix(r, quant_input)
    qout = r.take("<?")
    output_matrix = _matrix(r, quant_input and qout)
    # the compiled predictor reads rows without bounds checks: a file must hold every row
    # its dictionary can name
    buckets = bucket if prune_size < 0 else prune_size
    if (input_matrix.rows != nwords + buckets or input_matrix.dim != dim
            or output_matrix.dim != dim or output_matrix.rows < nlabels - 1
            or (pruned is not None and pruned.max() >= prune_size)):
        raise CurationError(f"{path}: matrices of {input_matrix.rows} x {input_matrix.dim} and"
                            f" {output_matrix.rows} x {output_matrix.dim} do not fit its"
                            f" dictionary ({nwords} words, {nlabels} labels, {buckets} buckets,"
                            f" dim {dim})")
    return ModelFile(dim, word_ngrams, loss, model, bucket, minn, maxn, nwords, nlabels,
                     word_bytes, word_off, counts, pruned, prune_size == 0, input_matrix,
                     output_matrix)
