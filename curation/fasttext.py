"""The fastText runtime: one loader and one per-process cache for every stage that predicts
with a fastText model (language ID, topic, quality); ``classifiers/`` trains the models.

A model is any fastText ``.bin`` (or quantized ``.ftz``) whose labels carry the ``__label__``
prefix; ``FastTextModel.labels`` are the names without it, in the model's own order, and every
probability array has one column per label in that order. Texts are passed to fastText with
newlines replaced by spaces (fastText's ``predict`` rejects them, and its training format is one
document per line). ``load_cached`` keeps one loaded model per file per process, so that a
stage's ``setup()`` can call it for every task at no cost after the first.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import fasttext
import numpy as np

from curation.core.errors import CurationError

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


class FastTextModel:
    """A loaded fastText classifier with its label map.

    ``labels``: label names without ``__label__``, in the model's order; ``index[name]`` is the
    column of that label in ``predict_proba``'s output.
    """

    def __init__(self, path: str | os.PathLike):
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"fastText model not found: {path}")
        self.path = str(path)
        try:
            self.model = fasttext.load_model(self.path)
        except ValueError as e:
            raise CurationError(f"{path}: not a fastText model ({e})") from None
        raw = self.model.get_labels()
        bad = [label for label in raw if not label.startswith(PREFIX)]
        if bad:
            raise ValueError(f"{path}: labels without the {PREFIX!r} prefix: {bad[:5]}")
        self.labels: tuple[str, ...] = tuple(label[len(PREFIX):] for label in raw)
        self.index: dict[str, int] = {label: i for i, label in enumerate(self.labels)}

    def __repr__(self) -> str:
        return f"FastTextModel({self.path!r}, labels={len(self.labels)})"

    def predict_proba(self, texts: Sequence[str], batch_size: int = 4096) -> np.ndarray:
        """``float32`` array ``(len(texts), len(labels))``: each row the model's distribution
        over all labels (rows sum to 1 up to rounding), columns in ``labels`` order."""
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        n_labels = len(self.labels)
        for start in range(0, len(texts), batch_size):
            chunk = [one_line(t) for t in texts[start : start + batch_size]]
            labels, probs = self.model.predict(chunk, k=n_labels, threshold=0.0)
            for row, (row_labels, row_probs) in enumerate(zip(labels, probs, strict=True)):
                cols = [self.index[label[len(PREFIX):]] for label in row_labels]
                out[start + row, cols] = row_probs
        return out

    def predict(self, texts: Sequence[str], batch_size: int = 4096) -> tuple[list[str], np.ndarray]:
        """Top label per text and its probability (``float32``); ties go to the first label."""
        proba = self.predict_proba(texts, batch_size)
        if not len(texts):
            return [], np.zeros(0, np.float32)
        best = proba.argmax(axis=1)
        return [self.labels[i] for i in best.tolist()], proba[np.arange(len(texts)), best]

    def top(self, texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
        """fastText's own best label (``k=1``) per text and its probability (``float32``); for
        models with many labels (language ID) much cheaper than ``predict``, which scores
        every label. A text fastText gives no label gets ``""`` and 0."""
        labels, probs = self.model.predict([one_line(t) for t in texts], k=1)
        return ([ls[0][len(PREFIX):] if ls else "" for ls in labels],
                np.array([p[0] if len(p) else 0.0 for p in probs], np.float32))


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
