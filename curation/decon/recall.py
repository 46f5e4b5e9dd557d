"""Recall of the decontamination scans on edited copies of real benchmark items, and their false
positives on unrelated real text.

    python -m curation.decon.recall [--tokenizer FILE] [--bpe VOCAB] [--mb MB] [--json]

Items: HumanEval's problems (``humaneval()``: the prompt is the question, the canonical solution
the answer), the one benchmark this environment holds offline. Each item is planted once per
edit, prompt then solution, at a paragraph break in the middle of a host document; hosts are
the first ``--mb`` MB of the real-text sample (``curation.samples.realtext``: the Python
documentation, then installed packages' READMEs, licences and docstrings), which holds no
HumanEval problem. Edits, drawn with a fixed seed per item:

- ``verbatim``: the copy as is;
- ``drop``: one word of the prompt removed (any word, uniformly);
- ``case``: the copy upper-cased;
- ``punct``: every punctuation character of the copy deleted, turned into a space, or replaced by
  another punctuation character (one chance in three each); a deletion inside an identifier
  (``has_close_elements`` -> ``hasclose_elements``) joins two words into one.

Recall of an edit: planted documents in which the planted item is found, over planted
documents. False positives: host documents, scanned without plants, with any match. Settings:
``simple`` at the defaults and at ``preset="olmo3"``, and ``ngram8`` (which no preset changes).
``--tokenizer`` adds rows for a tokenizer.json; ``--bpe VOCAB`` trains a byte-level BPE of that
vocabulary on the host documents (never on the items) and adds rows for it.
"""

from __future__ import annotations

import argparse
import json
import re
import string
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from curation.decon.evals import EvalItem, humaneval
from curation.decon.index import DeconIndex, IndexParams
from curation.decon.scan import ScanParams, scan
from curation.decon.tokens import WORD, Tokens

EDITS = ("verbatim", "drop", "case", "punct")
SETTINGS = (("simple", "default"), ("simple", "olmo3"), ("ngram8", "default"))
BATCH = 256
_PUNCT = string.punctuation
_WORD_RE = re.compile(WORD)


def edit(question: str, answer: str, kind: str, seed: int) -> str:
    """The planted copy of an item (``question`` then ``answer``) under edit ``kind``."""
    rng = np.random.default_rng(seed)
    if kind == "verbatim":
        return question + answer
    if kind == "drop":
        words = list(_WORD_RE.finditer(question))
        w = words[int(rng.integers(len(words)))]
        return question[: w.start()] + question[w.end() :] + answer
    if kind == "case":
        return (question + answer).upper()
    if kind == "punct":
        out = []
        for ch in question + answer:
            if ch in _PUNCT:
                roll = int(rng.integers(3))
                ch = "" if roll == 0 else " " if roll == 1 else \
                    _PUNCT[(_PUNCT.index(ch) + 1 + int(rng.integers(len(_PUNCT) - 1)))
                           % len(_PUNCT)]
            out.append(ch)
        return "".join(out)
    raise ValueError(f"edit must be one of {EDITS}, not {kind!r}")


def host_documents(mb: float) -> list[str]:
    """The first ``mb`` MB of the real-text sample's documents, in source order."""
    from curation.samples.realtext import source_texts, split_documents

    docs: list[str] = []
    size = 0
    for source in source_texts():
        for doc in split_documents(source)[0]:
            docs.append(doc)
            size += len(doc.encode())
            if size >= mb * 1e6:
                return docs
    return docs


def plant(host: str, copy: str) -> str:
    """``copy`` inserted at the first paragraph break after the middle of ``host``."""
    cut = host.find("\n\n", len(host) // 2)
    cut = len(host) if cut < 0 else cut
    return f"{host[:cut]}\n\nExample:\n{copy}\n\n{host[cut:]}"


@dataclass
class Row:
    """One setting's figures: recall per edit, false-positive documents over host documents."""

    mode: str
    preset: str
    tokenizer: str
    recall: dict[str, float]
    found: dict[str, int]
    planted: int
    false_positives: int
    hosts: int
    seconds: float


def _scan_all(index: DeconIndex, tokens: Tokens, texts: list[str],
              params: ScanParams) -> dict[int, set[int]]:
    """Items found per row of ``texts``."""
    found: dict[int, set[int]] = {}
    for at in range(0, len(texts), BATCH):
        for m in scan(index, tokens, texts[at : at + BATCH], params):
            found.setdefault(at + m.row, set()).add(m.item)
    return found


def measure(items: list[EvalItem], hosts: list[str], mode: str, preset: str,
            tokenizer: str | None = None, tokenizer_name: str = "words") -> Row:
    """Recall per edit and false positives of one setting."""
    from curation.decon.evals import build_set

    began = time.perf_counter()
    evalset = build_set("humaneval", items, mode)
    index = DeconIndex.build(evalset, IndexParams.preset(preset, tokenizer=tokenizer))
    params, tokens = ScanParams.preset(preset), Tokens(tokenizer)
    planted, truth = [], []
    for k, item in enumerate(evalset.items):
        for e, kind in enumerate(EDITS):
            planted.append(plant(hosts[(37 * k + 11 * e) % len(hosts)],
                                 edit(item.question, item.answer, kind, 1000 * k + e)))
            truth.append((k, kind))
    found = _scan_all(index, tokens, planted, params)
    hits = dict.fromkeys(EDITS, 0)
    for row, (k, kind) in enumerate(truth):
        hits[kind] += k in found.get(row, set())
    n = len(evalset.items)
    false_positives = len(_scan_all(index, tokens, hosts, params))
    return Row(mode, preset, tokenizer_name, {e: hits[e] / n for e in EDITS}, hits, n,
               false_positives, len(hosts), round(time.perf_counter() - began, 2))


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table."""
    head = ["mode", "preset", "tokens", *EDITS, "false positives"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r.mode, r.preset if r.mode == "simple" else "(any)", r.tokenizer,
                 *(f"{100 * r.recall[e]:.1f}% ({r.found[e]}/{r.planted})" for e in EDITS),
                 f"{r.false_positives}/{r.hosts}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run(mb: float = 1.0, tokenizers: dict[str, str | None] | None = None) -> list[Row]:
    """Every setting of ``SETTINGS`` for each tokenizer (name -> tokenizer.json, None: words)."""
    items, hosts = humaneval().items, host_documents(mb)
    rows = []
    for name, path in (tokenizers or {"words": None}).items():
        rows += [measure(items, hosts, mode, preset, path, name) for mode, preset in SETTINGS]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m curation.decon.recall", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", help="also measure with this tokenizer.json")
    parser.add_argument("--bpe", type=int, default=0,
                        help="also measure with a byte-level BPE of this vocabulary size trained "
                             "on the host documents")
    parser.add_argument("--mb", type=float, default=1.0, help="host documents, MB (default 1)")
    parser.add_argument("--json", action="store_true", help="print JSON rows, not a table")
    args = parser.parse_args(argv)
    tokenizers: dict[str, str | None] = {"words": None}
    if args.tokenizer:
        tokenizers["tokenizer.json"] = args.tokenizer
    with tempfile.TemporaryDirectory() as tmp:
        if args.bpe:
            from curation.tokenize import train_bpe

            path = f"{tmp}/bpe.json"
            train_bpe(host_documents(args.mb), vocab_size=args.bpe, out_path=path)
            tokenizers[f"BPE {args.bpe}"] = path
        rows = run(args.mb, tokenizers)
    print(json.dumps([r.__dict__ for r in rows], indent=1) if args.json else table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
