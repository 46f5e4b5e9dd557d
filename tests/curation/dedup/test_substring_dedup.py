"""Suffix-array substring dedup against a brute-force search of every window (a set of the
``min_bytes``-byte strings seen so far, in partition order), on overlapping repeats, repeats at
document edges and inside one document, multi-byte characters; the generator's planted
boilerplate; the same output whatever the executor or the shard order."""

from __future__ import annotations

import json
import os
import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from corpora import write_jsonl

from curation import Pipeline, read
from curation.core.executors import RayExecutor
from curation.dedup import SubstringDedup
from curation.dedup.substring import REMOVED, cut_spans, fuzzy_merge, removed_spans
from curation.synthetic import GeneratorConfig, generate


def brute_force_later(texts: list[str], min_bytes: int) -> list[np.ndarray]:
    """Per text, the bytes inside some window that occurred earlier (in text then byte order)."""
    seen: set[bytes] = set()
    masks = []
    for text in texts:
        b = text.encode()
        mask = np.zeros(len(b), bool)
        for s in range(len(b) - min_bytes + 1):
            window = b[s:s + min_bytes]
            if window in seen:
                mask[s:s + min_bytes] = True
            seen.add(window)
        masks.append(mask)
    return masks


def runs_of(mask: np.ndarray) -> list[tuple[int, int]]:
    """The maximal runs ``[lo, hi)`` of True in ``mask``."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.view(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def snapped(b: bytes, spans: list[tuple[int, int]]) -> np.ndarray:
    """The mask of ``spans`` of ``b``, each shrunk to whole UTF-8 characters."""
    mask = np.zeros(len(b), bool)
    for lo, hi in spans:
        while lo < hi and b[lo] & 0xC0 == 0x80:
            lo += 1
        while hi > lo and hi < len(b) and b[hi] & 0xC0 == 0x80:
            hi -= 1
        mask[lo:hi] = True
    return mask


def brute_force_mask(texts: list[str], min_bytes: int) -> list[np.ndarray]:
    """Per text, the bytes inside some window that occurred earlier (in text then byte order),
    each run of them shrunk to whole UTF-8 characters."""
    return [snapped(t.encode(), runs_of(m))
            for t, m in zip(texts, brute_force_later(texts, min_bytes), strict=True)]


def span_mask(texts: list[str], doc, start, end) -> list[np.ndarray]:
    masks = [np.zeros(len(t.encode()), bool) for t in texts]
    for d, s, e in zip(doc.tolist(), start.tolist(), end.tolist(), strict=True):
        assert not masks[d][s:e].any(), "spans overlap"
        masks[d][s:e] = True
    return masks


def check_against_brute_force(texts: list[str], min_bytes: int) -> None:
    arr = pa.array(texts, pa.large_string())
    doc, start, end = removed_spans(arr, min_bytes, fuzziness=1.0)
    expected = brute_force_mask(texts, min_bytes)
    got = span_mask(texts, doc, start, end)
    new, removed = cut_spans(arr, doc, start, end)
    new.validate(full=True)  # valid UTF-8: no character was split
    for text, e, g, out, r in zip(texts, expected, got, new.to_pylist(), removed, strict=True):
        assert np.array_equal(e, g), (text, np.flatnonzero(e), np.flatnonzero(g))
        b = np.frombuffer(text.encode(), np.uint8)
        assert out.encode() == b[~e].tobytes() and r == e.sum()


def test_handmade_cases_match_brute_force():
    unique = "".join(chr(ord("A") + i % 26) + str(i) for i in range(40))
    check_against_brute_force(["x" * 30], 5)  # a run overlapping itself
    check_against_brute_force(["abcabcabcabc", "zzabcab"], 4)  # periodic, inside one document
    check_against_brute_force(["HEADER1234 body one", "HEADER1234 body two"], 8)  # at the start
    check_against_brute_force(["one FOOTER-xyz", "two FOOTER-xyz"], 8)  # at the end
    check_against_brute_force(["0123456789", "0123456789"], 10)  # a whole document
    check_against_brute_force(["abcdefgh", "efghijkl"], 5)  # shorter than the minimum: kept
    check_against_brute_force([unique, "...", unique[10:50] + "!" + unique[60:]], 12)
    check_against_brute_force(["", "a", "aa"], 1)


def test_no_match_spans_two_documents():
    # "defg" only exists across the boundary of the first two documents
    arr = pa.array(["abcdef", "ghij", "xdefghx"], pa.large_string())
    doc, _, _ = removed_spans(arr, 4)
    assert len(doc) == 0


def test_multibyte_characters_are_never_split():
    # é is C3 A9, 日 is E6 97 A5, 🙂 is F0 9F 99 82: repeats begin and end inside characters
    texts = ["aé日🙂bé日🙂c", "xé日🙂yé日🙂z", "日日日日日日日", "🙂🙃🙂🙃🙂🙃"]
    for min_bytes in range(1, 12):
        check_against_brute_force(texts, min_bytes)


@pytest.mark.parametrize("seed", range(6))
def test_random_texts_match_brute_force(seed):
    rng = random.Random(seed)
    alphabet = rng.choice(["ab", "abc ", "aé日", "xy🙂"])
    pool = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(4)]
    for _ in range(40):
        texts = ["".join(rng.choice(pool) if rng.random() < 0.5 else rng.choice(alphabet) * 3
                         for _ in range(rng.randint(0, 5))) for _ in range(rng.randint(1, 7))]
        check_against_brute_force(texts, rng.randint(2, 14))


def naive_fuzzy(runs: list[tuple[int, int]], fuzziness: float) -> list[tuple[int, int]]:
    """The merge rule spelled out: grow a span run by run while covered >= fuzziness."""
    spans: list[list[tuple[int, int]]] = []
    for run in runs:
        if spans:
            group = [*spans[-1], run]
            covered = sum(e - s for s, e in group)
            if covered >= fuzziness * (group[-1][1] - group[0][0]):
                spans[-1] = group
                continue
        spans.append([run])
    return [(g[0][0], g[-1][1]) for g in spans]


def test_fuzzy_merge_removes_small_gaps_between_runs():
    assert fuzzy_merge([0, 100], [90, 200], 0.9) == [(0, 200)]  # 190 of 200 covered
    assert fuzzy_merge([0, 150], [90, 200], 0.9) == [(0, 90), (150, 200)]  # 140 of 200
    assert fuzzy_merge([0, 10], [5, 20], 1.0) == [(0, 5), (10, 20)]
    rng = random.Random(7)
    for _ in range(300):
        bounds = sorted(rng.sample(range(1000), 2 * rng.randint(1, 8)))
        runs = list(zip(bounds[::2], bounds[1::2], strict=True))
        f = rng.choice([0.5, 0.8, 0.9, 1.0])
        assert fuzzy_merge([s for s, _ in runs], [e for _, e in runs], f) == naive_fuzzy(runs, f)


def test_fuzzy_merge_in_the_stage_spans():
    shared_a = "".join(f"a{i:02d}" for i in range(17)) + "a"  # 52 bytes, no inner repeat
    shared_b = "b" + "".join(f"b{i:02d}" for i in range(17))
    texts = [shared_a + shared_b, shared_a + "gap" + shared_b]
    doc, start, end = removed_spans(pa.array(texts, pa.large_string()), 20, fuzziness=0.9)
    assert (doc.tolist(), start.tolist(), end.tolist()) == ([1], [0], [107])
    doc, start, end = removed_spans(pa.array(texts, pa.large_string()), 20, fuzziness=1.0)
    assert (doc.tolist(), start.tolist(), end.tolist()) == ([1, 1], [0, 55], [52, 107])


def brute_force_first(texts: list[str], min_bytes: int) -> list[np.ndarray]:
    """Per text, the bytes inside the first occurrence (in text then byte order) of some window
    that occurs again later, by plain substring search."""
    data = [t.encode() for t in texts]
    masks = []
    for i, b in enumerate(data):
        mask = np.zeros(len(b), bool)
        for s in range(len(b) - min_bytes + 1):
            w = b[s:s + min_bytes]
            first = b.find(w) == s and not any(w in e for e in data[:i])
            if first and (b.find(w, s + 1) >= 0 or any(w in e for e in data[i + 1:])):
                mask[s:s + min_bytes] = True
        masks.append(mask)
    return masks


def naive_protected(texts: list[str], min_bytes: int, fuzziness: float) -> list[np.ndarray]:
    """``protect_first`` spelled out: the runs of later windows are merged by ``naive_fuzzy``
    within stretches whose gaps hold no first-occurrence byte, then shrunk to characters."""
    masks = []
    for text, later, first in zip(texts, brute_force_later(texts, min_bytes),
                                  brute_force_first(texts, min_bytes), strict=True):
        stretches: list[list[tuple[int, int]]] = []
        for lo, hi in runs_of(later):
            if stretches and not first[stretches[-1][-1][1]:lo].any():
                stretches[-1].append((lo, hi))
            else:
                stretches.append([(lo, hi)])
        spans = [span for runs in stretches for span in naive_fuzzy(runs, fuzziness)]
        masks.append(snapped(text.encode(), spans))
    return masks


def planted_corpus(rng: random.Random) -> tuple[list[str], int]:
    """A few texts of unique filler with passages from a small pool planted at random (several
    times each), and a ``min_bytes`` below the passages' length."""
    alphabet = rng.choice(["abcdefghijklmnopqrstuvwxyz", "abcdé日🙂xyz"])
    pool = ["".join(rng.choice(alphabet) for _ in range(rng.randint(8, 30))) for _ in range(5)]
    texts = ["".join(rng.choice(pool) if rng.random() < 0.7
                     else "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
                     for _ in range(rng.randint(1, 10))) for _ in range(rng.randint(2, 6))]
    return texts, rng.randint(4, 8)


