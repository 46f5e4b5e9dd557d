"""Finding eval items in documents: AI2 decon's SIMPLE cluster scoring and Tulu 3's 8-gram
coverage, over one batch of texts.

Both start vectorised over the whole batch (tokens, n-gram hashes, ``searchsorted`` lookups);
only documents with an index hit go through the per-document Python code.

SIMPLE (``mode="simple"``) follows AI2 decon's SIMPLE detector (github.com/allenai/decon, read
at commit e1bcb80: ``src/detect/detection.rs``, ``scoring.rs``, ``contamination_entry.rs``,
``reference_index.rs``). For each document:

1. Sample every ``sample_every``-th n-gram (positions 0, m, 2m ... within the document). A
   sampled hit on a hot n-gram does not start a cluster: the scan moves one n-gram at a time
   until a miss (nothing starts) or a non-hot hit (a cluster starts there).
2. A cluster starts with the active set = the items holding the starting n-gram and expands
   right, then left, one n-gram at a time; an item in the active set whose n-gram is absent
   ``max_misses`` consecutive times leaves it. Each item accumulates its matched unique n-grams
   and the leftmost and rightmost matched positions. Scanning resumes after the cluster.
3. Per item, the question overlap ``O_q = sum(idf of matched unique n-grams) / sum(idf of the
   item's unique question n-grams)``, in [0, 1]. The item is a candidate when
   ``O_q >= interp(Lq, F)``: ``Lq`` is its question's length in tokens and
   ``F = max((threshold - 0.3) / 0.7, 0)`` the least question overlap that could still reach
   ``threshold`` (a QAP item with a perfect answer and passage; 0.714 at 0.8, 0.829 at 0.88).
   decon: ``evaluate_document_match`` (detection.rs), ``minimum_question_idf_threshold``.
4. Answer (``O_a``) near the cluster: an answer of fewer than ``short_answer`` tokens must
   occur as an exact token sequence within ``answer_window`` tokens of the question (1 or 0);
   a longer one scores the IDF-weighted overlap of its n-grams (``answer_n`` tokens) within
   ``max(long_answer_window, 2 * its tokens)`` tokens. Passage (``O_p``): IDF-weighted overlap
   of its n-grams (``passage_n`` tokens) within ``passage_window`` tokens. All windows reach
   either side of the question. ``passages=False`` scores every item as if it had no passage
   (decon's ``index_passages: false``).
5. Score ``S`` by the item's composition: Q ``O_q``; QA ``0.75 O_q + 0.25 O_a``; QP
   ``0.85 O_q + 0.15 O_p``; QAP ``0.7 O_q + 0.2 O_a + 0.1 O_p``; at most 1. A question of
   fewer than ``confident_ngrams`` (20) unique n-grams N carries less evidence: its weight is
   scaled by ``0.5 + 0.5 N / 20`` and the rest moves to the answer (QA), the passage (QP) or
   half to each (QAP). In QAP an answer of k < 4 distinct tokens then keeps ``0.5 + 0.5 k / 4``
   of its weight, the rest moving to the passage (decon: scoring.rs,
   ``calculate_combined_contamination_score``). Our extension (``question_alone``, 50; None
   turns it off, as ``olmo3`` does): a question of at least that many tokens is sufficient
   evidence by itself, ``S = max(S, O_q)``, so a long prompt copied with a rewritten answer
   (code with renamed variables) is still found.
6. Length rule: the item contaminates the document when ``S >= interp(L, threshold)``, with
   ``L`` its *cumulative* length: question tokens + distinct answer tokens (0 without an
   answer) + passage tokens (0 without a passage or with ``passages=False``).

``interp(L, t)`` is decon's ``interpolate_threshold`` (scoring.rs): 1.0 for
``L <= decay_start``, ``t`` for ``L >= decay_end``, and ``1 - (1 - t) (L - decay_start) /
(decay_end - decay_start)`` in between (a step when the two are equal). So items up to
``decay_start`` tokens must match perfectly, and the requirement relaxes linearly to the plain
threshold at ``decay_end``. decon applies rule 6 by rescaling: with ``R = interp(L, threshold)
> threshold`` it reports ``S' = S * threshold / R`` (1 when ``S = 1``) and flags ``S' >=
threshold``, which is ``S >= R``; we compare ``S`` with ``R`` and report ``S``.

Lengths are in tokens of the configured tokenizer (``Tokens``: words by default, or a
tokenizer.json's ids; decon: cl100k by default). As in decon, the question and passage lengths
count all their tokens (``process_question_field`` / ``process_passage_field`` in
reference_index.rs) and the answer's counts its *distinct* tokens (``answer_token_set.len()``
in ``check_answer_contamination``, contamination_entry.rs). Worked example at the defaults
(0.8, 20, 50), word tokens: a 30-word question with an answer of 10 distinct words is a
candidate from
``O_q >= 1 - 0.286 * 10/30 = 0.905`` and contaminates from ``S >= 1 - 0.2 * 20/30 = 0.867``.

Defaults and presets (``curation.decon.presets``). The defaults are decon's defaults
(``config/default.yaml``: threshold 0.8, perfect match up to 20 tokens, threshold from 50,
5-grams, sampling every 10, 11 misses) where we model the same thing, plus: ``question_alone``
(decon has none); exact answers below 10 tokens rather than at most 3, because our answer
n-grams default to the question's 5-grams (decon: 3-grams) and an answer shorter than 5
tokens has no 5-gram. ``preset="olmo3"`` is decon's OLMo web configuration
(``doc/repro/olmo-web.yaml``): threshold 0.88, perfect match up to 25 tokens, threshold from 50,
exact answers of 1 token within 20, answer bigrams within ``max(20, 2 * length)``, passages
off, ``question_alone`` off. decon describes that file as a reproduction artifact and its
default configuration as the more accurate one; ours stays on the defaults for that reason and
for recall: the stricter threshold and the longer perfect-match span cost recall on edited
copies (see README's decontamination paragraph for the measured figures). A word is at least
one cl100k token (rare words and numbers of over 3 digits are several), so with word tokens
either setting holds short items to a closer match than decon does; a tokenizer.json brings
the counts near decon's. Differences that remain under either setting: IDF is
``ln(1 + N / df)`` (decon: ``ln(N / df)``, 0 for an n-gram in every item); windows reach both
sides of the question (decon: answers after it, passages before it, passages grown with a
2-miss budget); normalisation turns every non-alphanumeric into a space (decon: a list of ASCII
punctuation and curly quotes); eval items are filtered by words, not tokens (``build_set``).

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
from curation.decon.presets import SCAN_PRESETS, preset_fields
from curation.decon.tokens import Tokens, ngrams

MIN_INFORMATIVE_ANSWER = 4  # answer tokens below which a QAP item's answer weight shrinks


@dataclass(frozen=True)
class ScanParams:
    """Tunables of the SIMPLE scan and scoring (see the module docstring); ``ngram8`` uses none
    but ``coverage``. ``ScanParams.preset("olmo3")`` gives AI2 decon's OLMo web configuration
    (``curation.decon.presets``)."""

    sample_every: int = 10
    max_misses: int = 11
    threshold: float = 0.8
    decay_start: int = 20
    decay_end: int = 50
    short_answer: int = 10
    answer_window: int = 50
    long_answer_window: int = 100
    passage_window: int = 500
    passages: bool = True
    coverage: float = 0.5
    question_alone: int | None = 50
    confident_ngrams: int = 20

    def __post_init__(self) -> None:
        if self.decay_end < self.decay_start:
            raise ValueError(f"decay_end ({self.decay_end}) must be at least decay_start "
                             f"({self.decay_start})")

    @classmethod
    def preset(cls, name: str = "default", **fields) -> ScanParams:
        """The parameters of a named preset (``curation.decon.presets``), ``fields`` over it."""
        return cls(**{**preset_fields(SCAN_PRESETS, name), **fields})

    @property
    def question_floor(self) -> float:
        """The least question overlap that can still reach ``threshold``: a QAP item with a
        perfect answer and passage, ``(threshold - 0.3) / 0.7`` (not below 0)."""
        return max((self.threshold - 0.3) / 0.7, 0.0)


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


def weights(has_answer: bool, has_passage: bool, unique_ngrams: int, p: ScanParams,
            answer_types: int | None = None) -> tuple[float, float, float]:
    """(question, answer, passage) weights of an item: the composition's, with part of the
    question's moved to the answer or the passage when the question has few n-grams (and, for
    QAP, part of the answer's to the passage when the answer has few distinct tokens)."""
    wq, wa, wp = WEIGHTS[has_answer, has_passage]
    q_conf = min(1.0, 0.5 + 0.5 * unique_ngrams / max(p.confident_ngrams, 1))
    moved = wq * (1.0 - q_conf)
    if has_answer and has_passage:
        a_conf = 1.0 if answer_types is None or answer_types >= MIN_INFORMATIVE_ANSWER else \
            0.5 + 0.5 * answer_types / MIN_INFORMATIVE_ANSWER
        wa, wp = wa + moved / 2, wp + moved / 2
        return wq - moved, wa * a_conf, wp + wa * (1.0 - a_conf)
    if has_answer:
        return wq - moved, wa + moved, 0.0
    if has_passage:
        return wq - moved, 0.0, wp + moved
    return wq, wa, wp


