"""Near duplicates: a text mutated word by word until its shingle Jaccard to the original is
at most a target, the Jaccard tracked exactly as the edits go."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from curation.synthetic.similarity import SHINGLE, jaccard, normalize, shingles


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
