"""Decontamination: our vectorised scan against a plain-Python Tulu-style 8-gram set lookup, on
the texts of the input corpus (in memory, decompressed beforehand), with 10k and 100k
synthetic eval items indexed, plus real eval items that can match: HumanEval's 164 problems
on the real-text input, the corpus's own 200 planted items on the synthetic one.

Rows, for each index size:

- index build (items/s and MB/s of item text, peak memory): our numpy index vs a Python dict
  from 8-gram tuples to item sets; both must count the same distinct 8-grams;
- 8-gram coverage scan (MB/s of text): our ``ngram8`` scan vs the Python peer (8-gram tuples
  of each document intersected with the dict, coverage per hit item); both must flag the same
  (document, item) pairs;
- SIMPLE scan (MB/s): our ``simple`` mode; its output differs from the peer's by design, so
  the peer figure is the 8-gram row's, timed again here for the same input.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from curation.bench.common import Corpus, Timed, compare, measure, rate_row, text_mb
from curation.decon.evals import EvalItem, build_set, humaneval, load_eval
from curation.decon.index import DeconIndex, IndexParams
from curation.decon.scan import ScanParams, scan
from curation.decon.tokens import Tokens, normalize
from curation.synthetic.generator import benchmark
from curation.tokenize.cli import iter_texts

BATCH = 10_000  # documents per scan call, as a stage batch
SIZES = (10_000, 100_000)


def eval_items(n: int, planted: list[EvalItem], seed: int = 1) -> list[EvalItem]:
    """``n`` synthetic items (``gen-NNNNNN``) from the generator's templates, then ``planted``."""
    made = benchmark(np.random.default_rng(seed), n)
    return [EvalItem(f"gen-{k:06d}", it.question, it.answer) for k, it in enumerate(made)] \
        + planted


class PythonNgramPeer:
    """Tulu 3's decontamination in plain Python: 8-gram tuples of normalised words in a dict."""

    def __init__(self, items: list[EvalItem], n: int = 8):
        self.n, self.ids, self.lengths = n, [it.id for it in items], []
        self.grams: dict[tuple[str, ...], set[int]] = {}
        self.sequences: list[list[tuple[str, ...]]] = []
        for k, it in enumerate(items):
            words = normalize(f"{it.question} {it.answer}").split()
            seq = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
            self.lengths.append(len(words))
            self.sequences.append(seq)
            for g in seq:
                self.grams.setdefault(g, set()).add(k)

    def scan(self, texts: list[str]) -> list[tuple[int, str]]:
        out = []
        for row, text in enumerate(texts):
            words = normalize(text).split()
            shared = {g for g in (tuple(words[i : i + self.n])
                                  for i in range(len(words) - self.n + 1)) if g in self.grams}
            hit = set().union(*(self.grams[g] for g in shared)) if shared else set()
            for k in sorted(hit):
                covered = set()
                for i, g in enumerate(self.sequences[k]):
                    if g in shared:
                        covered.update(range(i, i + self.n))
                if len(covered) / self.lengths[k] > 0.5:
                    out.append((row, self.ids[k]))
        return sorted(out)


def _ours_scan(index: DeconIndex, texts: list[str], params: ScanParams) -> list[tuple[int, str]]:
    out = []
    tokens = Tokens()
    for at in range(0, len(texts), BATCH):
        for m in scan(index, tokens, pl.Series(texts[at : at + BATCH]), params):
            out.append((at + m.row, str(index.ids[m.item])))
    return sorted(out)


def planted_items(corpus: Corpus) -> list[EvalItem]:
    """Real eval items for the corpus: its planted ones (synthetic) or HumanEval's (real)."""
    if corpus.kind == "synthetic":
        return load_eval(f"{corpus.root}/evals/synthetic_qa.jsonl").items
    return humaneval().items


def run(corpus: Corpus, workdir: str) -> dict:
    texts = list(iter_texts(corpus.files))
    docs, mb = corpus.docs, corpus.text_mb
    planted = planted_items(corpus)
    rows, index_info = [], {}
    for size in SIZES:
        items = eval_items(size, planted)
        simple_set, cover_set = build_set("gen", items), build_set("gen", items, mode="ngram8")
        holder: dict[str, object] = {}

        def build_ours(s=cover_set, h=holder) -> int:
            h["ours"] = DeconIndex.build(s, IndexParams())
            return len(h["ours"].c_keys)

        def build_peer(s=cover_set, h=holder) -> int:
            h["peer"] = PythonNgramPeer(s.items)
            return len(h["peer"].grams)

        label = f"{len(cover_set.items) // 1000}k eval items"
        items_mb = text_mb(f"{it.question} {it.answer} {it.passage}" for it in cover_set.items)
        rows.append(compare(f"decon index build (8-grams), {label}", "python dict of 8-grams",
                            build_ours, build_peer, len(cover_set.items), items_mb,
                            metric="items/s", units=len(cover_set.items)))
        ours, peer = holder["ours"], holder["peer"]
        rows.append(compare(f"decon 8-gram coverage scan, {label}", "python 8-gram set lookup",
                            lambda o=ours: _ours_scan(o, texts, ScanParams()),
                            lambda p=peer: p.scan(texts), docs, mb, metric="MB/s"))
        simple_index, build_s, build_mb = measure(
            lambda s=simple_set: DeconIndex.build(s, IndexParams()))
        found, ours_s, ours_mb = measure(
            lambda i=simple_index: _ours_scan(i, texts, ScanParams()))
        _, peer_s, peer_mb = measure(lambda p=peer: p.scan(texts))
        rows.append(rate_row(f"decon SIMPLE scan, {label} (peer: 8-gram lookup)", "MB/s",
                             Timed(ours_s, ours_mb, docs, mb), "python 8-gram set lookup",
                             Timed(peer_s, peer_mb, docs, mb)))
        index_info[str(size)] = {
            "items": len(simple_set.items), "simple_build_s": build_s,
            "simple_build_peak_mb": build_mb, "simple_index_mb": simple_index.nbytes() / 1e6,
            "ngram8_index_mb": ours.nbytes() / 1e6, "simple_matches": len(found),
        }
        holder.clear()
    return {"planted_items": len(planted), "rows": rows, "index": index_info}