def interpolate(length: int | np.ndarray, start: int, end: int, target: float) -> np.ndarray:
    """AI2 decon's ``interpolate_threshold``: 1.0 for ``length <= start``, ``target`` for
    ``length >= end``, linear in between (a step at ``start`` when ``start == end``)."""
    x = np.clip((np.asarray(length, np.float64) - start) / max(end - start, 1), 0.0, 1.0)
    return 1.0 - (1.0 - target) * x


def required_question(question_len: int | np.ndarray, p: ScanParams) -> np.ndarray:
    """Question overlap a candidate needs, by its question's length in tokens: 1.0 up to
    ``decay_start``, down to ``p.question_floor`` at ``decay_end``."""
    return interpolate(question_len, p.decay_start, p.decay_end, p.question_floor)


def required_score(length: int | np.ndarray, p: ScanParams) -> np.ndarray:
    """Score an item needs, by its cumulative length in tokens (question + distinct answer
    tokens + passage): 1.0 up to ``decay_start``, down to ``threshold`` at ``decay_end``."""
    return interpolate(length, p.decay_start, p.decay_end, p.threshold)


def item_length(index: DeconIndex, item: int, p: ScanParams) -> int:
    """An item's cumulative length for ``required_score``: its question's tokens, its answer's
    distinct tokens and (when ``p.passages``) its passage's tokens."""
    length = int(index.q_len[item]) + int(index.a_types[item])
    return length + (int(index.p_len[item]) if p.passages else 0)


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


