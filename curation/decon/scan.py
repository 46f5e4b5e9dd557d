"""Finding eval items in documents: AI2 decon's SIMPLE cluster scoring and Tulu 3's 8-gram
coverage, over one batch of texts.

Both start vectorised over the whole batch (tokens, n-gram hashes, ``searchsorted`` lookups);
only documents with an index hit go through the per-document Python code.

SIMPLE (``mode="simple"``), for each document:

1. Sample every ``sample_every``-th n-gram (positions 0, m, 2m ... within the document). A
   sampled hit on a hot n-gram does not start a cluster: the scan moves one n-gram at a time
   until a miss (nothing starts) or a non-hot hit (a cluster starts there).
2. A cluster starts with the active set = the items holding the starting n-gram and expands
   right, then left, one n-gram at a time; an item in the active set whose n-gram is absent
   ``max_misses`` consecutive times leaves it. Each item accumulates its matched unique n-grams
   and the leftmost and rightmost matched positions. Scanning resumes after the cluster.
3. Per item, the question overlap ``O_q = sum(idf of matched unique n-grams) / sum(idf of the
   item's unique question n-grams)``, in [0, 1]. The item is a candidate when ``O_q`` reaches
   the required overlap for its question length L (tokens): 1.0 when ``L <= decay_start``,
   falling linearly to ``decay_floor`` at ``L >= decay_end`` (short questions need exact
   coverage).
4. Answer (``O_a``) near the cluster, within ``answer_window`` tokens either side: an answer of
   fewer than ``short_answer`` tokens must occur as an exact token sequence (1 or 0); a longer
   one scores its IDF-weighted n-gram overlap. Passage (``O_p``): IDF-weighted n-gram overlap
   within ``passage_window`` tokens either side.
5. Score ``S`` by the item's composition: Q ``O_q``; QA ``0.75 O_q + 0.25 O_a``; QP
   ``0.85 O_q + 0.15 O_p``; QAP ``0.7 O_q + 0.2 O_a + 0.1 O_p``. A question of fewer than
   ``confident_ngrams`` (20) unique n-grams N carries less evidence: its weight is scaled by
   ``0.5 + 0.5 N / 20`` and the rest moves to the answer (else the passage).
6. The item contaminates the document when it is a candidate and ``S >= threshold``. The
   default threshold, 0.8, means for a QA item: the answer must be found near the question
   (without it even a perfect question scores 0.75), and then any candidate passes (``O_q``
   >= 0.8 gives ``S`` >= 0.85). A question of at least ``question_alone`` tokens (50) is
   informative enough to be sufficient evidence by itself: its score is ``max(S, O_q)``, so a
   long prompt copied with a rewritten answer (code with renamed variables) is still found.

NGRAM8 (``mode="ngram8"``): every 8-gram of the document is looked up; an item contaminates the
document when the 8-grams they share cover more than half of the item's tokens (question then
answer): ``covered / len > 0.5``, so exactly 0.5 is clean. The score is that fraction.

A match's span runs from the first character of its first matched token to the last character
of its last (answer included when found), in Unicode code points of the original text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from curation.decon.index import DeconIndex, lookup
from curation.decon.tokens import Tokens, ngrams


@dataclass(frozen=True)
class ScanParams:
    """Tunables of the SIMPLE scan and scoring (see the module docstring); ``ngram8`` uses none
    but ``coverage``."""

    sample_every: int = 10
    max_misses: int = 11
    threshold: float = 0.8
    decay_start: int = 20
    decay_end: int = 50
    decay_floor: float = 0.8
    short_answer: int = 10
    answer_window: int = 50
    passage_window: int = 500
    coverage: float = 0.5
    question_alone: int = 50
    confident_ngrams: int = 20


class Match(NamedTuple):
    """One contaminating item in one document: ``row`` in the batch, ``item`` index in the
    eval set, ``score`` in [0, 1] (rounded to 12 decimals), char span ``[start, end)``."""

    row: int
    item: int
    score: float
    start: int
    end: int


WEIGHTS = {  # (question, answer, passage) by composition
    (False, False): (1.0, 0.0, 0.0),
    (True, False): (0.75, 0.25, 0.0),
    (False, True): (0.85, 0.0, 0.15),
    (True, True): (0.7, 0.2, 0.1),
}


def weights(has_answer: bool, has_passage: bool, unique_ngrams: int,
            p: ScanParams) -> tuple[float, float, float]:
    """(question, answer, passage) weights of an item: the composition's, with part of the
    question's moved to the answer (else the passage) when the question has few n-grams."""
    wq, wa, wp = WEIGHTS[has_answer, has_passage]
    if has_answer or has_passage:
        confidence = min(1.0, 0.5 + 0.5 * unique_ngrams / max(p.confident_ngrams, 1))
        moved = wq * (1.0 - confidence)
        wq -= moved
        if has_answer:
            wa += moved
        else:
            wp += moved
    return wq, wa, wp


