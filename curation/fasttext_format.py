"""fastText's model file (``.bin``, and ``.ftz`` after ``quantize``) read into numpy arrays,
for the compiled predictor in ``curation.fasttext_predict``.

The layout is fastText's version 12 (every release since 2017): magic and version, the training
arguments, the dictionary (words and labels with their counts, then the pruned-bucket map of a
quantized model), the input matrix, the output matrix. A matrix is dense (``float32`` rows) or
product-quantized (one ``uint8`` code per sub-vector, 256 centroids per sub-quantizer, and
optionally a quantized norm per row). Nothing here computes: the file's numbers are kept
exactly as stored, so that predictions made from them can equal fastText's bit for bit.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

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
    """A supervised fastText model as stored. ``words`` holds every dictionary entry (words
    first, then labels) and ``counts`` their training counts; ``pruned`` maps a hashed bucket to
    its row after ``nwords`` (-1: dropped) when the model was quantized with ``-cutoff``, and is
    None when every bucket keeps its own row."""

    dim: int
    word_ngrams: int
    loss: int
    model: int
    bucket: int
    minn: int
    maxn: int
    nwords: int
    nlabels: int
    words: list[bytes]
    counts: np.ndarray
    pruned: np.ndarray | None
    no_buckets: bool
    input: Matrix
    output: Matrix

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
        size = np.dtype(dtype).itemsize * count
        if count < 0 or self.at + size > len(self.data):
            raise CurationError(f"{self.path}: fastText model file ends early (at byte {self.at})")
        out = np.frombuffer(self.data, dtype, count, self.at).copy()
        self.at += size
        return out

    def cstring(self) -> bytes:
        end = self.data.find(b"\0", self.at)
        if end < 0:
            raise CurationError(f"{self.path}: fastText model file ends early (at byte {self.at})")
        word = self.data[self.at:end]
        self.at = end + 1
        return word


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
    words, counts = [], np.zeros(size, np.int64)
    for i in range(size):
        words.append(r.cstring())
        counts[i], _type = r.take("<qb")
    pruned = None
    if prune_size > 0:
        pairs = r.array("<i4", 2 * prune_size).reshape(-1, 2)
        pruned = np.full(bucket, -1, np.int32)
        pruned[pairs[:, 0]] = pairs[:, 1]
    quant_input = r.take("<?")
    input_matrix = _matrix(r, quant_input)
    qout = r.take("<?")
    output_matrix = _matrix(r, quant_input and qout)
    return ModelFile(dim, word_ngrams, loss, model, bucket, minn, maxn, nwords, nlabels, words,
                     counts, pruned, prune_size == 0, input_matrix, output_matrix)