@pytest.mark.parametrize("seed", range(4))
def test_protect_first_never_bridges_a_first_occurrence(seed):
    """With ``protect_first``, the spans equal the plain reference; no byte of a first
    occurrence goes unless the exact search (``fuzziness=1``) removes it too (a window can
    overlap its own repeat), and every byte the exact search removes still goes. The default
    merge, on the same corpora, does remove first-occurrence bytes."""
    rng = random.Random(seed)
    default_took = protected_merged = 0
    for _ in range(40):
        texts, min_bytes = planted_corpus(rng)
        fuzziness = rng.choice([0.5, 0.7, 0.9])
        arr = pa.array(texts, pa.large_string())
        got = span_mask(texts, *removed_spans(arr, min_bytes, fuzziness, protect_first=True))
        default = span_mask(texts, *removed_spans(arr, min_bytes, fuzziness))
        exact = brute_force_mask(texts, min_bytes)
        first = brute_force_first(texts, min_bytes)
        for g, e, n, f, d in zip(got, exact, naive_protected(texts, min_bytes, fuzziness),
                                 first, default, strict=True):
            assert np.array_equal(g, n)
            assert not (g & f & ~e).any()  # no first-occurrence byte beyond the exact search
            assert not (e & ~g).any()  # the exact search's bytes all go
            default_took += int((d & f & ~e).sum())
            protected_merged += int((g & ~e).sum())
    assert default_took > 0 and protected_merged > 0


