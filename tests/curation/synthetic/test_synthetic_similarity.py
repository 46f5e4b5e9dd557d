"""Normalisation, shingles and Jaccard on hand-made texts."""

from __future__ import annotations

from curation.synthetic import jaccard, normalize, shingles


def test_normalize_shingles_jaccard():
    assert normalize("  Hello,   WORLD!\nIt's 3.5 «ok»_x ") == "hello world it s 3 5 ok x"
    assert normalize("Ça va, Müller?") == "ça va müller"
    assert shingles("a b c d e f", n=5) == {("a", "b", "c", "d", "e"), ("b", "c", "d", "e", "f")}
    assert shingles("A, b!", n=5) == {("a", "b")}
    assert shingles("...", n=5) == set()
    assert jaccard({1, 2}, {2, 3}) == 1 / 3
    assert jaccard(set(), set()) == 1.0
