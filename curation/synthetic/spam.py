"""Spam (repeated keyword-stuffed lines) and low-quality pages (short fragments, symbols,
ellipses, bullets, plus lorem ipsum, javascript or curly braces), from ``vocab``'s templates."""

from __future__ import annotations

import numpy as np

from curation.synthetic import vocab
from curation.synthetic.sampling import pick


def spam(rng: np.random.Generator, topic: str) -> str:
    """12-39 lines from 3-5 spam templates, filled with the same three keywords throughout."""
    words = vocab.TOPICS[topic]
    k, k2, k3 = (words[i] for i in rng.choice(len(words), 3, replace=False).tolist())
    fields = {
        "k": k,
        "k2": k2,
        "k3": k3,
        "K": k.upper(),
        "site": f"www.{k}{k2}.{pick(rng, vocab.SPAM_TLDS)}",
        "phone": f"1-800-{rng.integers(200, 1000)}-{rng.integers(1000, 10000)}",
        "n": int(rng.integers(50, 96)),
    }
    chosen = rng.choice(len(vocab.SPAM_TEMPLATES), int(rng.integers(3, 6)), replace=False)
    lines = rng.choice(chosen, int(rng.integers(12, 40))).tolist()
    return "\n".join(vocab.SPAM_TEMPLATES[i].format(**fields) for i in lines)


def low_quality(rng: np.random.Generator, topic: str) -> str:
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
    for template, (w, w2), (n, n2) in zip(picks.tolist(), words, numbers, strict=True):
        w, w2 = pool[w], pool[w2]
        fields = {"w": w, "w2": w2, "W": w.capitalize(), "W2": w2.capitalize(), "lorem": lorem}
        lines.append(templates[template].format(n=n, n2=n2, **fields))
    return "\n".join(lines)
