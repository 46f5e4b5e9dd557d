"""The documents of the corpus, drawn in order, and the ground truth of each.

Kinds (``KINDS``; ``GeneratorConfig`` gives their fractions):

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
  bench_end)``, in one of the ``BENCH_VARIANTS`` (`curation.synthetic.benchmarks`).
- ``spam`` (repeated keyword-stuffed lines) and ``low_quality`` (short fragments, symbols,
  ellipses, bullets, plus lorem ipsum, javascript or curly braces): quality "low".
- ``non_english``: prose from the common words of ``lang`` (de, fr, es, it or pt).

Byte offsets index the UTF-8 encoded text, end exclusive. Duplicates are drawn from a reservoir
of the latest ``reservoir`` originals.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import orjson
import pyarrow as pa

from curation.synthetic import vocab
from curation.synthetic.benchmarks import BENCH_VARIANTS, BenchItem, bench_variant
from curation.synthetic.mutate import near_duplicate
from curation.synthetic.prose import MAX_SENTENCE, PARAGRAPH, Prose
from curation.synthetic.sampling import pick, zipf_cdf
from curation.synthetic.spam import low_quality, spam

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
TOPIC_IDS = tuple(vocab.TOPICS)  # popularity rank order
LANGS = tuple(vocab.LANGUAGES)

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
CREATED_FROM, CREATED_TO = 1388534400, 1735689600  # 2014-01-01 .. 2025-01-01, Unix seconds


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


class _Source(NamedTuple):
    """An original kept in the reservoir, a source of duplicates."""

    id: str
    text: str
    topic: str


class Corpus:
    """Draws documents in order; ``shard`` makes one shard's JSONL lines and truth columns."""

    def __init__(self, config: GeneratorConfig, items: list[BenchItem], rng: np.random.Generator):
        self.config, self.items, self.rng = config, items, rng
        self.prose = Prose(rng)
        fractions = np.cumsum(list(config.fractions().values()))
        self.kind_cdf = fractions / fractions[-1]
        self.topic_cdf = zipf_cdf(len(TOPIC_IDS), config.topic_skew)
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
        source = pick(self.rng, self.reservoir)
        row.update(dup_of=source.id, topic=source.topic)
        return source.text

    def _near_dup(self, row: dict[str, Any]) -> str:
        if not self.reservoir:
            row["kind"] = "original"
            return self._original(row)
        source = pick(self.rng, self.reservoir)
        target = pick(self.rng, self.config.near_dup_targets)
        fillers = self.prose.fillers[source.topic]
        text, measured = near_duplicate(source.text, target, fillers, self.rng)
        row.update(dup_of=source.id, topic=source.topic, jaccard=measured, target_jaccard=target)
        return text

    def _boilerplate(self, row: dict[str, Any]) -> str:
        body = self._body(row["topic"])
        which = int(self.rng.integers(len(vocab.BOILERPLATE)))
        span = vocab.BOILERPLATE[which]
        if self.rng.random() < 0.5:
            text, start = span + PARAGRAPH + body, 0
        else:
            text, start = body + PARAGRAPH + span, len(body.encode()) + len(PARAGRAPH)
        end = start + len(span.encode())
        row.update(boilerplate_id=which, boilerplate_start=start, boilerplate_end=end)
        return text

    def _bench_copy(self, row: dict[str, Any]) -> str:
        item = pick(self.rng, self.items)
        variant = pick(self.rng, BENCH_VARIANTS)
        planted = bench_variant(item, variant, self.rng)
        paragraphs = self._body(row["topic"]).split(PARAGRAPH)
        at = int(self.rng.integers(len(paragraphs) + 1))
        head = "".join(p + PARAGRAPH for p in paragraphs[:at])
        start = len(head.encode())
        row.update(
            bench_item=item.id,
            bench_variant=variant,
            bench_start=start,
            bench_end=start + len(planted.encode()),
        )
        return head + PARAGRAPH.join([planted, *paragraphs[at:]])

    def _spam(self, row: dict[str, Any]) -> str:
        row["quality"] = "low"
        return spam(self.rng, row["topic"])

    def _low_quality(self, row: dict[str, Any]) -> str:
        row["quality"] = "low"
        return low_quality(self.rng, row["topic"])

    def _non_english(self, row: dict[str, Any]) -> str:
        row["lang"] = pick(self.rng, LANGS)
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
        suffix, tld = pick(self.rng, vocab.SITE_SUFFIXES), pick(self.rng, tlds)
        number = int(self.rng.integers(100_000, 10_000_000))
        section = row["topic"].replace("_", "-")
        return f"https://www.{site}{suffix}.{tld}/{section}/{slug1}-{slug2}-{slug3}-{number}"