def test_default_fuzzy_merge_can_remove_a_first_occurrence():
    """The default merge bridges a gap whatever it holds: here the only surviving copy of a
    passage (its later copy is removed as a repeat) lies between two repeated runs and goes
    with them, so the passage disappears from the corpus; ``protect_first`` keeps it."""
    shared_a = "".join(f"a{i:02d}" for i in range(34))  # 102 bytes, no inner repeat
    shared_b = "".join(f"b{i:02d}" for i in range(34))
    passage = "a passage of 21 bytes"
    texts = [shared_a + shared_b, shared_a + passage + shared_b, "x " + passage]
    arr = pa.array(texts, pa.large_string())
    doc, start, end = removed_spans(arr, 20, fuzziness=0.9)
    assert (doc.tolist(), start.tolist(), end.tolist()) == ([1, 2], [0, 2], [225, 23])
    doc, start, end = removed_spans(arr, 20, fuzziness=0.9, protect_first=True)
    assert (doc.tolist(), start.tolist(), end.tolist()) == ([1, 1, 2], [0, 123, 2],
                                                           [102, 225, 23])
    stage = SubstringDedup(min_bytes=20, protect_first=True)
    [(_, spans)] = _reduce(stage, pa.table({"id": ["a", "b", "c"], "text": texts}))
    assert spans == {"row": [1, 1, 2], "start": [0, 123, 2], "end": [102, 225, 23]}


