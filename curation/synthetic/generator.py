"""A seeded synthetic web corpus with planted ground truth, for testing curation stages.

Output of ``generate(out_dir, config)``:

- ``docs/part-NNNNN.jsonl.zst``: ``shard_docs`` documents per shard (zstd level 3), one JSON
  object per line: ``id``, ``text``, ``source`` ("synthetic-web"), ``url`` and ``created``
  (ISO-8601 UTC, like "2023-05-01T12:00:00Z").
- ``truth.parquet`` (``TRUTH_SCHEMA``): one row per document, in corpus order: where it was
  written (``shard``, 0-based ``line``), its one primary ``kind`` and what was planted.
- ``evals/synthetic_qa.jsonl``: the benchmark ({"id", "question", "answer"}) that ``bench_copy``
  documents copy from; an item's planted text is ``question + " " + answer``.
- ``meta.json``: the config and the counts per kind and language.

Kinds:

- ``original``: English-ish prose of 80-600 words in paragraphs separated by a blank line,
  sentences of 8-25 words; nouns come from the document's topic about half of the time.
- ``exact_dup``: the text of an earlier original (``dup_of``).
- ``near_dup``: an earlier original mutated word by word (replace, insert, delete at random
  positions, then dropping trailing words) until the shingle Jaccard to it is at most
  ``target_jaccard``; the measured value, in ``jaccard``, lies in
  ``(target_jaccard - 1 / len(shingles(source)), target_jaccard]``.
- ``boilerplate``: an original with ``vocab.BOILERPLATE[boilerplate_id]`` (over 500 bytes) as its
  first or last paragraph, at ``[boilerplate_start, boilerplate_end)``.
- ``bench_copy``: an original with a benchmark item as one paragraph at ``[bench_start,
  bench_end)``: ``verbatim``; ``normalised`` (case, punctuation and whitespace changed, equal
  under ``normalize``); ``reworded`` (one sentence with synonyms swapped in); ``partial`` (the
  first half of its words, verbatim).
- ``spam`` (repeated keyword-stuffed lines) and ``low_quality`` (short fragments, symbols,
  ellipses, bullets, plus lorem ipsum, javascript or curly braces): quality "low".
- ``non_english``: prose from the common words of ``lang`` (de, fr, es, it or pt).

Normalisation, for shingles: lowercase; every character that is not a letter or a digit becomes
a space; whitespace runs collapse to one space and the ends are stripped; words are what is
between spaces. ``shingles(text, n)`` is the set of tuples of n consecutive words (a text of
fewer than n words gives the one tuple of all its words); ``jaccard(a, b) = |a & b| / |a | b|``.

Byte offsets index the UTF-8 encoded text, end exclusive. The same config gives byte-identical
files: one ``numpy.random.Generator(PCG64)`` stream per purpose, no time or set-order input.
Memory is bounded by one shard and a reservoir of the latest ``reservoir`` originals, from
which duplicates are drawn.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from curation.synthetic import vocab

SOURCE = "synthetic-web"
KINDS = (
    "original",
    "exact_dup",
    "near_dup",
    "boilerplate",
    "bench_copy",
    "spam",
    "low_quality",
    "non_english",
)
BENCH_VARIANTS = ("verbatim", "normalised", "reworded", "partial")
TOPIC_IDS = tuple(vocab.TOPICS)  # popularity rank order
LANGS = tuple(vocab.LANGUAGES)
SHINGLE = 5

TRUTH_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("shard", pa.int32()),
        ("line", pa.int32()),
        ("kind", pa.string()),
        ("dup_of", pa.string()),
        ("jaccard", pa.float64()),
        ("target_jaccard", pa.float64()),
        ("boilerplate_id", pa.int32()),
        ("boilerplate_start", pa.int64()),
        ("boilerplate_end", pa.int64()),
        ("bench_item", pa.string()),
        ("bench_variant", pa.string()),
        ("bench_start", pa.int64()),
        ("bench_end", pa.int64()),
        ("lang", pa.string()),
        ("topic", pa.string()),
        ("quality", pa.string()),
        ("created", pa.string()),
    ]
)

MIN_WORDS, MAX_WORDS = 80, 600  # original document length, words
MIN_SENTENCE, MAX_SENTENCE = 8, 25  # sentence length, words
TOPIC_SHARE = 0.5  # chance that a noun slot takes a topic word
CREATED_FROM, CREATED_TO = 1388534400, 1735689600  # 2014-01-01 .. 2025-01-01, Unix seconds
ZSTD_LEVEL = 3

_NON_WORD = re.compile(r"[\W_]+")


def normalize(text: str) -> str:
    """Lowercase, non-alphanumerics to spaces, whitespace collapsed and stripped."""
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


def shingles(text: str, n: int = SHINGLE) -> set[tuple[str, ...]]:
    """The n-word shingles of the normalised text (all its words as one, if fewer than n)."""
    words = normalize(text).split()
    if len(words) < n:
        return {tuple(words)} if words else set()
    return set(zip(*(words[i:] for i in range(n)), strict=False))


def jaccard(a: set, b: set) -> float:
    """|a & b| / |a | b|; 1.0 for two empty sets."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate. The kind fractions are of ``docs``; ``original`` gets the rest.

    ``topic_skew``: the topic of popularity rank k (0-based, ``vocab.TOPICS`` order) is drawn
    with weight ``(k + 1) ** -topic_skew``. ``reservoir``: how many of the latest originals are
    kept as sources of exact and near duplicates.
    """

    docs: int
    seed: int = 0
    shard_docs: int = 10_000
    exact_dup: float = 0.08
    near_dup: float = 0.08
    near_dup_targets: tuple[float, ...] = (0.95, 0.9, 0.85, 0.8, 0.7, 0.5, 0.3)
    boilerplate: float = 0.10
    bench_copy: float = 0.02
    spam: float = 0.05
    low_quality: float = 0.05
    non_english: float = 0.05
    topic_skew: float = 1.0
    bench_items: int = 200
    reservoir: int = 4096

    def __post_init__(self) -> None:
        if self.docs < 0 or self.shard_docs < 1 or self.bench_items < 1 or self.reservoir < 1:
            raise ValueError("docs must be >= 0; shard_docs, bench_items, reservoir >= 1")
        planted = self.fractions()
        if any(not 0 <= f <= 1 for f in planted.values()) or sum(planted.values()) > 1 + 1e-9:
            raise ValueError(f"kind fractions must lie in [0, 1] and sum to <= 1: {planted}")
        if not self.near_dup_targets or not all(0 < t < 1 for t in self.near_dup_targets):
            raise ValueError("near_dup_targets must be a non-empty tuple of values in (0, 1)")

    def fractions(self) -> dict[str, float]:
        """Fraction of documents per kind, in ``KINDS`` order (sums to 1)."""
        planted = {kind: getattr(self, kind) for kind in KINDS[1:]}
        return {"original": max(0.0, 1.0 - sum(planted.values())), **planted}


# --- English-ish prose ---------------------------------------------------------------------

# Clause templates: part-of-speech classes of ``vocab.COMMON``, "," and literal words.
_CLAUSES = tuple(
    template.split()
    for template in (
        "det noun verb adv",
        "pron verb det noun",
        "det adj noun verb adv",
        "det noun verb det noun",
        "pron adv verb det noun",
        "pron verb det adj noun",
        "det adj noun verb det noun",
        "det noun verb prep det noun",
        "det noun adv verb det adj noun",
        "det adj noun verb det adj noun",
        "pron verb det noun prep det noun",
        "prep det noun , pron verb det noun",
        "det noun prep det noun verb det noun",
        "det adj noun prep det noun verb adv",
        "det noun verb that det noun verb adv",
    )
)
_PADS = {1: ["adv"], 2: ["prep", "noun"], 3: ["prep", "det", "noun"]}  # by words to fill
_PARAGRAPH = "\n\n"
_SKELETONS = 48  # sentence skeletons per sentence length


def _zipf_cdf(n: int, exponent: float) -> np.ndarray:
    """Cumulative probabilities of ranks 0..n-1 with weight (rank + 1) ** -exponent."""
    cdf = np.cumsum(np.arange(1, n + 1, dtype=np.float64) ** -exponent)
    return cdf / cdf[-1]


def _n_words(slots: Sequence[str]) -> int:
    return sum(slot not in (",", ".") for slot in slots)


class _Prose:
    """Sentences from a bank of skeletons (class sequences), filled with vectorised draws.

    Every class's words sit in one array, class c at ``offset[c] : offset[c] + size[c]``;
    "^cls" is the capitalised twin of a class, "topic:<id>" a topic's words, and punctuation,
    the paragraph break and literal words are one-word classes.
    """

    def __init__(self, rng: np.random.Generator):
        words: list[str] = []
        self._ids: dict[str, int] = {}
        offsets, sizes = [], []
        classes: dict[str, Sequence[str]] = {}
        for pos, pos_words in vocab.COMMON.items():
            classes[pos] = pos_words
            classes["^" + pos] = [w.capitalize() for w in pos_words]
        for topic, topic_words in vocab.TOPICS.items():
            classes["topic:" + topic] = topic_words
        for literal in (",", ".", "that", _PARAGRAPH):
            classes[literal] = [literal]
        for name, class_words in classes.items():
            self._ids[name] = len(offsets)
            offsets.append(len(words))
            sizes.append(len(class_words))
            words.extend(class_words)
        self._words = np.array(words, dtype=object)
        self._offset, self._size = np.array(offsets), np.array(sizes)
        self._paragraph = np.array([self._ids[_PARAGRAPH]])
        self._bank = {
            length: [self._skeleton(length, rng) for _ in range(_SKELETONS)]
            for length in range(MIN_SENTENCE, MAX_SENTENCE + 1)
        }
        self._foreign_cdf = {lang: _zipf_cdf(len(ws), 0.6) for lang, ws in vocab.LANGUAGES.items()}
        self.fillers = {
            topic: topic_words + vocab.COMMON["noun"] + vocab.COMMON["adj"] + vocab.COMMON["verb"]
            for topic, topic_words in vocab.TOPICS.items()
        }  # words that near-duplicate mutations insert

    def _skeleton(self, length: int, rng: np.random.Generator) -> np.ndarray:
        """Class ids of one sentence of exactly ``length`` words, capitalised, ending in '.'."""
        first = [c for c in _CLAUSES if _n_words(c) <= length]
        slots = list(first[int(rng.integers(len(first)))])
        while (room := length - _n_words(slots)) > 0:
            fits = [c for c in _CLAUSES if _n_words(c) < room]  # one word goes to the conjunction
            if fits and rng.random() < 0.6:
                slots += [",", "conj", *fits[int(rng.integers(len(fits)))]]
            else:
                slots += _PADS[min(room, 3)]
        slots[0] = "^" + slots[0]
        return np.array([self._ids[s] for s in [*slots, "."]])

    def english(self, rng: np.random.Generator, topic: str, n_words: int) -> str:
        """Paragraphs of 2-6 sentences, ``n_words`` to ``n_words + 24`` words in all."""
        lengths = rng.integers(MIN_SENTENCE, MAX_SENTENCE + 1, size=n_words // MIN_SENTENCE + 1)
        n_sentences = int(np.searchsorted(np.cumsum(lengths), n_words)) + 1
        picks = rng.integers(_SKELETONS, size=n_sentences).tolist()
        breaks = np.cumsum(rng.integers(2, 7, size=n_sentences)).tolist()
        parts, paragraph = [], 0
        for s, (length, pick) in enumerate(zip(lengths.tolist(), picks, strict=False)):
            parts.append(self._bank[length][pick])
            if s + 1 == breaks[paragraph] and s + 1 < n_sentences:
                parts.append(self._paragraph)
                paragraph += 1
        slots = np.concatenate(parts)
        u = rng.random((2, len(slots)))
        topical = (slots == self._ids["noun"]) & (u[0] < TOPIC_SHARE)
        slots = np.where(topical, self._ids["topic:" + topic], slots)
        index = self._offset[slots] + (u[1] * self._size[slots]).astype(np.int64)
        text = " ".join(self._words[index].tolist())
        return text.replace(" ,", ",").replace(" .", ".").replace(" \n\n ", _PARAGRAPH)

    def foreign(self, rng: np.random.Generator, lang: str, n_words: int) -> str:
        """Paragraphs of sentences of 6-18 words of ``lang``; the word of list rank k (0-based)
        has weight ``(k + 1) ** -0.6``."""
        lang_words = vocab.LANGUAGES[lang]
        draws = np.searchsorted(self._foreign_cdf[lang], rng.random(n_words), side="right")
        tokens = [lang_words[i] for i in draws.tolist()]
        ends = np.cumsum(rng.integers(6, 19, size=n_words // 6 + 1))
        ends = [*ends[ends < n_words].tolist(), n_words]
        sentences, start = [], 0
        for end in ends:
            sentence = " ".join(tokens[start:end])
            sentences.append(sentence[0].upper() + sentence[1:] + ".")
            start = end
        breaks = np.cumsum(rng.integers(2, 7, size=len(sentences))).tolist()
        paragraphs, start = [], 0
        for end in breaks:
            paragraphs.append(" ".join(sentences[start:end]))
            if end >= len(sentences):
                break
            start = end
        return _PARAGRAPH.join(paragraphs)


# --- Spam and low-quality pages --------------------------------------------------------------


def _pick(rng: np.random.Generator, seq: Sequence[Any]) -> Any:
    return seq[int(rng.integers(len(seq)))]


def _spam(rng: np.random.Generator, topic: str) -> str:
    """12-39 lines from 3-5 spam templates, filled with the same three keywords throughout."""
    words = vocab.TOPICS[topic]
    k, k2, k3 = (words[i] for i in rng.choice(len(words), 3, replace=False).tolist())
    fields = {
        "k": k,
        "k2": k2,
        "k3": k3,
        "K": k.upper(),
        "site": f"www.{k}{k2}.{_pick(rng, vocab.SPAM_TLDS)}",
        "phone": f"1-800-{rng.integers(200, 1000)}-{rng.integers(1000, 10000)}",
        "n": int(rng.integers(50, 96)),
    }
    chosen = rng.choice(len(vocab.SPAM_TEMPLATES), int(rng.integers(3, 6)), replace=False)
    lines = rng.choice(chosen, int(rng.integers(12, 40))).tolist()
    return "\n".join(vocab.SPAM_TEMPLATES[i].format(**fields) for i in lines)


def _low_quality(rng: np.random.Generator, topic: str) -> str:
    """15-59 short junk lines, at least one of them a lorem/javascript/curly-brace marker."""
    pool = vocab.TOPICS[topic] + vocab.COMMON["noun"]
    templates = vocab.LOW_QUALITY_TEMPLATES + vocab.LOW_QUALITY_MARKERS
    n_lines = int(rng.integers(15, 60))
    picks = rng.integers(len(templates), size=n_lines)
    picks[int(rng.integers(n_lines))] = len(vocab.LOW_QUALITY_TEMPLATES) + int(
        rng.integers(len(vocab.LOW_QUALITY_MARKERS))
    )
    words = rng.integers(len(pool), size=(n_lines, 2)).tolist()
    numbers = rng.integers(100, size=(n_lines, 2)).tolist()
    lorem = " ".join(vocab.LOREM[i] for i in rng.integers(len(vocab.LOREM), size=12).tolist())
    lines = []
    for pick, (w, w2), (n, n2) in zip(picks.tolist(), words, numbers, strict=True):
        w, w2 = pool[w], pool[w2]
        fields = {"w": w, "w2": w2, "W": w.capitalize(), "W2": w2.capitalize(), "lorem": lorem}
        lines.append(templates[pick].format(n=n, n2=n2, **fields))
    return "\n".join(lines)


# --- The benchmark ----------------------------------------------------------------------------


class BenchItem(NamedTuple):
    """A question-answer item; ``sentences`` are the question's sentences, then the answer."""

    id: str
    sentences: tuple[str, ...]

    @property
    def question(self) -> str:
        return " ".join(self.sentences[:-1])

    @property
    def answer(self) -> str:
        return self.sentences[-1]

    @property
    def text(self) -> str:
        """What ``bench_copy`` documents plant: question, a space, answer."""
        return " ".join(self.sentences)