def required_overlap(length: int | np.ndarray, p: ScanParams) -> np.ndarray:
    """Question overlap a question of ``length`` tokens needs: 1.0 up to ``decay_start``,
    linear down to ``decay_floor`` at ``decay_end`` and beyond."""
    x = np.clip((np.asarray(length, np.float64) - p.decay_start)
                / max(p.decay_end - p.decay_start, 1), 0.0, 1.0)
    return 1.0 - (1.0 - p.decay_floor) * x


def _postings(index: DeconIndex, family: str, key: int) -> np.ndarray:
    off = getattr(index, f"{family}_offsets")
    return getattr(index, f"{family}_items")[off[key] : off[key + 1]]


def _doc_grams(tokens: Tokens, text: str, n: int):
    hashes, starts, ends = tokens.spans(text)
    grams, _ = ngrams(hashes, np.array([0, len(hashes)], np.int64), n)
    return hashes, starts, ends, grams


def _member(values: np.ndarray, sorted_items: np.ndarray) -> np.ndarray:
    """Which of ``values`` are in ``sorted_items`` (ascending), by binary search."""
    if len(sorted_items) == 0:
        return np.zeros(len(values), bool)
    at = np.minimum(np.searchsorted(sorted_items, values), len(sorted_items) - 1)
    return sorted_items[at] == values


class Cluster(NamedTuple):
    """Candidate items of one cluster (ascending), with, per item, the IDF sum of its matched
    unique question n-grams and its leftmost and rightmost matched n-gram positions."""

    items: np.ndarray
    idf: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


def _expand(index: DeconIndex, keys: np.ndarray, start: int, max_misses: int) -> Cluster:
    """The cluster grown from the hit at n-gram position ``start`` (right, then left)."""
    first = int(keys[start])
    initial = np.asarray(_postings(index, "q", first))
    m = len(initial)
    lo, hi = np.full(m, start, np.int64), np.full(m, start, np.int64)
    pair_item, pair_key = [np.arange(m)], [np.full(m, first, np.int64)]
    for step in (1, -1):
        active = np.arange(m)  # indexes into ``initial``
        misses = np.zeros(m, np.int64)
        pos = start + step
        while len(active) and 0 <= pos < len(keys):
            key = int(keys[pos])
            hit = _member(initial[active], _postings(index, "q", key)) if key >= 0 else \
                np.zeros(len(active), bool)
            matched = active[hit]
            if len(matched):
                pair_item.append(matched)
                pair_key.append(np.full(len(matched), key, np.int64))
                lo[matched] = np.minimum(lo[matched], pos)
                hi[matched] = np.maximum(hi[matched], pos)
            misses = np.where(hit, 0, misses + 1)
            keep = misses < max_misses
            active, misses = active[keep], misses[keep]
            pos += step
    n_keys = len(index.q_keys)
    codes = np.unique(np.concatenate(pair_item) * n_keys + np.concatenate(pair_key))
    idf = np.bincount(codes // n_keys, weights=np.asarray(index.q_idf)[codes % n_keys],
                      minlength=m)
    return Cluster(initial, idf, lo, hi)


def _family_overlap(index: DeconIndex, family: str, item: int, window: np.ndarray,
                    positions: np.ndarray) -> tuple[float, int, int]:
    """(IDF-weighted overlap of the item's ``family`` n-grams with ``window`` grams, first and
    last matched position, -1 if none)."""
    total = float(getattr(index, f"{family}_idf_sum")[item])
    if total <= 0 or len(window) == 0:
        return 0.0, -1, -1
    keys = lookup(getattr(index, f"{family}_keys"), window)
    matched: set[int] = set()
    lo, hi = -1, -1
    for k, pos in zip(keys.tolist(), positions.tolist(), strict=True):
        if k >= 0 and k not in matched and np.isin(item, _postings(index, family, k)):
            matched.add(k)
        if k >= 0 and k in matched:
            lo = pos if lo < 0 else lo
            hi = pos
    idf = getattr(index, f"{family}_idf")
    return min(float(sum(idf[k] for k in matched)) / total, 1.0), lo, hi


