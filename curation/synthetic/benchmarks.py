"""The synthetic question-answer benchmark, and the variants of an item that ``bench_copy``
documents plant: ``verbatim``; ``normalised`` (case, punctuation and whitespace changed, equal
under ``normalize``); ``reworded`` (one sentence with synonyms swapped in); ``partial`` (the
first half of its words, verbatim)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from curation.synthetic import vocab
from curation.synthetic.sampling import pick

BENCH_VARIANTS = ("verbatim", "normalised", "reworded", "partial")


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


_BENCH_TOPICS = tuple(t for t in vocab.TOPICS if t != "adult_content")
_CONSONANT_ADJECTIVES = tuple(a for a in vocab.COMMON["adj"] if a[0] not in "aeiou")


def _name(rng: np.random.Generator) -> str:
    return pick(rng, vocab.FIRST_NAMES).capitalize()


def _names(rng: np.random.Generator, k: int) -> list[str]:
    chosen = rng.choice(len(vocab.FIRST_NAMES), k, replace=False).tolist()
    return [vocab.FIRST_NAMES[i].capitalize() for i in chosen]


def _town(rng: np.random.Generator) -> str:
    return pick(rng, vocab.TOWNS).capitalize()


def _topic_words(rng: np.random.Generator, k: int) -> tuple[str, list[str]]:
    topic = pick(rng, _BENCH_TOPICS)
    words = vocab.TOPICS[topic]
    return topic.replace("_", " "), [words[i] for i in rng.choice(len(words), k, replace=False)]


def _qa_inventory(rng: np.random.Generator) -> list[str]:
    a, b = int(rng.integers(12, 60)), int(rng.integers(4, 13))
    c = int(rng.integers(5, a * b // 2))
    items = pick(rng, vocab.ITEMS) + "s"
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
        f"A {pick(rng, vocab.VEHICLES)} leaves {_town(rng)} early in the morning and travels "
        f"at a steady speed of {speed} kilometres per hour.",
        f"It drives for {h1} hours before a short break and then continues for another {h2} hours.",
        "What total distance does it travel during the whole trip?",
        f"The total distance is {speed * (h1 + h2)} kilometres.",
    ]


def _qa_discount(rng: np.random.Generator) -> list[str]:
    price, percent = 20 * int(rng.integers(2, 40)), 5 * int(rng.integers(1, 15))
    thing = pick(rng, vocab.ITEMS)
    return [
        f"A shop in {_town(rng)} sells a {pick(rng, _CONSONANT_ADJECTIVES)} {thing} that "
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
    items = pick(rng, vocab.ITEMS) + "s"
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
    name, concept = pick(rng, vocab.SURNAMES).capitalize(), pick(rng, vocab.CONCEPTS)
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
        f"the region every {pick(rng, vocab.SEASONS)}.",
        f"The {pick(rng, vocab.SURNAMES).capitalize()} Institute of {title}.",
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
        sentences = tuple(pick(rng, _QA_TEMPLATES)(rng))
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
    change_case = pick(rng, (str.lower, str.upper, str.swapcase))
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
        i = pick(rng, changed)
        sentences[i] = reword(sentences[i])
        return " ".join(sentences)
    if variant == "partial":
        words = item.text.split(" ")
        return " ".join(words[: len(words) // 2])
    raise ValueError(f"unknown bench variant {variant!r}")