class _DocGrams:
    """One document's tokens and its n-grams of each size asked for, computed once."""

    def __init__(self, hashes: np.ndarray, n: int, grams: np.ndarray):
        self.hashes = hashes
        self._grams = {n: grams}

    def __call__(self, k: int) -> np.ndarray:
        if k not in self._grams:
            self._grams[k] = ngrams(self.hashes, np.array([0, len(self.hashes)], np.int64), k)[0]
        return self._grams[k]


def _score_item(index: DeconIndex, item: int, o_q: float, lo: int, hi: int, doc: _DocGrams,
                p: ScanParams) -> tuple[float, int, int] | None:
    """(score, first token, last token) of a candidate item whose question n-grams matched
    between n-gram positions ``lo`` and ``hi`` with overlap ``o_q``, None if its score is below
    the score its cumulative length requires."""
    n, hashes = index.n, doc.hashes
    first, last = lo, hi + n - 1
    a_len = int(index.a_len[item])
    has_answer, has_passage = a_len > 0, p.passages and int(index.p_len[item]) > 0
    o_a = o_p = 0.0
    if has_answer:
        exact = a_len < p.short_answer
        reach = p.answer_window if exact else max(p.long_answer_window, 2 * a_len)
        w_lo, w_hi = max(lo - reach, 0), min(hi + n + reach, len(hashes))
        if exact:
            tok = index.a_tok[index.a_tok_off[item] : index.a_tok_off[item + 1]]
            a_lo, a_hi = _exact_answer(np.asarray(tok), hashes, w_lo, w_hi)
            o_a = 1.0 if a_lo >= 0 else 0.0
        else:
            an = index.answer_n
            grams = doc(an)
            g_hi = max(min(w_hi - an + 1, len(grams)), w_lo)
            o_a, a_lo, a_hi = _family_overlap(index, "a", item, grams[w_lo:g_hi],
                                              np.arange(w_lo, g_hi))
            a_hi = a_hi + an - 1 if a_hi >= 0 else -1
        if a_lo >= 0:
            first, last = min(first, a_lo), max(last, a_hi)
    if has_passage:
        # n-grams whose tokens all lie within passage_window tokens of the question's
        pn = index.passage_n
        grams = doc(pn)
        w_lo = max(lo - p.passage_window, 0)
        g_hi = max(min(hi + n - pn + p.passage_window + 1, len(grams)), w_lo)
        o_p, _, _ = _family_overlap(index, "p", item, grams[w_lo:g_hi], np.arange(w_lo, g_hi))
    wq, wa, wp = weights(has_answer, has_passage, int(index.q_unique[item]), p,
                         int(index.a_types[item]))
    score = min(wq * o_q + wa * o_a + wp * o_p, 1.0)
    if p.question_alone is not None and int(index.q_len[item]) >= p.question_alone:
        score = max(score, o_q)
    score = round(score, 12)  # IDF sums in another order than the index's: equal scores tie
    required = round(float(required_score(item_length(index, item, p), p)), 12)
    return (score, first, last) if score >= required else None


def _simple_doc(index: DeconIndex, tokens: Tokens, text: str, row: int,
                p: ScanParams) -> list[Match]:
    hashes, starts, ends, grams = _doc_grams(tokens, text, index.n)
    doc = _DocGrams(hashes, index.n, grams)
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
        required = required_question(np.asarray(index.q_len)[cluster.items], p)
        for k in np.flatnonzero((totals > 0) & (o_q >= np.round(required, 12))).tolist():
            item = int(cluster.items[k])
            scored = _score_item(index, item, float(o_q[k]), int(cluster.lo[k]),
                                 int(cluster.hi[k]), doc, p)
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