def _exact_answer(answer: np.ndarray, hashes: np.ndarray, lo: int, hi: int) -> tuple[int, int]:
    """First token position of ``answer`` as a contiguous sequence in ``hashes[lo:hi]``, -1."""
    k = len(answer)
    region = hashes[lo:hi]
    if k == 0 or len(region) < k:
        return -1, -1
    windows = np.lib.stride_tricks.sliding_window_view(region, k)
    found = np.flatnonzero((windows == answer).all(axis=1))
    return (lo + int(found[0]), lo + int(found[0]) + k - 1) if len(found) else (-1, -1)


def _score_item(index: DeconIndex, item: int, o_q: float, lo: int, hi: int,
                hashes: np.ndarray, grams: np.ndarray,
                p: ScanParams) -> tuple[float, int, int] | None:
    """(score, first token, last token) of a candidate item whose question n-grams matched
    between n-gram positions ``lo`` and ``hi`` with overlap ``o_q``, None if it scores below
    the threshold."""
    n = index.n
    first, last = lo, hi + n - 1
    has_answer, has_passage = int(index.a_len[item]) > 0, int(index.p_len[item]) > 0
    o_a = o_p = 0.0
    if has_answer:
        w_lo, w_hi = max(lo - p.answer_window, 0), min(hi + n + p.answer_window, len(hashes))
        if int(index.a_len[item]) < p.short_answer:
            tok = index.a_tok[index.a_tok_off[item] : index.a_tok_off[item + 1]]
            a_lo, a_hi = _exact_answer(np.asarray(tok), hashes, w_lo, w_hi)
            o_a = 1.0 if a_lo >= 0 else 0.0
        else:
            g_hi = max(min(w_hi - n + 1, len(grams)), w_lo)
            o_a, a_lo, a_hi = _family_overlap(index, "a", item, grams[w_lo:g_hi],
                                              np.arange(w_lo, g_hi))
            a_hi = a_hi + n - 1 if a_hi >= 0 else -1
        if a_lo >= 0:
            first, last = min(first, a_lo), max(last, a_hi)
    if has_passage:
        # n-grams whose tokens all lie within passage_window tokens of the question's
        w_lo = max(lo - p.passage_window, 0)
        g_hi = max(min(hi + p.passage_window + 1, len(grams)), w_lo)
        o_p, _, _ = _family_overlap(index, "p", item, grams[w_lo:g_hi], np.arange(w_lo, g_hi))
    wq, wa, wp = weights(has_answer, has_passage, int(index.q_unique[item]), p)
    score = wq * o_q + wa * o_a + wp * o_p
    if int(index.q_len[item]) >= p.question_alone:
        score = max(score, o_q)
    score = round(score, 12)  # IDF sums in another order than the index's: equal scores tie
    return (score, first, last) if score >= p.threshold else None


def _simple_doc(index: DeconIndex, tokens: Tokens, text: str, row: int,
                p: ScanParams) -> list[Match]:
    hashes, starts, ends, grams = _doc_grams(tokens, text, index.n)
    keys = lookup(index.q_keys, grams)
    hot = np.asarray(index.q_hot)
    best: dict[int, Match] = {}
    resume = 0
    for s in np.flatnonzero(keys[:: p.sample_every] >= 0).tolist():
        pos = s * p.sample_every
        if pos < resume:
            continue
        while 0 <= pos < len(keys) and keys[pos] >= 0 and hot[keys[pos]]:
            pos += 1
        if pos >= len(keys) or keys[pos] < 0:
            resume = pos
            continue
        cluster = _expand(index, keys, pos, p.max_misses)
        resume = int(cluster.hi.max()) + 1
        totals = np.asarray(index.q_idf_sum)[cluster.items]
        o_q = np.round(np.minimum(cluster.idf / np.maximum(totals, 1e-300), 1.0), 12)
        required = required_overlap(np.asarray(index.q_len)[cluster.items], p)
        for k in np.flatnonzero((totals > 0) & (o_q >= np.round(required, 12))).tolist():
            item = int(cluster.items[k])
            scored = _score_item(index, item, float(o_q[k]), int(cluster.lo[k]),
                                 int(cluster.hi[k]), hashes, grams, p)
            if scored is None:
                continue
            score, first, last = scored
            if item not in best or score > best[item].score:  # the first cluster wins ties
                best[item] = Match(row, item, score, int(starts[first]), int(ends[last]))
    return sorted(best.values(), key=lambda m: (m.start, m.item))


