"""Training fastText supervised models; loading and predicting is ``curation.fasttext``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from curation.fasttext import PREFIX, FastTextModel, one_line


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