# --- the stage in a pipeline ------------------------------------------------------------------


def write_shards(directory, docs: list[dict], order: list[int], shards: int = 3) -> list[str]:
    """``docs`` dealt round-robin into ``shards`` files, listed in ``order``."""
    os.makedirs(directory, exist_ok=True)
    return [write_jsonl(os.path.join(directory, f"{k}.jsonl"), docs[k::shards]) for k in order]


def run_stage(inputs: list[str], workdir, executor="local", **options) -> pa.Table:
    p = Pipeline("t", os.path.join(workdir, "w"))
    p.sink(p.source(read(inputs, source="s")) >> SubstringDedup(**options),
           os.path.join(workdir, "o"))
    result = p.run(executor, progress=False)
    return pa.concat_tables(pq.read_table(f) for f in result.outputs["sink"]).sort_by("id")


def small_docs(seed: int, n: int = 60) -> list[dict]:
    rng = random.Random(seed)
    boiler = ["Cookie notice: " + " ".join(f"w{rng.randint(0, 99)}" for _ in range(30))
              for _ in range(3)]
    docs = []
    for i in range(n):
        body = " ".join(f"t{i}-{rng.randint(0, 9999)}" for _ in range(rng.randint(5, 40)))
        parts = [body]
        if rng.random() < 0.5:
            parts.insert(rng.randint(0, 1), rng.choice(boiler))
        if rng.random() < 0.1:
            parts = [rng.choice(boiler)]  # only boilerplate: left empty
        docs.append({"id": f"d{i:04d}", "text": "\n\n".join(parts)})
    return docs


def test_stage_equals_brute_force_and_drops_emptied_documents(tmp_path):
    docs = small_docs(1)
    out = run_stage(write_shards(tmp_path / "in", docs, [0, 1, 2]), tmp_path, min_bytes=40,
                    fuzziness=1.0, partitions=2)
    texts = [d["text"] for d in sorted(docs, key=lambda d: d["id"])]
    by_id = {d["id"]: d["text"] for d in docs}
    # partitions hash documents by id: brute force within each partition, in id order
    stage = SubstringDedup(partitions=2)
    table = pa.table({"id": [d["id"] for d in docs], "text": [d["text"] for d in docs]})
    expected: dict[str, str] = {}
    removed: dict[str, int] = {}
    for _, piece in stage.scan(0, iter([table])):
        ids = sorted(piece.column("id").to_pylist())
        part = [by_id[i] for i in ids]
        for i, text, mask in zip(ids, part, brute_force_mask(part, 40), strict=True):
            b = np.frombuffer(text.encode(), np.uint8)
            expected[i] = b[~mask].tobytes().decode()
            removed[i] = int(mask.sum())
    kept = {i for i, t in expected.items() if t.strip()}
    assert out.column("id").to_pylist() == sorted(kept)
    assert 0 < len(kept) < len(texts)
    for i, text, r in zip(out.column("id").to_pylist(), out.column("text").to_pylist(),
                          out.column(REMOVED).to_pylist(), strict=True):
        assert text == expected[i] and r == removed[i]
    assert out.schema.field(REMOVED).type == pa.int64()
    assert sum(removed.values()) > 0