def _ngram8_doc(index: DeconIndex, tokens: Tokens, text: str, row: int,
                p: ScanParams) -> list[Match]:
    hashes, starts, ends, grams = _doc_grams(tokens, text, index.n)
    keys = lookup(index.c_keys, grams)
    hit_pos = np.flatnonzero(keys >= 0)
    shared = np.unique(grams[hit_pos])
    # (position, item) for every hit n-gram and every item holding it
    post_lo = np.asarray(index.c_offsets[keys[hit_pos]])
    post_n = np.asarray(index.c_offsets[keys[hit_pos] + 1]) - post_lo
    at = np.repeat(post_lo - (np.cumsum(post_n) - post_n), post_n) + np.arange(int(post_n.sum()))
    pair_item = np.asarray(index.c_items[at])
    pair_pos = np.repeat(hit_pos, post_n)
    items = np.unique(pair_item)
    # Every candidate item's n-gram sequence, concatenated; coverage by a difference array over
    # the concatenated token positions (each item's +1/-1 events cancel within its segment).
    seq_lo = np.asarray(index.c_seq_off[items])
    seq_n = np.asarray(index.c_seq_off[items + 1]) - seq_lo
    lengths = np.asarray(index.c_len[items]).astype(np.int64)
    owner = np.repeat(np.arange(len(items)), seq_n)
    j = np.arange(len(owner)) - np.repeat(np.cumsum(seq_n) - seq_n, seq_n)  # n-gram position
    present = np.isin(np.asarray(index.c_seq)[np.repeat(seq_lo, seq_n) + j], shared)
    token_lo = np.cumsum(lengths) - lengths
    events = np.zeros(int(lengths.sum()) + 1, np.int64)
    np.add.at(events, token_lo[owner[present]] + j[present], 1)
    np.add.at(events, token_lo[owner[present]] + np.minimum(j[present] + index.n,
                                                            lengths[owner[present]]), -1)
    covered = np.cumsum(events[:-1]) > 0
    token_owner = np.repeat(np.arange(len(items)), lengths)
    fractions = np.bincount(token_owner, weights=covered, minlength=len(items)) / lengths
    flagged = fractions > p.coverage
    k = np.searchsorted(items, pair_item)
    first = np.full(len(items), len(grams), np.int64)
    last = np.full(len(items), -1, np.int64)
    np.minimum.at(first, k, pair_pos)
    np.maximum.at(last, k, pair_pos)
    return [Match(row, int(items[k]), float(fractions[k]), int(starts[first[k]]),
                  int(ends[last[k] + index.n - 1])) for k in np.flatnonzero(flagged).tolist()]


def scan(index: DeconIndex, tokens: Tokens, texts: list[str], p: ScanParams) -> list[Match]:
    """Every contaminating (document, item) of ``texts`` against one eval set's index, in row
    order; at most one match per (document, item), the best scoring."""
    if len(texts) == 0 or index.meta["items"] == 0:
        return []
    hashes, offsets = tokens.batch(texts)
    grams, gram_starts = ngrams(hashes, offsets, index.n)
    doc = np.searchsorted(offsets, gram_starts, side="right") - 1
    if index.mode == "ngram8":
        hit_docs = np.unique(doc[lookup(index.c_keys, grams) >= 0])
        per_doc = _ngram8_doc
    else:
        sampled = (gram_starts - offsets[doc]) % p.sample_every == 0
        hit_docs = np.unique(doc[sampled][lookup(index.q_keys, grams[sampled]) >= 0])
        per_doc = _simple_doc
    out: list[Match] = []
    for row in hit_docs.tolist():
        out.extend(per_doc(index, tokens, texts[row], row, p))
    return out
