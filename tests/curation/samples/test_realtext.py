"""The real-text corpus: web-like 1-6 KB documents cut at paragraph breaks of real text,
deterministic, built once."""

from __future__ import annotations

import itertools
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest
import zstandard

from curation.samples import realtext
from curation.samples.realtext import (
    MAX_DOC_BYTES,
    MIN_DOC_BYTES,
    SourceText,
    build_real_text_corpus,
    file_docstrings,
    paragraphs,
    read_meta,
    split_documents,
)
from curation.tokenize.cli import iter_texts

TARGET_MB = 0.25  # the first help topics: a build takes well under a second


def _records(paths: list[str]) -> list[dict]:
    out = []
    for path in paths:
        with open(path, "rb") as f:
            data = zstandard.ZstdDecompressor().decompress(f.read(), max_output_size=1 << 30)
        out += [json.loads(line) for line in data.splitlines()]
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[str, list[str]]:
    out = str(tmp_path_factory.mktemp("realtext") / "docs")
    return out, build_real_text_corpus(out, target_mb=TARGET_MB, shards=3)


def _sources(names: set[str]) -> dict[str, SourceText]:
    """The named source texts, taking sources in order only until all are found."""
    found = {}
    for src in realtext.source_texts():
        if src.name in names:
            found[src.name] = src
            if len(found) == len(names):
                break
    return found


def test_documents_are_1_to_6_kb_runs_of_whole_paragraphs(built):
    _, paths = built
    records = _records(paths)
    assert all(set(r) == {"id", "text", "url"} for r in records)
    assert len({r["id"] for r in records}) == len(records)
    sizes = [len(r["text"].encode()) for r in records]
    assert all(MIN_DOC_BYTES <= s <= MAX_DOC_BYTES for s in sizes)
    assert sum(sizes) >= TARGET_MB * 1e6
    assert len(set(sizes)) > len(sizes) // 2  # lengths spread over the range, not one size

    by_source: dict[str, dict[int, str]] = defaultdict(dict)
    for r in records:
        name, k = r["id"].rsplit("#", 1)
        by_source[name][int(k)] = r["text"]
    sources = _sources(set(by_source))
    assert set(sources) == set(by_source)
    for name, docs in by_source.items():
        paras = paragraphs(sources[name].text)
        at = 0  # each document is the next run of whole paragraphs, in order
        for k in range(len(docs)):
            parts = docs[k].split("\n\n")
            start = paras.index(parts[0], at)
            assert paras[start:start + len(parts)] == parts, (name, k)
            at = start + len(parts)


def test_reader_reads_the_shards_and_meta_describes_them(built):
    out, paths = built
    meta = read_meta(out)
    texts = list(iter_texts(paths))
    assert meta["docs"] == len(texts)
    assert meta["bytes"] == sum(len(t.encode()) for t in texts)
    assert MIN_DOC_BYTES <= meta["doc_bytes"]["p10"] <= meta["doc_bytes"]["mean"]
    assert meta["doc_bytes"]["mean"] <= meta["doc_bytes"]["p90"] <= MAX_DOC_BYTES
    assert sum(meta["sources"].values()) >= 1
    assert sorted(meta["shards"]) == sorted(p.rsplit("/", 1)[1] for p in paths)


def test_build_is_deterministic_and_skipped_when_complete(built, tmp_path, monkeypatch):
    out, paths = built
    again = build_real_text_corpus(str(tmp_path / "again"), target_mb=TARGET_MB, shards=3)
    for a, b in zip(paths, again, strict=True):
        assert Path(a).read_bytes() == Path(b).read_bytes()

    def no_sources():
        raise AssertionError("a complete build was redone")

    monkeypatch.setattr(realtext, "source_texts", no_sources)
    assert build_real_text_corpus(out, target_mb=TARGET_MB, shards=3) == paths
    with open(again[0], "ab") as f:  # a damaged shard: its checksum fails, the build reruns
        f.write(b"x")
    with pytest.raises(AssertionError, match="redone"):
        build_real_text_corpus(str(tmp_path / "again"), target_mb=TARGET_MB, shards=3)


def test_paragraphs_split_at_blank_lines_and_cut_only_overlong_ones():
    text = "  indented first\nline two\n\n\n  \t\nsecond\r\n\r\nthird   \n\n"
    assert paragraphs(text) == ["  indented first\nline two", "second", "third"]
    long_lines = "\n".join(f"line {i} " + "é" * 100 for i in range(100))  # ~20 KB
    one_line = "word " * 3000  # 15 KB without a line break
    for para in (long_lines, one_line):
        pieces = paragraphs(f"before\n\n{para}\n\nafter")
        assert pieces[0] == "before" and pieces[-1] == "after"
        cut = pieces[1:-1]
        assert len(cut) >= 3 and all(len(p.encode()) <= MAX_DOC_BYTES for p in cut)
        assert all("\n\n" not in p for p in cut)
        assert re.sub(r"\s", "", "".join(cut)) == re.sub(r"\s", "", para)


def test_split_documents_keeps_runs_in_bounds_and_counts_drops():
    text = "\n\n".join(f"{i:03d}" + "x" * 697 for i in range(20))
    docs, dropped = split_documents(SourceText("t:a", "u", text))
    assert all(MIN_DOC_BYTES <= len(d) <= MAX_DOC_BYTES for d in docs)
    joined = "\n\n".join(docs)  # only a tail can be dropped here: runs of 700-byte paragraphs
    assert text.startswith(joined)
    assert dropped == (len(text) - len(joined) - 2 if dropped else 0)
    assert split_documents(SourceText("t:b", "u", "too short")) == ([], len("too short"))


def test_split_documents_merges_a_short_run_into_the_previous_document_when_it_fits():
    first, short, big = "a" * (MAX_DOC_BYTES - 100), "b" * 10, "c" * (MAX_DOC_BYTES - 3)
    docs, dropped = split_documents(SourceText("t:c", "u", f"{first}\n\n{short}\n\n{big}"))
    assert docs == [f"{first}\n\n{short}", big] and dropped == 0
    docs, dropped = split_documents(SourceText("t:d", "u", f"{big}\n\n{short}\n\n{big}"))
    assert docs == [big, big] and dropped == len(short)


def test_distribution_sources_are_readme_licences_and_docstrings():
    import importlib.metadata

    def kinds(name: str) -> set[str]:
        dist = importlib.metadata.distribution(name)
        return {s.kind for s in realtext._distribution_texts(dist) if s.text.strip()}

    assert kinds("xxhash") == {"readme", "license"}
    assert "docstrings" in kinds("psutil")
    assert all(d.metadata["Name"] != "curation" for d in realtext._distributions())


def test_file_docstrings_reads_long_docstrings_without_importing():
    doc = " ".join(["A docstring that is long enough to count."] * 6)
    source = f'"""{doc}"""\nimport no_such_module\n\nclass A:\n    """{doc}"""\n' \
             f'    def f(self):\n        """short"""\n'
    assert file_docstrings(source) == f"{doc}\n\n{doc}"
    assert file_docstrings("def broken(:\n") == ""


def test_sources_come_in_a_fixed_order_with_identical_texts_once():
    first = list(itertools.islice(realtext.source_texts(), 60))
    assert first == list(itertools.islice(realtext.source_texts(), 60))
    assert first[0].kind == "python-topic"
    assert len({s.text for s in first}) == len({s.name for s in first}) == len(first)