_BENCH_TOPICS = tuple(t for t in TOPIC_IDS if t != "adult_content")
_CONSONANT_ADJECTIVES = tuple(a for a in vocab.COMMON["adj"] if a[0] not in "aeiou")


def _name(rng: np.random.Generator) -> str:
    return _pick(rng, vocab.FIRST_NAMES).capitalize()


def _names(rng: np.random.Generator, k: int) -> list[str]:
    chosen = rng.choice(len(vocab.FIRST_NAMES), k, replace=False).tolist()
    return [vocab.FIRST_NAMES[i].capitalize() for i in chosen]


def _town(rng: np.random.Generator) -> str:
    return _pick(rng, vocab.TOWNS).capitalize()


def _topic_words(rng: np.random.Generator, k: int) -> tuple[str, list[str]]:
    topic = _pick(rng, _BENCH_TOPICS)
    words = vocab.TOPICS[topic]
    return topic.replace("_", " "), [words[i] for i in rng.choice(len(words), k, replace=False)]


def _qa_inventory(rng: np.random.Generator) -> list[str]:
    a, b = int(rng.integers(12, 60)), int(rng.integers(4, 13))
    c = int(rng.integers(5, a * b // 2))
    items = _pick(rng, vocab.ITEMS) + "s"
    return [
        f"A small workshop in {_town(rng)} run by {_name(rng)} makes {a} {items} every week "
        "for the local market.",
        f"Over a season of {b} weeks the workshop gives {c} of them to a nearby school.",
        f"How many {items} does the workshop still have at the end of the season?",
        f"It still has {a * b - c} {items}.",
    ]


def _qa_distance(rng: np.random.Generator) -> list[str]:
    speed, h1, h2 = int(rng.integers(30, 110)), int(rng.integers(2, 7)), int(rng.integers(1, 5))
    return [
        f"A {_pick(rng, vocab.VEHICLES)} leaves {_town(rng)} early in the morning and travels "
        f"at a steady speed of {speed} kilometres per hour.",
        f"It drives for {h1} hours before a short break and then continues for another {h2} hours.",
        "What total distance does it travel during the whole trip?",
        f"The total distance is {speed * (h1 + h2)} kilometres.",
    ]


def _qa_discount(rng: np.random.Generator) -> list[str]:
    price, percent = 20 * int(rng.integers(2, 40)), 5 * int(rng.integers(1, 15))
    thing = _pick(rng, vocab.ITEMS)
    return [
        f"A shop in {_town(rng)} sells a {_pick(rng, _CONSONANT_ADJECTIVES)} {thing} that "
        f"normally costs {price} dollars.",
        f"This week the shop offers a discount of {percent} percent on every purchase.",
        f"What is the price of the {thing} after the discount is applied?",
        f"The price is {price * (100 - percent) // 100} dollars.",
    ]


def _qa_sharing(rng: np.random.Generator) -> list[str]:
    friends, each = int(rng.integers(2, 9)), int(rng.integers(3, 16))
    total = friends * each
    a = int(rng.integers(1, (total - 1) // 2 + 1))  # 2a < total, so b >= 1
    n1, n2 = _names(rng, 2)
    items = _pick(rng, vocab.ITEMS) + "s"
    return [
        f"{n1} collects {a} {items} and {n2} collects {total - 2 * a} more {items} than {n1}.",
        f"They decide to share all of their {items} equally among {friends} friends.",
        f"How many {items} does each friend receive?",
        f"Each friend receives {each} {items}.",
    ]


def _qa_ages(rng: np.random.Generator) -> list[str]:
    a = int(rng.integers(20, 61))
    b, years = int(rng.integers(1, a - 10)), int(rng.integers(2, 15))
    n1, n2, n3 = _names(rng, 3)
    return [
        f"{n1} is {a} years old and {n2} is {b} years younger than {n1}.",
        f"Their neighbour {n3} is exactly twice as old as {n2}.",
        f"In {years} years, what will be the sum of the ages of all three people?",
        f"The sum of their ages will be {a + 3 * (a - b) + 3 * years}.",
    ]


def _qa_concept(rng: np.random.Generator) -> list[str]:
    label, (t1, t2) = _topic_words(rng, 2)
    name, concept = _pick(rng, vocab.SURNAMES).capitalize(), _pick(rng, vocab.CONCEPTS)
    return [
        f"In the study of {label}, the {name} {concept} was first described in "
        f"{rng.integers(1850, 2011)} by researchers working in {_town(rng)}.",
        f"It explains how {t1} and {t2} influence each other in practice.",
        f"Which {concept} is named after {name}, and what does it connect?",
        f"The {name} {concept}, which connects {t1} with {t2}.",
    ]


def _qa_institution(rng: np.random.Generator) -> list[str]:
    label, (t1, t2, t3) = _topic_words(rng, 3)
    title = " ".join(w if w == "and" else w.capitalize() for w in label.split())
    return [
        f"Which institution in {_town(rng)}, founded in {rng.integers(1850, 2011)}, is known for "
        f"its collection of {t1} and {t2}?",
        f"It also hosts an annual festival about {t3} that attracts many visitors from across "
        f"the region every {_pick(rng, vocab.SEASONS)}.",
        f"The {_pick(rng, vocab.SURNAMES).capitalize()} Institute of {title}.",
    ]


_QA_TEMPLATES: tuple[Callable[[np.random.Generator], list[str]], ...] = (
    _qa_inventory,
    _qa_distance,
    _qa_discount,
    _qa_sharing,
    _qa_ages,
    _qa_concept,
    _qa_institution,
)


def benchmark(rng: np.random.Generator, n: int) -> list[BenchItem]:
    """``n`` distinct items, 20-60 words each, ids "synqa-0000", "synqa-0001", ..."""
    items: list[BenchItem] = []
    seen: set[str] = set()
    while len(items) < n:
        sentences = tuple(_pick(rng, _QA_TEMPLATES)(rng))
        text = " ".join(sentences)
        if text not in seen:
            seen.add(text)
            items.append(BenchItem(f"synqa-{len(items):04d}", sentences))
    return items


def reword(sentence: str) -> str:
    """The sentence with every word of ``vocab.SYNONYMS`` replaced (case of the first letter and
    trailing punctuation kept)."""
    out = []
    for token in sentence.split(" "):
        core = token.rstrip(".,?!")
        new = vocab.SYNONYMS.get(core.lower())
        if new:
            token = (new[0].upper() + new[1:] if core[0].isupper() else new) + token[len(core) :]
        out.append(token)
    return " ".join(out)


_PUNCTUATION_SWAPS = (" ", ",", ";", ":", " - ", "!", "?", ".")


def _normalised_variant(text: str, rng: np.random.Generator) -> str:
    """Case changed throughout, each punctuation mark swapped for another or a space, some spaces
    doubled or turned into newlines: different text, same ``normalize``."""
    change_case = _pick(rng, (str.lower, str.upper, str.swapcase))
    out = []
    for ch, u in zip(text, rng.random(len(text)).tolist(), strict=True):
        if ch == " ":
            out.append("  " if u < 0.15 else "\n" if u < 0.25 else " ")
        elif ch.isalnum():
            out.append(ch)
        else:
            out.append(_PUNCTUATION_SWAPS[int(u * len(_PUNCTUATION_SWAPS))])
    return change_case("".join(out))


def bench_variant(item: BenchItem, variant: str, rng: np.random.Generator) -> str:
    """The text a ``bench_copy`` document plants for ``item``."""
    if variant == "verbatim":
        return item.text
    if variant == "normalised":
        return _normalised_variant(item.text, rng)
    if variant == "reworded":
        sentences = list(item.sentences)
        # Every template has sentences with a synonym, so the choice is never empty.
        changed = [i for i, s in enumerate(sentences) if reword(s) != s]
        i = _pick(rng, changed)
        sentences[i] = reword(sentences[i])
        return " ".join(sentences)
    if variant == "partial":
        words = item.text.split(" ")
        return " ".join(words[: len(words) // 2])
    raise ValueError(f"unknown bench variant {variant!r}")


# --- Near duplicates --------------------------------------------------------------------------


def _redecorate(old: str, word: str) -> str:
    """``word`` with the capitalisation of ``old``'s first letter and its trailing punctuation."""
    core = old.rstrip(".,?!")
    return (word.capitalize() if core[:1].isupper() else word) + old[len(core) :]


class _Mutation:
    """A text edited word by word, tracking the exact shingle Jaccard to the starting text.

    Invariants: ``tokens[i] + seps[i]`` concatenated give the text, token i normalises to
    ``words[i]``; ``counts`` are the current shingles with multiplicity; ``shared`` is how many
    distinct current shingles are in ``source``.
    """

    def __init__(self, text: str, n: int = SHINGLE):
        parts = re.split(r"(\s+)", text)
        self.tokens, self.seps = parts[0::2], [*parts[1::2], ""]
        self.words = normalize(text).split()
        if len(self.words) != len(self.tokens):
            raise ValueError("every whitespace-separated token must normalise to one word")
        self.n = n
        self.counts = Counter(zip(*(self.words[i:] for i in range(n)), strict=False))
        self.source = set(self.counts)
        self.shared = len(self.source)

    @property
    def union(self) -> int:
        return len(self.source) + len(self.counts) - self.shared

    @property
    def jaccard(self) -> float:
        return self.shared / self.union

    def text(self) -> str:
        return "".join(t + s for t, s in zip(self.tokens, self.seps, strict=True))

    def replace(self, p: int, word: str) -> None:
        self._splice(p, 1, [word])
        self.tokens[p] = _redecorate(self.tokens[p], word)

    def insert(self, p: int, word: str) -> None:
        self._splice(p, 0, [word])
        self.tokens.insert(p, word)
        self.seps.insert(p, " ")

    def delete(self, p: int) -> None:
        """Drop token p; a paragraph break after it moves to the token before it."""
        self._splice(p, 1, [])
        if 0 < p == len(self.tokens) - 1:
            self.seps[p - 1] = ""
        elif p > 0:
            self.seps[p - 1] = max(self.seps[p - 1], self.seps[p], key=len)
        del self.tokens[p], self.seps[p]

    def _splice(self, p: int, k: int, new: list[str]) -> None:
        """words[p:p+k] = new, updating the shingles that overlap the edit."""
        n, words = self.n, self.words
        for s in range(max(0, p - n + 1), min(p + k, len(words) - n + 1)):
            self._drop(tuple(words[s : s + n]))
        words[p : p + k] = new
        for s in range(max(0, p - n + 1), min(p + len(new), len(words) - n + 1)):
            self._add(tuple(words[s : s + n]))

    def _add(self, shingle: tuple[str, ...]) -> None:
        count = self.counts.get(shingle, 0)
        self.counts[shingle] = count + 1
        if not count and shingle in self.source:
            self.shared += 1

    def _drop(self, shingle: tuple[str, ...]) -> None:
        count = self.counts[shingle]
        if count > 1:
            self.counts[shingle] = count - 1
            return
        del self.counts[shingle]
        if shingle in self.source:
            self.shared -= 1


def near_duplicate(
    text: str, target: float, fillers: Sequence[str], rng: np.random.Generator
) -> tuple[str, float]:
    """Mutate ``text`` until its shingle Jaccard to the original is at most ``target``.

    Random edits (60% replace, 20% insert, 20% delete; new words from ``fillers``) run while
    one more cannot undershoot (an edit changes at most n shingles on each side); then trailing
    words are dropped, each lowering the Jaccard by at most 1 / |source shingles|. Returns the
    text and its Jaccard to ``text``, recomputed from scratch with ``shingles``.
    """
    m = _Mutation(text)
    n = m.n

    def random_edits_are_safe() -> bool:
        return (m.shared - n) / (m.union + n) > target

    while random_edits_are_safe():
        for op, at, pick in rng.random((32, 3)).tolist():
            if not random_edits_are_safe():
                break
            p, word = int(at * len(m.tokens)), fillers[int(pick * len(fillers))]
            if op < 0.6:
                m.replace(p, word)
            elif op < 0.8:
                m.insert(p, word)
            else:
                m.delete(p)
    while m.jaccard > target:
        m.delete(len(m.tokens) - 1)
    mutated = m.text()
    return mutated, jaccard(shingles(mutated), m.source)


# --- The corpus -------------------------------------------------------------------------------


class _Source(NamedTuple):
    id: str
    text: str
    topic: str


class _Corpus:
    """Draws documents in order; ``shard`` makes one shard's JSONL lines and truth columns."""

    def __init__(self, config: GeneratorConfig, items: list[BenchItem], rng: np.random.Generator):
        self.config, self.items, self.rng = config, items, rng
        self.prose = _Prose(rng)
        fractions = np.cumsum(list(config.fractions().values()))
        self.kind_cdf = fractions / fractions[-1]
        self.topic_cdf = _zipf_cdf(len(TOPIC_IDS), config.topic_skew)
        self.reservoir: deque[_Source] = deque(maxlen=config.reservoir)  # latest originals
        self.makers: dict[str, Callable[[dict[str, Any]], str]] = {
            "original": self._original,
            "exact_dup": self._exact_dup,
            "near_dup": self._near_dup,
            "boilerplate": self._boilerplate,
            "bench_copy": self._bench_copy,
            "spam": self._spam,
            "low_quality": self._low_quality,
            "non_english": self._non_english,
        }

    def shard(self, shard: int, start: int, count: int) -> tuple[list[bytes], dict[str, list]]:
        rng = self.rng
        kinds = np.searchsorted(self.kind_cdf, rng.random(count), side="right").tolist()
        topics = np.searchsorted(self.topic_cdf, rng.random(count), side="right").tolist()
        created = rng.integers(CREATED_FROM, CREATED_TO, size=count).tolist()
        lines: list[bytes] = []
        columns: dict[str, list] = {name: [] for name in TRUTH_SCHEMA.names}
        for line in range(count):
            doc_id = f"synth-{start + line:08d}"
            row = dict.fromkeys(TRUTH_SCHEMA.names)
            row.update(
                id=doc_id,
                shard=shard,
                line=line,
                kind=KINDS[kinds[line]],
                lang="en",
                topic=TOPIC_IDS[topics[line]],
                quality="high",
                created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created[line])),
            )
            text = self.makers[row["kind"]](row)
            doc = {
                "id": doc_id,
                "text": text,
                "source": SOURCE,
                "url": self._url(row),
                "created": row["created"],
            }
            lines.append(orjson.dumps(doc) + b"\n")
            for name, value in row.items():
                columns[name].append(value)
            if row["kind"] == "original":
                self.reservoir.append(_Source(doc_id, text, row["topic"]))
        return lines, columns

    def _body(self, topic: str) -> str:
        n_words = int(np.clip(self.rng.lognormal(5.3, 0.55), MIN_WORDS, MAX_WORDS - MAX_SENTENCE))
        return self.prose.english(self.rng, topic, n_words)

    def _original(self, row: dict[str, Any]) -> str:
        return self._body(row["topic"])

    def _exact_dup(self, row: dict[str, Any]) -> str:
        if not self.reservoir:
            row["kind"] = "original"
            return self._original(row)
        source = _pick(self.rng, self.reservoir)
        row.update(dup_of=source.id, topic=source.topic)
        return source.text

    def _near_dup(self, row: dict[str, Any]) -> str:
        if not self.reservoir:
            row["kind"] = "original"
            return self._original(row)
        source = _pick(self.rng, self.reservoir)
        target = _pick(self.rng, self.config.near_dup_targets)
        fillers = self.prose.fillers[source.topic]
        text, measured = near_duplicate(source.text, target, fillers, self.rng)
        row.update(dup_of=source.id, topic=source.topic, jaccard=measured, target_jaccard=target)
        return text

    def _boilerplate(self, row: dict[str, Any]) -> str:
        body = self._body(row["topic"])
        which = int(self.rng.integers(len(vocab.BOILERPLATE)))
        span = vocab.BOILERPLATE[which]
        if self.rng.random() < 0.5:
            text, start = span + _PARAGRAPH + body, 0
        else:
            text, start = body + _PARAGRAPH + span, len(body.encode()) + len(_PARAGRAPH)
        end = start + len(span.encode())
        row.update(boilerplate_id=which, boilerplate_start=start, boilerplate_end=end)
        return text

    def _bench_copy(self, row: dict[str, Any]) -> str:
        item = _pick(self.rng, self.items)
        variant = _pick(self.rng, BENCH_VARIANTS)
        planted = bench_variant(item, variant, self.rng)
        paragraphs = self._body(row["topic"]).split(_PARAGRAPH)
        at = int(self.rng.integers(len(paragraphs) + 1))
        head = "".join(p + _PARAGRAPH for p in paragraphs[:at])
        start = len(head.encode())
        row.update(
            bench_item=item.id,
            bench_variant=variant,
            bench_start=start,
            bench_end=start + len(planted.encode()),
        )
        return head + _PARAGRAPH.join([planted, *paragraphs[at:]])

    def _spam(self, row: dict[str, Any]) -> str:
        row["quality"] = "low"
        return _spam(self.rng, row["topic"])

    def _low_quality(self, row: dict[str, Any]) -> str:
        row["quality"] = "low"
        return _low_quality(self.rng, row["topic"])

    def _non_english(self, row: dict[str, Any]) -> str:
        row["lang"] = _pick(self.rng, LANGS)
        n_words = int(np.clip(self.rng.lognormal(5.3, 0.55), MIN_WORDS, MAX_WORDS))
        return self.prose.foreign(self.rng, row["lang"], n_words)

    def _url(self, row: dict[str, Any]) -> str:
        """https://www.<word><suffix>.<tld>/<topic>/<three-words>-<number>"""
        words = vocab.TOPICS[row["topic"]]
        if row["kind"] == "spam":
            tlds = vocab.SPAM_TLDS
        else:
            tlds = vocab.LANGUAGE_TLDS.get(row["lang"], vocab.ENGLISH_TLDS)
        site, slug1, slug2, slug3 = (
            words[i] for i in self.rng.integers(len(words), size=4).tolist()
        )
        suffix, tld = _pick(self.rng, vocab.SITE_SUFFIXES), _pick(self.rng, tlds)
        number = int(self.rng.integers(100_000, 10_000_000))
        section = row["topic"].replace("_", "-")
        return f"https://www.{site}{suffix}.{tld}/{section}/{slug1}-{slug2}-{slug3}-{number}"


def generate(out_dir: str | Path, config: GeneratorConfig) -> dict[str, Any]:
    """Write the corpus, its truth, the benchmark and meta.json under ``out_dir``.

    Shards left in ``out_dir/docs`` by an earlier run are removed first. Returns the summary
    (also in meta.json): docs, shards, bench_items, counts per kind and per language.
    """
    out = Path(out_dir)
    docs_dir = out / "docs"
    docs_dir.mkdir(parents=True, exist_ok=True)
    (out / "evals").mkdir(exist_ok=True)
    for stale in sorted(docs_dir.glob("part-*.jsonl.zst")):
        stale.unlink()

    bench_seed, corpus_seed = np.random.SeedSequence(config.seed).spawn(2)
    items = benchmark(np.random.Generator(np.random.PCG64(bench_seed)), config.bench_items)
    (out / "evals" / "synthetic_qa.jsonl").write_bytes(
        b"".join(
            orjson.dumps({"id": it.id, "question": it.question, "answer": it.answer}) + b"\n"
            for it in items
        )
    )

    corpus = _Corpus(config, items, np.random.Generator(np.random.PCG64(corpus_seed)))
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    kinds, langs = dict.fromkeys(KINDS, 0), dict.fromkeys(("en", *LANGS), 0)
    shards = 0
    with pq.ParquetWriter(out / "truth.parquet", TRUTH_SCHEMA) as truth:
        for start in range(0, config.docs, config.shard_docs):
            count = min(config.shard_docs, config.docs - start)
            lines, columns = corpus.shard(shards, start, count)
            path = docs_dir / f"part-{shards:05d}.jsonl.zst"
            path.write_bytes(compressor.compress(b"".join(lines)))
            truth.write_table(pa.Table.from_pydict(columns, schema=TRUTH_SCHEMA))
            for kind in columns["kind"]:
                kinds[kind] += 1
            for lang in columns["lang"]:
                langs[lang] += 1
            shards += 1

    summary = {
        "docs": config.docs,
        "shards": shards,
        "bench_items": len(items),
        "kinds": kinds,
        "langs": langs,
    }
    meta = {"config": asdict(config), **summary}
    (out / "meta.json").write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2) + b"\n")
    return summary


def main(argv: list[str] | None = None) -> None:
    """Command line: generate a corpus and print the summary as JSON."""
    parser = argparse.ArgumentParser(
        prog="curate generate",
        description="Write a seeded synthetic web corpus with planted ground truth.",
    )
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--docs", type=int, default=10_000, help="number of documents")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shard-docs", type=int, default=10_000, help="documents per shard")
    args = parser.parse_args(argv)
    config = GeneratorConfig(docs=args.docs, seed=args.seed, shard_docs=args.shard_docs)
    print(json.dumps(generate(args.out, config), indent=2))


if __name__ == "__main__":
    main()
