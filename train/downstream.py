"""Downstream tasks scored by log-likelihood, as evaluation harnesses do: no generation.

A task is one local eval file (JSONL, optionally ``.gz``, or Parquet), in the shapes
`curation.decon.evals` reads for decontamination (its readers are used here), named by the
file's stem. Each record becomes a **context** (the ``question``, after the ``passage`` /
``context`` when the record has one, or ``template.format(question=..., passage=...)``) and
one or more **continuations** (``" " + choice``; a code record's solution follows its prompt
with no space):

- **multiple choice** (``question`` + ``choices``/``options``/``endings`` + the correct one as
  an index, a letter or one of the choices' labels): each choice is scored by the summed
  log-probability of its tokens given the context. ``acc``: the correct choice has the highest
  sum; ``acc_norm``: the highest sum per UTF-8 byte of the choice's text (lm-eval's
  ``acc_bytes``, its ``acc_norm``, which divides by characters, on ASCII);
- **continuation** (``qa``, ``passage`` and ``code`` records: a question and its reference
  answer): ``acc`` is the share of answers that are the model's greedy continuation (every
  token the argmax, as lm-eval's ``is_greedy``), ``bpb`` the answers' bits per UTF-8 byte.

``acc_stderr`` is the standard error of ``acc`` over items (``sqrt(acc (1 - acc) / (n - 1))``).

Tokenization follows lm-eval's: trailing whitespace of the context moves to the front of the
continuation, the continuation's tokens are those of ``context + continuation`` after the
context's own tokens, and the input is the context's tokens then the continuation's, cut on
the left to the model's context (``max_seq_len + 1`` tokens; the continuation must fit). A
tokenizer with BOS gets BOS before every context (the tokenized training documents start with
it); an empty context is the EOS token (the model's only "start of text" without BOS).

Scoring is batched: requests are sorted by length (longest first, ties by order) and
right-padded to the longest of each batch of ``batch_rows``; the model is causal, so padding
changes nothing before it. Only the continuation positions' logits are normalised (float32
log-softmax). The model is put in eval mode and restored, under ``torch.no_grad``.

    from train.downstream import load_task, score_tasks
    scores = score_tasks(model, [load_task("evals/arc.jsonl")], tokenizer, info)
    scores["arc"]["acc"], scores["arc"]["acc_norm"]
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from tokenizers import Tokenizer

from curation.decon.evals import _choices, _correct_index, _detect, _records, adapt
from curation.tokenize import TokenizerInfo

KINDS = ("mc", "continuation")


@dataclass(frozen=True)
class TaskItem:
    """One scored item: a context, its candidate continuations' texts (without the delimiter)
    and the index of the correct one (0 for a continuation task's single answer)."""

    id: str
    context: str
    choices: tuple[str, ...]
    gold: int = 0
    delimiter: str = " "


@dataclass(frozen=True)
class Task:
    """A named list of items of one kind (``mc`` or ``continuation``)."""

    name: str
    kind: str
    items: tuple[TaskItem, ...]


def _context(question: str, passage: str, template: str | None) -> str:
    if template is not None:
        return template.format(question=question, passage=passage)
    return f"{passage}\n\n{question}" if passage else question


def task_item(record: dict, index: int, template: str | None = None) -> tuple[str, TaskItem]:
    """The kind and item of one record (the shape detected as `curation.decon.evals` does)."""
    shape = _detect(record)
    passage = str(record.get("passage") or record.get("context") or "")
    if shape == "mc":
        choices, labels = _choices(record)
        gold = _correct_index(record, len(choices), labels)
        item_id = str(next((record[k] for k in ("id", "task_id") if record.get(k) is not None),
                           index))
        return "mc", TaskItem(item_id, _context(str(record["question"]), passage, template),
                              tuple(choices), gold)
    it = adapt(record, shape, index)
    if not it.answer:
        raise ValueError("no reference answer to score")
    return "continuation", TaskItem(it.id, _context(it.question, it.passage, template),
                                    (it.answer,), 0, "" if shape == "code" else " ")


def load_task(path: str, name: str | None = None, template: str | None = None) -> Task:
    """The task of an eval file; ``name`` defaults to the file name without extensions.
    Every record must be of one kind; malformed records raise naming the file and record."""
    kinds, items = set(), []
    for i, record in enumerate(_records(path)):
        try:
            kind, item = task_item(record, i, template)
        except (KeyError, ValueError, TypeError, IndexError) as e:
            raise ValueError(f"{path}: record {i}: {e}") from e
        kinds.add(kind)
        items.append(item)
    if not items:
        raise ValueError(f"{path}: no records")
    if len(kinds) > 1:
        raise ValueError(f"{path}: mixes multiple-choice records with question/answer ones")
    return Task(name or os.path.basename(path).split(".")[0], kinds.pop(), tuple(items))


def load_tasks(paths: Sequence[str], template: str | None = None) -> list[Task]:
    """One task per file, named by its stem (which must differ between files)."""
    tasks = [load_task(p, template=template) for p in paths]
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ValueError(f"task files with the same name: {sorted(names)}")
    return tasks


def encode_pair(tokenizer: Tokenizer, info: TokenizerInfo, context: str,
                continuation: str) -> tuple[list[int], list[int]]:
    """Context and continuation token ids (see the module docstring)."""
    stripped = context.rstrip()
    if stripped != context:
        continuation = context[len(stripped):] + continuation
        context = stripped
    ctx = tokenizer.encode(context, add_special_tokens=False).ids if context else []
    whole = tokenizer.encode(context + continuation, add_special_tokens=False).ids
    cont = whole[len(ctx):]
    if not cont:
        raise ValueError(f"continuation {continuation!r} has no tokens of its own")
    if info.bos_id is not None:
        ctx = [info.bos_id, *ctx]
    elif not ctx:
        ctx = [info.eos_id]
    return ctx, cont


@torch.no_grad()
def loglikelihoods(model: torch.nn.Module, requests: Sequence[tuple[Sequence[int],
                                                                      Sequence[int]]],
                   batch_rows: int = 8, device: str | torch.device = "cpu",
                   ) -> list[tuple[float, bool]]:
    """For each (context ids, continuation ids): the summed log-probability (nats) of the
    continuation given the context, and whether every continuation token is the argmax."""
    max_len = model.cfg.max_seq_len
    rows = []
    for ctx, cont in requests:
        if not ctx:
            raise ValueError("an empty context: start it with BOS or EOS (see encode_pair)")
        if not 0 < len(cont) <= max_len:
            raise ValueError(f"a continuation of {len(cont)} tokens cannot be scored in a "
                             f"context of {max_len}")
        rows.append((list(ctx) + list(cont))[-(max_len + 1):])
    order = sorted(range(len(rows)), key=lambda i: (-len(rows[i]), i))
    out: list[tuple[float, bool]] = [(0.0, False)] * len(rows)
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(order), batch_rows):
            batch = order[start:start + batch_rows]
            width = len(rows[batch[0]]) - 1  # the longest row of the batch: sorted
            inputs = torch.zeros(len(batch), width, dtype=torch.long)
            where_r, where_t, targets, owner = [], [], [], []
            for r, i in enumerate(batch):
                n_in, k = len(rows[i]) - 1, len(requests[i][1])
                inputs[r, :n_in] = torch.tensor(rows[i][:-1])
                where_r += [r] * k
                where_t += range(n_in - k, n_in)  # the positions predicting the continuation
                targets += rows[i][-k:]
                owner += [r] * k
            logits, _ = model(inputs.to(device))
            dev = logits.device
            picked = logits[torch.tensor(where_r, device=dev),
                            torch.tensor(where_t, device=dev)].float()  # (N, V)
            target = torch.tensor(targets, device=dev)
            logp = picked.log_softmax(-1).gather(1, target[:, None])[:, 0].double().cpu()
            hit = (picked.argmax(-1) == target).cpu()
            owners = torch.tensor(owner)
            sums = torch.zeros(len(batch), dtype=torch.float64).index_add_(0, owners, logp)
            misses = torch.zeros(len(batch), dtype=torch.long).index_add_(
                0, owners, (~hit).long())
            for r, i in enumerate(batch):
                out[i] = (float(sums[r]), bool(misses[r] == 0))
    finally:
        model.train(was_training)
    return out