def test_blocks_of_partition_bytes_are_deduplicated_separately():
    """A partition larger than ``partition_bytes`` is cut into blocks in id order (a document
    starts block ``bytes before it // partition_bytes``, 1 separator byte per document);
    repeats are searched within each block only."""
    docs = small_docs(4, n=30)
    stage = SubstringDedup(min_bytes=40, fuzziness=1.0, partition_bytes=1500)
    table = pa.table({"id": [d["id"] for d in docs], "text": [d["text"] for d in docs]})
    [(_, piece)] = list(stage.scan(0, iter([table])))
    decisions = pa.concat_tables(t for _, t in stage.reduce(0, iter([piece])))
    texts = [d["text"] for d in docs]  # ids d0000.. are already in id order
    sizes = np.array([len(t.encode()) + 1 for t in texts])
    block = np.concatenate([[0], np.cumsum(sizes)[:-1]]) // 1500
    assert block[-1] >= 3
    expected = []
    for b in np.unique(block).tolist():
        expected += brute_force_mask([t for t, k in zip(texts, block, strict=True) if k == b], 40)
    got = span_mask(texts, *(decisions.column(c).to_numpy() for c in ("row", "start", "end")))
    for e, g in zip(expected, got, strict=True):
        assert np.array_equal(e, g)
    assert sum(e.sum() for e in expected) < sum(m.sum() for m in brute_force_mask(texts, 40))


def test_any_shard_order_gives_the_same_documents(tmp_path):
    docs = small_docs(2)
    one = run_stage(write_shards(tmp_path / "a", docs, [0, 1, 2]), tmp_path / "one", min_bytes=40)
    two = run_stage(write_shards(tmp_path / "b", docs, [2, 0, 1]), tmp_path / "two", min_bytes=40)
    assert one.num_rows < len(docs)
    assert one.select(["id", "text", REMOVED]).equals(two.select(["id", "text", REMOVED]))


@pytest.mark.ray
@pytest.mark.parametrize("scope", ["block", "corpus"])
def test_local_and_ray_give_the_same_bytes(tmp_path, ray_cluster, scope):
    inputs = write_shards(tmp_path / "in", small_docs(3), [0, 1, 2])
    local = run_stage(inputs, tmp_path / "local", min_bytes=40, partitions=2, scope=scope)
    ray = run_stage(inputs, tmp_path / "ray", RayExecutor(), min_bytes=40, partitions=2,
                    scope=scope)
    assert local.num_rows < 60 and local.equals(ray)
    names = sorted(os.listdir(tmp_path / "local" / "o"))
    assert names == sorted(os.listdir(tmp_path / "ray" / "o"))
    for name in names:
        assert (tmp_path / "local" / "o" / name).read_bytes() == (
            tmp_path / "ray" / "o" / name).read_bytes()


# --- scope="corpus" -----------------------------------------------------------------------------


def corpus_docs(seed: int) -> list[dict]:
    """``small_docs`` plus passages of 40-90 bytes (accented) planted at random offsets of
    random documents: repeats that land in any shard, partition and block."""
    rng = random.Random(seed)
    passages = ["".join(rng.choice("abcdé ") for _ in range(rng.randint(40, 90)))
                for _ in range(8)]
    docs = small_docs(seed, n=90)
    for d in docs:
        for _ in range(rng.randint(0, 2)):
            cut = rng.randint(0, len(d["text"]))
            d["text"] = d["text"][:cut] + rng.choice(passages) + d["text"][cut:]
    return docs


