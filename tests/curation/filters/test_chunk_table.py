"""The compiled chunk table against the plain path: texts cut at Python's whitespace, each
chunk split by ``split_chunks``, whatever the batches, the table's growth and its
restarts."""

from __future__ import annotations

import functools
import random

import numpy as np
import polars as pl
from filter_agreement import read_texts

from curation.core.arrow_strings import string_buffers
from curation.filters import words
from curation.filters.chunk_table import SPACE, ChunkTable, _count, _scan
from curation.samples.python_docs import build_python_docs_corpus


def plain(texts: list[str]) -> list[list[str]]:
    """Python's ``str.split()`` chunks, each split by ``split_chunks`` one at a time."""
    out = []
    for text in texts:
        chunks = text.split()
        tokens = words.split_chunks(pl.Series(chunks, dtype=pl.String)) if chunks else None
        out.append([] if tokens is None else tokens["token"].to_list())
    return out


def table_tokens(table: ChunkTable, texts: list[str]) -> list[list[str]]:
    got = table.tokenize(pl.Series(texts, dtype=pl.String))
    grouped = dict(got.group_by("doc", maintain_order=True).agg("token").iter_rows())
    return [grouped.get(i, []) for i in range(len(texts))]


def test_whitespace_is_pythons():
    texts = ["", "   ", "a b", "a\u3000b\x1cc\x85d\u00a0e\u2029f", "x\ty\r\nz ", "😀😀 中文",
             "tab\u200bzero-width-space-is-not-whitespace"]
    table = ChunkTable(functools.partial(words.split_chunks, language="en"))
    assert table_tokens(table, texts) == plain(texts)


def test_chunks_are_pythons_split_on_random_unicode():
    """``_count`` (which sizes ``_scan``'s arrays) and ``_scan`` find ``str.split()``'s items,
    whatever the mix of one- to four-byte characters and of Python's whitespace."""
    spaces = [chr(c) for c in range(len(SPACE)) if SPACE[c]]
    others = ["a", "é", "ß", "€", "中", "😀", "\x00", "\u200b", "\u2030", "\x84", "\xa1"]
    rng = random.Random(0)
    texts = ["", " ", "a", "😀"] + ["".join(rng.choices(spaces + others * 3, k=rng.randint(0, 30)))
                                   for _ in range(2000)]
    data, offsets = string_buffers(pl.Series(texts, dtype=pl.String))
    n = _count(data, offsets, SPACE)
    assert n == sum(len(t.split()) for t in texts)
    doc, lo, hi = np.empty(n, np.uint32), np.empty(n, np.int64), np.empty(n, np.int64)
    _scan(data, offsets, SPACE, doc, lo, hi, np.empty(n, np.uint64))
    got = [(int(d), bytes(data[a:b]).decode()) for d, a, b in zip(doc, lo, hi, strict=True)]
    assert got == [(d, c) for d, t in enumerate(texts) for c in t.split()]


def test_batches_growth_and_restarts_never_change_tokens(tmp_path):
    texts = read_texts(build_python_docs_corpus(str(tmp_path)))[:600]
    want = plain(texts)
    split = functools.partial(words.split_chunks, language="en")
    grown = ChunkTable(split)
    got = [t for i in range(0, len(texts), 200) for t in table_tokens(grown, texts[i:i + 200])]
    assert got == want
    again = [t for i in range(0, len(texts), 200) for t in table_tokens(grown, texts[i:i + 200])]
    assert again == want  # every chunk known now
    small = ChunkTable(split, max_chunks=500)  # restarts within every batch
    assert [t for i in range(0, len(texts), 100)
            for t in table_tokens(small, texts[i:i + 100])] == want
    assert small.n_entries < len({c for t in texts for c in t.split()})  # it restarted


def test_the_table_grows_past_its_first_size():
    table = ChunkTable(functools.partial(words.split_chunks, language="en"))
    chunks = [f"w{i}," for i in range(50_000)]
    got = table_tokens(table, [" ".join(chunks)])[0]
    assert got == [t for c in chunks for t in (c[:-1], ",")]
    assert len(table.keys) >= 2 * table.n_entries > 1 << 16


def test_chunks_the_compiled_loop_leaves_go_columnwise_in_place():
    """A chunk with more special-case runs than the loop tracks is split column-wise and its
    tokens stored in chunk order among the others'."""
    from curation.filters import affixes

    texts = ["before (x) " + ":)" * (affixes.MAX_MERGES + 1) + " after, e.g. this", "more :)"]
    table = words.cache("en")
    assert isinstance(table, ChunkTable) and table.split_ranges is not None
    words.reset_cache()
    assert table_tokens(words.cache("en"), texts) == plain(texts)