def _stderr(hits: list[bool]) -> float:
    n = len(hits)
    p = sum(hits) / n
    return math.sqrt(p * (1 - p) / (n - 1)) if n > 1 else 0.0


def task_metrics(task: Task, results: Sequence[tuple[float, bool]]) -> dict:
    """A task's metrics from the (log-likelihood, greedy) of each continuation, items in order
    and each item's choices in order."""
    acc, acc_norm, nats, n_bytes = [], [], 0.0, 0
    k = 0
    for item in task.items:
        res = results[k:k + len(item.choices)]
        k += len(item.choices)
        lls = [ll for ll, _ in res]
        if task.kind == "mc":
            per_byte = [ll / max(1, len(c.encode("utf-8"))) for ll, c in zip(lls, item.choices,
                                                                              strict=True)]
            acc.append(max(range(len(lls)), key=lls.__getitem__) == item.gold)
            acc_norm.append(max(range(len(lls)), key=per_byte.__getitem__) == item.gold)
        else:
            acc.append(res[0][1])
            nats -= lls[0]
            n_bytes += len((item.delimiter + item.choices[0]).encode("utf-8"))
    out = {"kind": task.kind, "items": len(task.items), "acc": sum(acc) / len(acc),
           "acc_stderr": _stderr(acc)}
    if task.kind == "mc":
        out["acc_norm"] = sum(acc_norm) / len(acc_norm)
    else:
        out["bpb"] = nats / math.log(2) / n_bytes
    return out


def score_task(model: torch.nn.Module, task: Task, tokenizer: Tokenizer, info: TokenizerInfo,
               batch_rows: int = 8, device: str | torch.device = "cpu") -> dict:
    """The metrics of ``model`` on ``task`` (see the module docstring)."""
    requests = [encode_pair(tokenizer, info, item.context, item.delimiter + choice)
                for item in task.items for choice in item.choices]
    return task_metrics(task, loglikelihoods(model, requests, batch_rows, device))


def score_tasks(model: torch.nn.Module, tasks: Sequence[Task], tokenizer: Tokenizer,
                info: TokenizerInfo, batch_rows: int = 8,
                device: str | torch.device = "cpu") -> dict[str, dict]:
    """Task name -> its metrics."""
    return {t.name: score_task(model, t, tokenizer, info, batch_rows, device) for t in tasks}
