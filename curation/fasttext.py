"""The fastText runtime: one loader and one per-process cache for every stage that predicts
with a fastText model (language ID, topic, quality); ``classifiers/`` trains the models.

A model is any fastText ``.bin`` (or quantized ``.ftz``) whose labels carry the ``__label__``
prefix; ``FastTextModel.labels`` are the names without it, in the model's own order, and every
probability array has one column per label in that order. Texts are read as fastText reads a
line: newlines count as spaces (fastText's ``predict`` rejects them, and its training format is
one document per line). Texts may be a list of strings or an Arrow string column; the compiled
predictor reads a column's buffers without making Python strings. ``load_cached`` keeps one
loaded model per file per process, so that a stage's ``setup()`` can call it for every task at
no cost after the first.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import fasttext
import numpy as np
import pyarrow as pa

from curation.core.arrow_strings import string_buffers
from curation.core.errors import CurationError
from curation.fasttext_predict import ALL, TOP, CompiledPredictor, Unsupported

PREFIX = "__label__"

# fastText prints a warning through this hook on every load_model; it says nothing useful here.
fasttext.FastText.eprint = lambda *args, **kwargs: None


def fasttext_version() -> str:
    """``"<distribution> <version>"`` of the installed package providing ``fasttext``."""
    from importlib.metadata import packages_distributions, version

    names = packages_distributions().get("fasttext", [])
    return ", ".join(f"{n} {version(n)}" for n in names) or "unknown"


def one_line(text: str) -> str:
    """``text`` with every newline (``\\n``, ``\\r``) replaced by a space."""
    return text.replace("\r", " ").replace("\n", " ")


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


Texts = Sequence[str | None] | pa.Array | pa.ChunkedArray  # what the predict methods take


class FastTextModel:
    """A fastText classifier with its label map.

    ``labels``: label names without ``__label__``, in the model's order; ``index[name]`` is the
    column of that label in ``predict_proba``'s output. Predictions come from
    ``curation.fasttext_predict`` (compiled, equal to fastText's bit for bit) where it supports
    the model, else from fastText's binding (``model``, loaded when first used).
    """

    def __init__(self, path: str | os.PathLike):
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"fastText model not found: {path}")
        self.path = str(path)
        try:
            self.compiled: CompiledPredictor | None = CompiledPredictor(self.path)
            raw = self.compiled.labels
        except Unsupported:
            self.compiled = None
            raw = self.model.get_labels()
        bad = [label for label in raw if not label.startswith(PREFIX)]
        if bad:
            raise ValueError(f"{path}: labels without the {PREFIX!r} prefix: {bad[:5]}")
        self.labels: tuple[str, ...] = tuple(label[len(PREFIX):] for label in raw)
        self.index: dict[str, int] = {label: i for i, label in enumerate(self.labels)}
        self._names = np.array([*self.labels, ""], dtype=object)

    def __repr__(self) -> str:
        return f"FastTextModel({self.path!r}, labels={len(self.labels)})"

    @functools.cached_property
    def model(self) -> fasttext.FastText._FastText:
        """fastText's own loaded model (its Python binding)."""
        try:
            return fasttext.load_model(self.path)
        except ValueError as e:
            raise CurationError(f"{self.path}: not a fastText model ({e})") from None

    def predict_proba(self, texts: Texts, batch_size: int = 4096,
                      max_chars: int | None = None) -> np.ndarray:
        """``float32`` array ``(len(texts), len(labels))``: each row the model's distribution
        over all labels (rows sum to 1 up to rounding; fastText leaves out, as 0, labels below
        about 1e-5 under hierarchical softmax), columns in ``labels`` order. Each text is read
        up to its first ``max_chars`` characters (all when None); a null text reads as empty."""
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        for start, chunk in _chunks(texts, batch_size):
            if self.compiled is not None:
                data, offsets = string_buffers(chunk)
                _, probs = self.compiled.predict(data, offsets, _limit(max_chars), ALL)
                out[start:start + len(probs)] = probs
                continue
            labels, probs = self.model.predict(_lines(chunk, max_chars), k=len(self.labels),
                                               threshold=0.0)
            for row, (row_labels, row_probs) in enumerate(zip(labels, probs, strict=True)):
                cols = [self.index[label[len(PREFIX):]] for label in row_labels]
                out[start + row, cols] = row_probs
        return out

    def predict(self, texts: Texts, batch_size: int = 4096,
                max_chars: int | None = None) -> tuple[list[str], np.ndarray]:
        """Top label per text and its probability (``float32``); ties go to the first label."""
        proba = self.predict_proba(texts, batch_size, max_chars)
        if not len(texts):
            return [], np.zeros(0, np.float32)
        best = proba.argmax(axis=1)
        return [self.labels[i] for i in best.tolist()], proba[np.arange(len(texts)), best]

    def top(self, texts: Texts, batch_size: int = 4096,
            max_chars: int | None = None) -> tuple[list[str], np.ndarray]:
        """fastText's own best label (``k=1``) per text and its probability (``float32``); for
        models with many labels (language ID) much cheaper than ``predict``, which scores
        every label. A text fastText gives no label gets ``""`` and 0."""
        names, scores = [], []
        for _, chunk in _chunks(texts, batch_size):
            if self.compiled is not None:
                data, offsets = string_buffers(chunk)
                best, probs = self.compiled.predict(data, offsets, _limit(max_chars), TOP)
                names += self._names[best].tolist()  # -1, no prediction: the last, ""
                scores.append(probs[:, 0])
                continue
            labels, probs = self.model.predict(_lines(chunk, max_chars), k=1)
            names += [ls[0][len(PREFIX):] if ls else "" for ls in labels]
            scores.append(np.array([p[0] if len(p) else 0.0 for p in probs], np.float32))
        return names, np.concatenate(scores) if scores else np.zeros(0, np.float32)


def _chunks(texts: Texts, size: int) -> Iterator[tuple[int, pa.Array | pa.ChunkedArray]]:
    """``(start, texts[start:start + size])`` as Arrow strings."""
    for start in range(0, len(texts), size):
        chunk = texts[start:start + size]
        yield start, chunk if isinstance(chunk, pa.Array | pa.ChunkedArray) else \
            pa.array(chunk, pa.large_string())


def _lines(chunk: pa.Array | pa.ChunkedArray, max_chars: int | None) -> list[str]:
    """The texts as fastText's binding takes them: one line each, cut to ``max_chars``."""
    return [one_line((t or "")[:max_chars]) for t in chunk.to_pylist()]


def _limit(max_chars: int | None) -> int:
    return (1 << 60) if max_chars is None else max_chars  # more than any text holds


_CACHE: dict[tuple[str, int, int], FastTextModel] = {}


def load_cached(path: str | os.PathLike) -> FastTextModel:
    """The model at ``path``, loaded once per process (keyed on real path, size and mtime, so
    a file rewritten in place is loaded again)."""
    real = os.path.realpath(path)
    st = os.stat(real)
    key = (real, st.st_size, st.st_mtime_ns)
    if key not in _CACHE:
        _CACHE[key] = FastTextModel(real)
    return _CACHE[key]
