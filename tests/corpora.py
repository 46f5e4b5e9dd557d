"""Test corpora shared by every test directory: JSONL writers, a small document corpus, the
texts the session tokenizers are trained on, and WARC files of a few HTML pages. Import as
``from corpora import ...`` (a plain module, not conftest, so that a directory's own conftest.py
cannot shadow it)."""

from __future__ import annotations

import gzip
import io
import json
import os

import zstandard
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter


def write_jsonl(path, records, compression: str | None = None) -> str:
    """Write dicts (or raw bytes lines) as JSONL, optionally .gz or .zst; returns the path."""
    lines = b"".join(
        (r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records
    )
    if compression == "zstd":
        lines = zstandard.ZstdCompressor().compress(lines)
    elif compression == "gzip":
        lines = gzip.compress(lines, mtime=0)
    with open(path, "wb") as f:
        f.write(lines)
    return str(path)


def corpus(n: int, dup_every: int = 5, prefix: str = "doc") -> list[dict]:
    """``n`` documents of a few hundred characters; each ``dup_every``-th repeats the one before."""
    docs = []
    for i in range(n):
        j = i - 1 if dup_every and i % dup_every == 0 and i else i
        words = " ".join(f"{prefix}{j}-word{k}" for k in range(40))
        docs.append(
            {
                "id": f"{prefix}-{i:05d}",
                "text": f"Document {j}. {words}.",
                "created": f"2024-01-{1 + i % 28:02d}T00:00:00Z",
            }
        )
    return docs


TRAINING_TEXTS = [
    "The quick brown fox jumps over the lazy dog. " * 3,
    "Pack my box with five dozen liquor jugs, then tokenise it twice.",
    "def main():\n    return {'answer': 42}\n",
    "Ünïcödé text: café, naïve, Straße; 日本語のテキスト; emoji 🙂🚀.",
    "Numbers 3.14159 and dates 2024-01-31 appear in web pages.",
] * 20


# -- WARC files of a few real-looking HTML pages (and one page of navigation only) -------------
PROSE = [
    (
        "Growing tomatoes on a small balcony",
        [
            "Tomatoes are one of the most rewarding plants to grow in a container, and a sunny "
            "balcony can produce a surprising harvest over the course of a single summer.",
            "The most important thing is light. A tomato plant needs at least six hours of "
            "direct sun each day, so choose the brightest corner that you have and keep the "
            "pots away from walls that cast a shadow in the afternoon.",
            "Water deeply and regularly. Containers dry out much faster than garden beds, and "
            "an uneven supply of water is the usual cause of split fruit and blossom end rot.",
        ],
    ),
    (
        "A short history of the public library",
        [
            "The idea that books should be available to everyone, and not only to those who "
            "could afford to buy them, took a long time to become common in most countries.",
            "Early subscription libraries charged their members a yearly fee, and it was only "
            "in the nineteenth century that towns began to pay for libraries out of taxes.",
            "Today the library is also a place to study, to use a computer, to attend a class "
            "and to meet other people, which is why so many of them are busy all day long.",
        ],
    ),
    (
        "How to make a simple loaf of bread",
        [
            "Baking bread at home needs only flour, water, salt and yeast, together with some "
            "patience while the dough rises slowly on the kitchen counter.",
            "Mix the ingredients until no dry flour remains, then knead the dough for about ten "
            "minutes until it feels smooth and springs back when you press it with a finger.",
            "Let it rise until it has doubled in size, shape it gently into a round loaf and bake "
            "it in a hot oven until the crust is deep brown and the base sounds hollow.",
        ],
    ),
]
NAV = "".join(f"<li><a href='/{w.lower()}'>{w}</a></li>" for w in ("Home", "Login", "Menu"))


def page(title: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<html><head><title>{title}</title></head><body><nav><ul>{NAV}</ul></nav>"
        f"<article><h1>{title}</h1>{body}</article><footer>Copyright 2024</footer></body></html>"
    )


def write_warc(path, pages: list[tuple[str, str]]) -> str:
    """Write (url, html) pages as WARC response records."""
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for i, (url, html) in enumerate(pages):
            headers = StatusAndHeaders(
                "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
            )
            record = writer.create_warc_record(
                url,
                "response",
                payload=io.BytesIO(html.encode()),
                http_headers=headers,
                warc_headers_dict={
                    "WARC-Date": f"2024-03-0{i + 1}T12:00:00Z",
                    "WARC-Identified-Payload-Type": "text/html",
                },
            )
            writer.write_record(record)
    return str(path)


JUNK_URL = "https://example.com/nav"


def make_warcs(root) -> str:
    os.makedirs(root, exist_ok=True)
    pages = [(f"https://example.com/{i}", page(t, ps)) for i, (t, ps) in enumerate(PROSE)]
    junk = (JUNK_URL, f"<html><body><nav><ul>{NAV}</ul></nav></body></html>")
    write_warc(os.path.join(root, "a.warc.gz"), [pages[0], junk, pages[1]])
    write_warc(os.path.join(root, "b.warc.gz"), [pages[2]])
    return str(root)
