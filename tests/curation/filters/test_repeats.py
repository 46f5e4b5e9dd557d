"""Repeated lines and paragraphs against datatrove's ``find_duplicates`` over Python's
``re.split``."""

from __future__ import annotations

import re

import polars as pl
from datatrove.pipeline.filters.gopher_repetition_filter import find_duplicates
from filter_agreement import read_texts

from curation.filters.repeats import marked_lines, repeated_pieces
from curation.samples.python_docs import build_python_docs_corpus

EDGES = ["", "\n", "\n\n\n", "a\n\na", "x\n\n\ny\n\nx\n", "é\né\n\né", " \u3000x\n\nx\u2029 ",
         "\x1c\n\n\x1c", "same\nsame\nsame", "a\r\nb\r\na\r\n",
         # pieces hashed 8 bytes a step: lengths about a multiple of 8, trailing NULs
         "abcdefg\nabcdefgh\nabcdefgh\nabcdefghi\nabcdefg\x00\nabcdefg\nabcdefgh\x00",
         "0123456789abcdef\n0123456789abcdef\n\n0123456789abcdeF\n\n0123456789abcdef\n0",
         "a\x00\na\na\x00\n\x00\n\x00"]


def reference(text: str, pattern: str) -> tuple[int, int, int]:
    pieces = re.split(pattern, text)
    return (len(pieces), *find_duplicates(pieces))


def test_equals_datatrove_on_real_pages_and_edges(tmp_path):
    texts = read_texts(build_python_docs_corpus(str(tmp_path)))[:400] + EDGES
    lines, paragraphs = repeated_pieces(pl.Series(texts))
    assert lines.tolist() == [list(reference(t, r"\n+")) for t in texts]
    assert paragraphs.tolist() == [list(reference(t.strip(), r"\n{2,}")) for t in texts]


def test_marked_lines_equal_pythons(tmp_path):
    texts = read_texts(build_python_docs_corpus(str(tmp_path)))[:400] + EDGES + [
        "- a\n  • b\n...\n…\nz...  \n\u2028- ", "x\r\n", "a\rb\x0bc\x0cd\x1ce\x85f"]

    def reference(text: str) -> list[int]:
        lines = text.splitlines()
        return [len(lines), sum(x.lstrip().startswith(("•", "-")) for x in lines),
                sum(x.rstrip().endswith(("...", "…")) for x in lines)]

    assert marked_lines(pl.Series(texts)).tolist() == [reference(t) for t in texts]