def whole_corpus_brute_force(docs: list[dict], min_bytes: int) -> tuple[dict, dict]:
    """``({id: text left}, {id: bytes removed})``: every byte inside a window that occurred
    earlier anywhere in the corpus (documents in id order) removed."""
    ordered = sorted(docs, key=lambda d: d["id"])
    texts = [d["text"] for d in ordered]
    left, removed = {}, {}
    for d, text, mask in zip(ordered, texts, brute_force_mask(texts, min_bytes), strict=True):
        left[d["id"]] = np.frombuffer(text.encode(), np.uint8)[~mask].tobytes().decode()
        removed[d["id"]] = int(mask.sum())
    return left, removed


@pytest.mark.parametrize("seed", [5, 6])
def test_corpus_scope_finds_repeats_across_shards_partitions_and_blocks(tmp_path, seed):
    """Recall 1.0 and nothing removed that does not repeat: equal to brute force over the
    whole corpus, for any number of partitions and any shard order, even with blocks so small
    that the block scope misses most repeats."""
    docs = corpus_docs(seed)
    left, removed = whole_corpus_brute_force(docs, 40)
    kept = sorted(i for i, t in left.items() if t.strip())
    outputs = []
    for partitions, order in ((1, [0, 1, 2, 3, 4]), (3, [4, 2, 0, 1, 3]), (8, [1, 0, 3, 2, 4])):
        inputs = write_shards(tmp_path / f"in{partitions}", docs, order, shards=5)
        out = run_stage(inputs, tmp_path / f"p{partitions}", min_bytes=40, fuzziness=1.0,
                        partitions=partitions, partition_bytes=500, scope="corpus")
        assert out.column("id").to_pylist() == kept
        assert out.column("text").to_pylist() == [left[i] for i in kept]
        assert out.column(REMOVED).to_pylist() == [removed[i] for i in kept]
        outputs.append(out.select(["id", "text", REMOVED]))
    assert all(o.equals(outputs[0]) for o in outputs)
    blockwise = run_stage(write_shards(tmp_path / "b", docs, [0, 1, 2, 3, 4], shards=5),
                          tmp_path / "b", min_bytes=40, fuzziness=1.0, partitions=3,
                          partition_bytes=500)
    assert sum(blockwise.column(REMOVED).to_pylist()) < 0.7 * sum(removed.values())


@pytest.mark.parametrize(("fuzziness", "protect_first"), [(0.9, False), (0.7, True)])
def test_corpus_scope_merges_and_snaps_like_one_block(tmp_path, fuzziness, protect_first):
    """The fuzzy merge, protect_first and UTF-8 snapping on top of the corpus-wide runs give
    what the block scope gives when the whole corpus is one block."""
    docs = corpus_docs(7)
    inputs = write_shards(tmp_path / "in", docs, [0, 1, 2, 3, 4], shards=5)
    options = {"min_bytes": 40, "fuzziness": fuzziness, "protect_first": protect_first}
    corpus = run_stage(inputs, tmp_path / "c", partitions=4, scope="corpus", **options)
    block = run_stage(inputs, tmp_path / "b", partitions=1, **options)
    assert corpus.select(["id", "text", REMOVED]).equals(block.select(["id", "text", REMOVED]))
    assert sum(corpus.column(REMOVED).to_pylist()) > 0


# --- planted boilerplate ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("synthetic")
    generate(root, GeneratorConfig(docs=1000, seed=4, shard_docs=250))
    return str(root)


