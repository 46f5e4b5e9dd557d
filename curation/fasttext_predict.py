"""fastText's supervised prediction compiled with numba, over a whole Arrow string column.

fastText's Python binding costs a Python string, a C++ string stream and a vector of n-gram
strings per document; this predictor reads the column's UTF-8 buffer directly and does what
``FastText::predictLine`` does, in the same order of floating-point operations, so that its
labels and probabilities equal the binding's bit for bit (the tests compare them):

- a text is its first ``max_chars`` characters, with ``\\n`` and ``\\r`` read as spaces and an
  end-of-line token ``</s>`` after it (as ``FastTextModel`` passes texts to the binding);
- tokens are the runs of bytes between fastText's separators (space, ``\\t``, ``\\n``, ``\\v``,
  ``\\f``, ``\\r``, NUL); reading stops at a ``</s>`` token; a token starting with
  ``__label__`` is skipped;
- a dictionary word adds its own row and its character n-grams' rows, another token its
  n-grams' rows (``minn..maxn`` characters of ``<token>``, FNV-1a 32-bit hashes with fastText's
  signed-byte quirk, modulo ``bucket``, through the pruned-bucket map of a quantized model),
  then word n-grams (``wordNgrams``) add theirs; the hidden vector is their mean;
- hierarchical softmax walks the Huffman tree of the label counts depth first, pruned by the
  best score so far; softmax scores every label. A probability is ``exp(log(p + 1e-5))``, as
  fastText reports it.

Supported: supervised models with ``hs`` or ``softmax`` loss, dense or quantized. Others
(``ova``, ``ns``) raise ``Unsupported`` and ``curation.fasttext`` uses the binding.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from curation.fasttext_format import (
    EOS,
    KSUB,
    LABEL_PREFIX,
    LOSS_HS,
    LOSS_SOFTMAX,
    MODEL_SUPERVISED,
    Matrix,
    read_model,
)

SEPARATORS = np.zeros(256, np.bool_)
SEPARATORS[[ord(c) for c in " \t\n\v\f\r\0"]] = True
TOP, ALL = 1, 0  # what ``predict`` returns per text: the best label, or every label
_LABEL_PREFIX = np.frombuffer(LABEL_PREFIX, np.uint8)


class Unsupported(ValueError):
    """A model this predictor does not reproduce (the caller uses fastText's binding)."""


@numba.njit(cache=True)
def _fnv_step(h, byte):
    """One step of fastText's FNV-1a (32 bits, held in a uint64): the byte is sign-extended,
    as ``uint32_t(int8_t(c))``."""
    b = np.uint64(byte) | np.uint64(0xFFFFFF00) if byte >= 128 else np.uint64(byte)
    return ((h ^ b) * np.uint64(16777619)) & np.uint64(0xFFFFFFFF)


@numba.njit(cache=True)
def _hash(data, lo, hi):
    """fastText's ``Dictionary::hash`` of ``data[lo:hi]``."""
    h = np.uint64(2166136261)
    for i in range(lo, hi):
        h = _fnv_step(h, data[i])
    return h


@numba.njit(cache=True)
def _find(data, lo, hi, h, table, word_bytes, word_off):
    """The dictionary index of ``data[lo:hi]``, or -1 (open addressing on fastText's hash)."""
    mask = len(table) - 1
    slot = h & mask
    n = hi - lo
    while table[slot] >= 0:
        w = table[slot]
        wlo = word_off[w]
        if word_off[w + 1] - wlo == n:
            same = True
            for k in range(n):
                if word_bytes[wlo + k] != data[lo + k]:
                    same = False
                    break
            if same:
                return w
        slot = (slot + 1) & mask
    return -1


@numba.njit(cache=True)
def _starts(data, lo, hi, prefix):
    """Whether ``data[lo:hi]`` starts with ``prefix``."""
    n = len(prefix)
    k = 0
    while k < n and lo + k < hi and data[lo + k] == prefix[k]:
        k += 1
    return k == n


@numba.njit(cache=True)
def _bucket_row(h, nwords, pruned, no_buckets):
    """fastText's ``pushHash``: the input row of bucket ``h``, or -1 where it has none."""
    if no_buckets or h < 0:
        return -1
    if len(pruned):
        h = pruned[h]
        if h < 0:
            return -1
    return nwords + h


@numba.njit(cache=True)
def _char_ngrams(word, n, minn, maxn, bucket, nwords, pruned, no_buckets, out, count):
    """fastText's ``computeSubwords`` over ``word[:n]`` (``<token>``): appends the rows of its
    character n-grams to ``out[count:]``; returns the new count."""
    for i in range(n):
        if (word[i] & 0xC0) == 0x80:
            continue
        h = np.uint64(2166136261)
        j = i
        length = 1
        while j < n and length <= maxn:
            h = _fnv_step(h, word[j])
            j += 1
            while j < n and (word[j] & 0xC0) == 0x80:
                h = _fnv_step(h, word[j])
                j += 1
            if length >= minn and not (length == 1 and (i == 0 or j == n)):
                row = _bucket_row(np.int64(h % np.uint64(bucket)), nwords, pruned, no_buckets)
                if row >= 0:
                    out[count] = row
                    count += 1
            length += 1
    return count


@numba.njit(cache=True)
def _subwords(word_bytes, word_off, nwords, eos, minn, maxn, bucket, pruned, no_buckets):
    """Each dictionary word's rows (its own, then its character n-grams'; ``</s>`` has only
    its own), as ``(offsets, rows)``: fastText's ``initNgrams``."""
    longest = 0
    for w in range(nwords):
        longest = max(longest, word_off[w + 1] - word_off[w])
    word = np.empty(longest + 2, np.uint8)
    scratch = np.empty((longest + 2) * max(maxn, 1) + 1, np.int32)
    off = np.zeros(nwords + 1, np.int64)
    rows = np.empty(16, np.int32)
    for w in range(nwords):
        lo, hi = word_off[w], word_off[w + 1]
        scratch[0] = w
        count = 1
        if w != eos and maxn > 0:
            word[0] = 60  # '<'
            word[1:hi - lo + 1] = word_bytes[lo:hi]
            word[hi - lo + 1] = 62  # '>'
            count = _char_ngrams(word, hi - lo + 2, minn, maxn, bucket, nwords, pruned,
                                 no_buckets, scratch, count)
        if off[w] + count > len(rows):
            grown = np.empty(max(2 * len(rows), off[w] + count), np.int32)
            grown[:off[w]] = rows[:off[w]]
            rows = grown
        rows[off[w]:off[w] + count] = scratch[:count]
        off[w + 1] = off[w] + count
    return off, rows[:off[nwords]].copy()


@numba.njit(cache=True)
def _centroid(m, code, nsubq, dsub, lastdsub):
    """Where sub-quantizer ``m``'s centroid ``code`` starts, and its width (``get_centroids``)."""
    if m == nsubq - 1:
        return m * KSUB * dsub + code * lastdsub, lastdsub
    return (m * KSUB + code) * dsub, dsub


@numba.njit(cache=True)
def _add_row(hidden, row, rows):
    """``hidden += rows[row]`` (the input matrix, dense)."""
    for j in range(len(hidden)):
        hidden[j] += rows[row, j]


@numba.njit(cache=True)
def _dot_row(hidden, row, dense, codes, centroids, norms, dsub, lastdsub):
    """The output matrix's ``dotRow``: ``row . hidden`` in fastText's order (float32)."""
    res = np.float32(0.0)
    if dense.shape[0]:
        for j in range(len(hidden)):
            res += dense[row, j] * hidden[j]
        return res
    nsubq = codes.shape[1]
    for m in range(nsubq):
        base, d = _centroid(m, codes[row, m], nsubq, dsub, lastdsub)
        for k in range(d):
            res += hidden[m * dsub + k] * centroids[base + k]
    alpha = norms[row] if len(norms) else np.float32(1.0)
    return res * alpha


@numba.njit(cache=True)
def _std_log(x):
    """fastText's ``std_log``: ``log(x + 1e-5)`` in double, rounded to float."""
    return np.float32(math.log(np.float64(x) + 1e-5))


@numba.njit(cache=True)
def _hs(hidden, left, right, nlabels, out, mode, labels, probs, doc, stack_node, stack_score):
    """Hierarchical softmax's depth-first walk (``HierarchicalSoftmaxLoss::dfs``, threshold 0):
    the best leaf (``mode`` TOP; a later leaf wins a tie, as fastText's heap does) or every
    leaf above the threshold (``mode`` ALL) into ``labels``/``probs`` row ``doc``."""
    dense, codes, centroids, norms, dsub, lastdsub = out
    floor = _std_log(np.float32(0.0))
    best_score = np.float32(0.0)
    best = -1
    stack_node[0] = 2 * nlabels - 2
    stack_score[0] = np.float32(0.0)
    top = 1
    while top:
        top -= 1
        node, score = stack_node[top], stack_score[top]
        if score < floor or (mode == TOP and best >= 0 and score < best_score):
            continue
        if left[node] == -1 and right[node] == -1:
            if mode == TOP:
                best, best_score = node, score
            else:
                probs[doc, node] = np.float32(math.exp(score))
            continue
        f = _dot_row(hidden, node - nlabels, dense, codes, centroids, norms, dsub, lastdsub)
        f = np.float32(1.0 / np.float32(np.float32(1.0) + np.float32(math.exp(-f))))
        stack_node[top], stack_score[top] = right[node], score + _std_log(f)
        stack_node[top + 1] = left[node]
        stack_score[top + 1] = score + _std_log(np.float32(1.0 - np.float64(f)))
        top += 2
    if mode == TOP and best >= 0:
        labels[doc] = best
        probs[doc, 0] = np.float32(math.exp(best_score))


@numba.njit(cache=True)
def _softmax(hidden, nlabels, out, mode, labels, probs, doc, scores):
    """Softmax over every label (``SoftmaxLoss::computeOutput``), then fastText's k-best:
    the best label (a later label wins a tie) or every label."""
    dense, codes, centroids, norms, dsub, lastdsub = out
    for i in range(nlabels):
        scores[i] = _dot_row(hidden, i, dense, codes, centroids, norms, dsub, lastdsub)
    top = scores[0]
    for i in range(nlabels):
        if not scores[i] < top:
            top = scores[i]
    z = np.float32(0.0)
    for i in range(nlabels):
        scores[i] = np.float32(math.exp(np.float64(scores[i] - top)))
        z += scores[i]
    best = -1
    best_score = np.float32(0.0)
    for i in range(nlabels):
        p = _std_log(scores[i] / z)
        if mode == ALL:
            probs[doc, i] = np.float32(math.exp(p))
        elif best < 0 or not p < best_score:
            best, best_score = i, p
    if mode == TOP:
        labels[doc] = best
        probs[doc, 0] = np.float32(math.exp(best_score))


@numba.njit(cache=True)
def _predict(data, offsets, max_chars, mode, sep, table, word_bytes, word_off, sub_off,
             sub_rows, params, pruned, no_buckets, input_rows, out, left, right, labels, probs):
    """Every text's prediction into ``labels`` (TOP; -1 where fastText gives none) and
    ``probs``. ``params``: dim, nwords, nlabels, eos, minn, maxn, bucket, word_ngrams, loss."""
    dim, nwords, nlabels, eos, minn, maxn, bucket, word_ngrams, loss = params
    hidden = np.zeros(dim, np.float32)
    scores = np.zeros(nlabels, np.float32)
    stack_node = np.zeros(2 * nlabels + 2, np.int64)
    stack_score = np.zeros(2 * nlabels + 2, np.float32)
    longest, run, most = 0, 0, 0  # bytes of the longest token and of the longest text read
    for d in range(len(offsets) - 1):
        most = max(most, min(offsets[d + 1] - offsets[d], 4 * max_chars))
        for p in range(offsets[d], offsets[d + 1]):
            run = 0 if sep[data[p]] else run + 1
            longest = max(longest, run)
        run = 0
    longest = min(longest, most)
    word = np.empty(longest + 2, np.uint8)
    ngram_rows = np.empty((longest + 2) * max(maxn, 1) + 1, np.int32)
    token_hashes = np.empty(most + 2 if word_ngrams > 1 else 0, np.int32)  # <= a token a byte
    _predict_into(data, offsets, max_chars, mode, sep, table, word_bytes, word_off, sub_off,
                  sub_rows, params, pruned, no_buckets, input_rows, out, left, right, labels, probs,
                  (hidden, scores, stack_node, stack_score, word, ngram_rows, token_hashes))


@numba.njit(cache=True, _nrt=False)
def _predict_into(data, offsets, max_chars, mode, sep, table, word_bytes, word_off, sub_off,
                  sub_rows, params, pruned, no_buckets, input_rows, out, left, right, labels, probs,
                  scratch):
    """The loop of ``_predict``, with its ``scratch`` arrays. Compiled without numba's
    reference counting (``_nrt=False``: it allocates nothing), which otherwise counts
    references to the arrays passed to the helpers it calls for every token and row."""
    dim, nwords, nlabels, eos, minn, maxn, bucket, word_ngrams, loss = params
    hidden, scores, stack_node, stack_score, word, ngram_rows, token_hashes = scratch
    for d in range(len(offsets) - 1):
        lo = offsets[d]
        hi = lo
        chars = 0
        while hi < offsets[d + 1]:  # the first max_chars characters
            if (data[hi] & 0xC0) != 0x80:
                if chars == max_chars:
                    break
                chars += 1
            hi += 1
        hidden[:] = 0
        n_rows = 0
        n_hashes = 0
        at = lo
        while True:
            while at < hi and sep[data[at]]:
                at += 1
            if at < hi:
                start = at
                while at < hi and not sep[data[at]]:
                    at += 1
                tok_data, t_lo, t_hi = data, start, at
            else:  # the end of the line: fastText's </s>
                tok_data, t_lo, t_hi = word_bytes, word_off[eos], word_off[eos + 1]
            h = _hash(tok_data, t_lo, t_hi)
            wid = _find(tok_data, t_lo, t_hi, h, table, word_bytes, word_off)
            is_eos = wid == eos
            is_label = wid >= nwords or (wid < 0 and _starts(tok_data, t_lo, t_hi, _LABEL_PREFIX))
            if not is_label:
                if wid >= 0:
                    for k in range(sub_off[wid], sub_off[wid + 1]):
                        _add_row(hidden, sub_rows[k], input_rows)
                        n_rows += 1
                elif not is_eos and maxn > 0:
                    n = t_hi - t_lo
                    word[0] = 60
                    for k in range(n):
                        word[k + 1] = tok_data[t_lo + k]
                    word[n + 1] = 62
                    count = _char_ngrams(word, n + 2, minn, maxn, bucket, nwords, pruned,
                                         no_buckets, ngram_rows, 0)
                    for k in range(count):
                        _add_row(hidden, ngram_rows[k], input_rows)
                    n_rows += count
                if word_ngrams > 1:
                    token_hashes[n_hashes] = np.int32(h)
                    n_hashes += 1
            if is_eos:
                break
        for i in range(n_hashes):  # fastText's addWordNgrams
            g = np.uint64(np.int64(token_hashes[i]))
            for j in range(i + 1, min(n_hashes, i + word_ngrams)):
                g = g * np.uint64(116049371) + np.uint64(np.int64(token_hashes[j]))
                row = _bucket_row(np.int64(g % np.uint64(bucket)), nwords, pruned, no_buckets)
                if row >= 0:
                    _add_row(hidden, row, input_rows)
                    n_rows += 1
        if n_rows == 0:  # fastText predicts nothing for an empty input
            continue
        scale = np.float32(1.0 / n_rows)
        for j in range(dim):
            hidden[j] *= scale
        if loss == LOSS_HS:
            _hs(hidden, left, right, nlabels, out, mode, labels, probs, d, stack_node,
                stack_score)
        else:
            _softmax(hidden, nlabels, out, mode, labels, probs, d, scores)


def _huffman(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``HierarchicalSoftmaxLoss::buildTree``: children of each node (-1 for a leaf); leaves are
    the labels in dictionary order (by falling count), the root is the last node."""
    osz = len(counts)
    count = np.full(2 * osz - 1, 10**15, np.int64)
    count[:osz] = counts
    left = np.full(2 * osz - 1, -1, np.int64)
    right = np.full(2 * osz - 1, -1, np.int64)
    leaf, node = osz - 1, osz
    for i in range(osz, 2 * osz - 1):
        pair = []
        for _ in range(2):
            if leaf >= 0 and count[leaf] < count[node]:
                pair.append(leaf)
                leaf -= 1
            else:
                pair.append(node)
                node += 1
        left[i], right[i] = pair
        count[i] = count[pair[0]] + count[pair[1]]
    return left, right


def _dense(m: Matrix) -> np.ndarray:
    """The matrix's rows as ``float32`` (rows x dim). A quantized row is each sub-vector's
    centroid times the row's norm: the very products ``QuantMatrix::addRowToVector`` adds."""
    if not m.quantized:
        return m.dense
    rows = np.empty((m.rows, m.dim), np.float32)
    nsubq = m.codes.shape[1]
    for sub in range(nsubq):
        width = m.lastdsub if sub == nsubq - 1 else m.dsub
        centroids = m.centroids[sub * KSUB * m.dsub:][:KSUB * width].reshape(KSUB, width)
        part = centroids[m.codes[:, sub]]
        if len(m.norms):
            part *= m.norms[:, None]
        rows[:, sub * m.dsub:sub * m.dsub + width] = part
    return rows


def _matrix_args(m: Matrix) -> tuple:
    return (m.dense, m.codes, m.centroids, m.norms, m.dsub, m.lastdsub)


class CompiledPredictor:
    """A supervised fastText model ready for ``predict`` over string columns."""

    def __init__(self, path: str):
        model = read_model(path)
        if model.model != MODEL_SUPERVISED or model.loss not in (LOSS_HS, LOSS_SOFTMAX):
            raise Unsupported(f"{path}: model {model.model}, loss {model.loss}: only supervised"
                              " models with hs or softmax loss are compiled")
        if model.bucket <= 0 and (model.maxn > 0 or model.word_ngrams > 1):
            raise Unsupported(f"{path}: n-grams without buckets")
        self.model = model
        self.labels = [w.decode("utf-8", "replace") for w in model.labels]  # as stored
        self._word_bytes, self._word_off = model.word_bytes, model.word_off
        entries = len(self._word_off) - 1
        self._table = np.full(1 << max(4, (2 * entries).bit_length()), -1, np.int64)
        _fill_table(self._table, self._word_bytes, self._word_off)
        eos_bytes = np.frombuffer(EOS, np.uint8)
        eos = _find(eos_bytes, 0, len(eos_bytes), _hash(eos_bytes, 0, len(eos_bytes)),
                    self._table, self._word_bytes, self._word_off)
        if not 0 <= eos < model.nwords:
            raise Unsupported(f"{path}: no {EOS!r} in the dictionary")
        self._pruned = model.pruned if model.pruned is not None else np.zeros(0, np.int32)
        self._sub_off, self._sub_rows = _subwords(
            self._word_bytes, self._word_off, model.nwords, eos, model.minn, model.maxn,
            model.bucket, self._pruned, model.no_buckets)
        self._params = (model.dim, model.nwords, model.nlabels, eos, model.minn, model.maxn,
                        max(model.bucket, 1), model.word_ngrams, model.loss)
        self._input = _dense(model.input)  # as dense as fastText's .bin: small for an .ftz
        self._left, self._right = (_huffman(model.counts[model.nwords:])
                                   if model.loss == LOSS_HS else (np.zeros(0, np.int64),) * 2)

    def predict(self, data: np.ndarray, offsets: np.ndarray, max_chars: int,
                mode: int) -> tuple[np.ndarray, np.ndarray]:
        """Over the texts ``data[offsets[i]:offsets[i + 1]]`` (UTF-8), each cut to ``max_chars``
        characters: ``mode`` TOP gives the best label's index (-1: no prediction) and its
        probability per text; ALL gives ``-1``s and a ``(texts, labels)`` probability matrix
        (0 where fastText reports nothing)."""
        n = len(offsets) - 1
        labels = np.full(n, -1, np.int64)
        probs = np.zeros((n, 1 if mode == TOP else self.model.nlabels), np.float32)
        _predict(data, offsets, max_chars, mode, SEPARATORS, self._table, self._word_bytes,
                 self._word_off, self._sub_off, self._sub_rows, self._params, self._pruned,
                 self.model.no_buckets, self._input,
                 _matrix_args(self.model.output), self._left, self._right, labels, probs)
        return labels, probs


@numba.njit(cache=True)
def _fill_table(table, word_bytes, word_off):
    mask = len(table) - 1
    for w in range(len(word_off) - 1):
        slot = _hash(word_bytes, word_off[w], word_off[w + 1]) & mask
        while table[slot] >= 0:
            slot = (slot + 1) & mask
        table[slot] = w
