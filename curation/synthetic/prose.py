"""Prose: English-ish sentences from part-of-speech skeletons over ``vocab.COMMON`` and a
topic's words, and foreign-language prose from ``vocab.LANGUAGES``.

English documents have paragraphs separated by a blank line (``PARAGRAPH``), sentences of
``MIN_SENTENCE``-``MAX_SENTENCE`` words, capitalised and ending in '.'; a noun slot takes a
word of the document's topic with probability ``TOPIC_SHARE``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from curation.synthetic import vocab
from curation.synthetic.sampling import zipf_cdf

MIN_SENTENCE, MAX_SENTENCE = 8, 25  # sentence length, words
TOPIC_SHARE = 0.5  # chance that a noun slot takes a topic word

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
PARAGRAPH = "\n\n"  # between paragraphs
_SKELETONS = 48  # sentence skeletons per sentence length


def _n_words(slots: Sequence[str]) -> int:
    return sum(slot not in (",", ".") for slot in slots)


class Prose:
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
        for literal in (",", ".", "that", PARAGRAPH):
            classes[literal] = [literal]
        for name, class_words in classes.items():
            self._ids[name] = len(offsets)
            offsets.append(len(words))
            sizes.append(len(class_words))
            words.extend(class_words)
        self._words = np.array(words, dtype=object)
        self._offset, self._size = np.array(offsets), np.array(sizes)
        self._paragraph = np.array([self._ids[PARAGRAPH]])
        self._bank = {
            length: [self._skeleton(length, rng) for _ in range(_SKELETONS)]
            for length in range(MIN_SENTENCE, MAX_SENTENCE + 1)
        }
        self._foreign_cdf = {lang: zipf_cdf(len(ws), 0.6) for lang, ws in vocab.LANGUAGES.items()}
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
        return text.replace(" ,", ",").replace(" .", ".").replace(" \n\n ", PARAGRAPH)

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
        return PARAGRAPH.join(paragraphs)