def test_planted_boilerplate_is_removed(synthetic, tmp_path):
    """Every planted boilerplate paragraph but the first of its kind (in id order) goes: recall
    >= 0.95 of those bytes, with min_bytes=500 as in Dolma 3; the rest of the text stays."""
    import polars as pl

    files = sorted(os.path.join(synthetic, "docs", f) for f in os.listdir(
        os.path.join(synthetic, "docs")))
    source = pa.concat_tables(b for f in files for b in _batches(f)).sort_by("id")
    truth = pl.read_parquet(os.path.join(synthetic, "truth.parquet")).sort("id")
    planted = truth.filter(pl.col("kind") == "boilerplate").with_columns(
        pl.col("id").rank("ordinal").over("boilerplate_id").alias("nth"))
    later = planted.filter(pl.col("nth") > 1)
    assert later.height > 50
    # the spans the stage cuts, straight from its reduce (one partition: the whole corpus)
    stage = SubstringDedup(min_bytes=500, partitions=1)
    [(_, piece)] = list(stage.scan(0, iter([source])))
    decisions = pa.concat_tables(t for _, t in stage.reduce(0, iter([piece])))
    ids = source.column("id").to_pylist()
    spans: dict[str, list[tuple[int, int]]] = {}
    for row, s, e in zip(*(decisions.column(c).to_pylist() for c in ("row", "start", "end")),
                         strict=True):
        spans.setdefault(ids[row], []).append((s, e))
    hit = total = 0
    for doc_id, lo, hi in planted.select("id", "boilerplate_start", "boilerplate_end").iter_rows():
        covered = sum(max(0, min(hi, e) - max(lo, s)) for s, e in spans.get(doc_id, []))
        if doc_id in set(later["id"]):
            hit, total = hit + covered, total + hi - lo
        else:
            assert covered == 0  # the first of each kind is kept
    recall = hit / total
    print(f"planted boilerplate recall {recall:.4f} ({hit} of {total} bytes)")
    assert recall >= 0.95, recall
    # end to end: the pipeline writes exactly those texts
    out = run_stage(files, tmp_path, min_bytes=500)
    by_id = dict(zip(ids, source.column("text").to_pylist(), strict=True))
    for doc_id, text in zip(out.column("id").to_pylist(), out.column("text").to_pylist(),
                            strict=True):
        b = np.frombuffer(by_id[doc_id].encode(), np.uint8)
        keep = np.ones(len(b), bool)
        for s, e in spans.get(doc_id, []):
            keep[s:e] = False
        assert text.encode() == b[keep].tobytes()
    assert set(later["id"]) <= set(out.column("id").to_pylist())  # they keep their bodies


def _batches(path: str):
    with open(path, "rb") as f:
        docs = [json.loads(line) for line in zstandard.decompress(f.read()).splitlines()]
    yield pa.table({"id": [d["id"] for d in docs], "text": [d["text"] for d in docs]})


def _reduce(stage: SubstringDedup, table: pa.Table) -> list[tuple[int, dict]]:
    pieces = [t for _, t in stage.scan(0, iter([table]))]
    return [(s, t.to_pydict()) for s, t in stage.reduce(0, iter(pieces))]


def test_a_partition_without_any_repeat_yields_no_decisions():
    """Nothing repeated in the partition (or only texts shorter than ``min_bytes``): no spans,
    and no crash."""
    stage = SubstringDedup(min_bytes=5)
    table = pa.table({"id": ["a", "b", "c"], "text": ["hello world", "something else", "ab"]})
    assert _reduce(stage, table) == []
    empty = pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.large_string())})
    assert _reduce(stage, empty) == []


def test_a_null_text_does_not_split_the_block():
    """A null text owns no bytes (like ""): the documents after it stay in the same block, so
    their repeats are found exactly as with "" in its place (brute force)."""
    texts = ["hello world", None, "hello world", "xyz hello world"]
    stage = SubstringDedup(min_bytes=5, fuzziness=1.0)
    table = pa.table({"id": ["a", "b", "c", "d"], "text": pa.array(texts, pa.large_string())})
    got = {}
    for _, d in _reduce(stage, table):
        for row, s, e in zip(d["row"], d["start"], d["end"], strict=True):
            got.setdefault(row, []).append((s, e))
    plain = [t or "" for t in texts]
    masks = span_mask(plain, *(np.array(x, np.int64) for x in (
        [r for r, spans in got.items() for _ in spans],
        [s for spans in got.values() for s, _ in spans],
        [e for spans in got.values() for _, e in spans])))
    for e, g in zip(brute_force_mask(plain, 5), masks, strict=True):
        assert np.array_equal(e, g)
    assert set(got) == {2, 3}
