"""fastText supervised models: train, load, predict in batches, export.

A model is any fastText ``.bin`` (or quantized ``.ftz``) whose labels carry the ``__label__``
prefix; ``FastTextModel.labels`` are the names without it, in the model's own order, and every
probability array has one column per label in that order. Texts are passed to fastText with
newlines replaced by spaces (fastText's ``predict`` rejects them, and its training format is one
document per line). ``load_cached`` keeps one loaded model per file per process, so that a
stage's ``setup()`` can call it for every task at no cost after the first.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import fasttext
import numpy as np

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


@dataclass(frozen=True)
class FastTextParams:
    """Hyperparameters of ``fasttext.train_supervised`` (same names, same meaning).

    ``thread=1`` keeps training deterministic for a given ``seed``; more threads are faster but
    the result then depends on scheduling. Seen with fasttext-numpy2-wheel 0.9.2 on the synthetic
    topics: without hashed n-grams (``wordNgrams=1`` and ``maxn=0``, so fastText uses no
    buckets) training often stopped with "Encountered NaN" even at ``lr=0.1``, while
    ``wordNgrams=2`` trained the same data at ``lr`` up to 1.0. Hence the defaults.
    """

    dim: int = 64
    epoch: int = 10
    lr: float = 0.5
    wordNgrams: int = 2  # noqa: N815 (fastText's own spelling)
    minCount: int = 1  # noqa: N815
    minn: int = 0
    maxn: int = 0
    bucket: int = 200_000
    loss: str = "softmax"
    seed: int = 0
    thread: int = 1

    def as_dict(self) -> dict:
        return asdict(self)


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
        self.model = fasttext.load_model(self.path)
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


def write_training_file(path: str | os.PathLike, texts: Sequence[str], labels: Sequence[str]):
    """fastText's training format: one ``__label__<label> <text on one line>`` per document."""
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    with open(path, "w", encoding="utf-8") as f:
        for text, label in zip(texts, labels, strict=True):
            if not label or any(c.isspace() for c in label):
                raise ValueError(f"label {label!r} is empty or contains whitespace")
            f.write(f"{PREFIX}{label} {one_line(text)}\n")


def train(
    texts: Sequence[str],
    labels: Sequence[str],
    out_path: str | os.PathLike,
    params: FastTextParams = FastTextParams(),  # noqa: B008 (frozen, so safe as a default)
    quantize: bool = False,
) -> FastTextModel:
    """Train a supervised model on ``(text, label)`` pairs and save it to ``out_path``.

    ``quantize=True`` writes fastText's compressed form (product-quantized input matrix,
    normally named ``.ftz``) instead of the full ``.bin``. Training runs in a child interpreter
    (see ``_TRAIN_SCRIPT``; about 0.3 s of start-up); the file is written under a temporary name
    and renamed, so ``out_path`` is never half-written. Returns the model loaded from disk.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "train.txt")
        write_training_file(data, texts, labels)
        partial = out_path.with_name(out_path.name + ".tmp")
        job = {"input": data, "output": str(partial), "params": params.as_dict(),
               "quantize": quantize}
        done = subprocess.run([sys.executable, "-c", _TRAIN_SCRIPT, json.dumps(job)],
                              capture_output=True, text=True)
        if done.returncode:
            reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise RuntimeError(
                f"fastText training failed ({reason}) with {params}; a lower lr, or "
                "wordNgrams >= 2 when maxn == 0, usually avoids it"
            )
        os.replace(partial, out_path)
    return FastTextModel(out_path)


# Training runs in a fresh interpreter: in a long-lived process (a test session that had run a
# pipeline) fasttext-numpy2-wheel 0.9.2 was seen to stop with "Encountered NaN" on data and
# settings that train cleanly, and deterministically, in a new process.
_TRAIN_SCRIPT = """
import json, sys
import fasttext
job = json.loads(sys.argv[1])
model = fasttext.train_supervised(input=job["input"], verbose=0, **job["params"])
if job["quantize"]:
    model.quantize(input=job["input"], qnorm=True, retrain=False, thread=job["params"]["thread"])
model.save_model(job["output"])
"""
