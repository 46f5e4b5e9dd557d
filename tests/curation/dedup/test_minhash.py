"""MinHash LSH dedup against plain references: exact Jaccard on the generator's planted
near-duplicates, the closed-form collision curve, BFS components, the keep policy, and the same
output whatever the executor or the shard order."""

from __future__ import annotations

import math
import os

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from corpora import write_jsonl

from curation import Pipeline, read
from curation.core.executors import RayExecutor
from curation.core.status import format_status
from curation.core.workdir import WorkDir
from curation.dedup import MinHashDedup, collision_probability
from curation.dedup.minhash import (
    band_buckets,
    collision_curve,
    jaccard_sorted,
    normalise,
    shingle_hashes,
    signatures_numpy,
    signatures_rensa,
    unique_per_doc,
)
from curation.synthetic import GeneratorConfig, generate, jaccard, normalize, shingles


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> str:
    """1,500 synthetic documents in 3 shards, a fifth of them planted near-duplicates."""
    root = tmp_path_factory.mktemp("synthetic")
    generate(root, GeneratorConfig(docs=1500, seed=3, shard_docs=500, near_dup=0.2,
                                   exact_dup=0.05))
    return str(root)


def run_dedup(inputs, workdir, executor="local", **options) -> pl.DataFrame:
    p = Pipeline("t", os.path.join(workdir, "w"))
    p.sink(p.source(read(inputs, source="s")) >> MinHashDedup(**options),
           os.path.join(workdir, "o"))
    result = p.run(executor, progress=False)
    return pl.from_arrow(pa.concat_tables(pq.read_table(f) for f in result.outputs["sink"]))


def planted_pairs(root: str, texts: dict[str, str]) -> list[tuple[str, str, float]]:
    """(duplicate id, source id, exact shingle Jaccard) of every planted exact or near dup."""
    truth = pl.read_parquet(os.path.join(root, "truth.parquet")).filter(
        pl.col("kind").is_in(["near_dup", "exact_dup"]))
    return [(i, d, jaccard(shingles(texts[i]), shingles(texts[d])))
            for i, d in zip(truth["id"], truth["dup_of"], strict=True)]


def same_cluster(out: pl.DataFrame) -> callable:
    cluster = dict(zip(out["id"], out["minhash_cluster"], strict=True))
    return lambda a, b: cluster[a] is not None and cluster[a] == cluster[b]


def test_recall_and_precision_against_exact_jaccard(planted, tmp_path):
    out = run_dedup(os.path.join(planted, "docs"), str(tmp_path / "plain"), mode="mark",
                    partitions=4)
    texts = dict(zip(out["id"], out["text"], strict=True))
    pairs = planted_pairs(planted, texts)
    together = same_cluster(out)
    high = [together(a, b) for a, b, j in pairs if j >= 0.8]
    assert len(high) > 150 and sum(high) / len(high) >= 0.9
    assert not any(together(a, b) for a, b, j in pairs if j < 0.4)

    verified = run_dedup(os.path.join(planted, "docs"), str(tmp_path / "verified"),
                         mode="mark", partitions=4, verify_threshold=0.5)
    together = same_cluster(verified)
    high = [together(a, b) for a, b, j in pairs if j >= 0.8]
    assert sum(high) / len(high) >= 0.9
    assert not any(together(a, b) for a, b, j in pairs if j < 0.5)
    # every document merged into a cluster is within 0.5 of some other member
    sets = {i: shingles(t) for i, t in texts.items()}
    for members in verified.filter(pl.col("minhash_cluster").is_not_null()).group_by(
            "minhash_cluster").agg("id")["id"].to_list():
        for m in members:
            assert max(jaccard(sets[m], sets[o]) for o in members if o != m) >= 0.5


def test_drop_keeps_newest_then_smallest_id_per_cluster(planted, tmp_path):
    docs = os.path.join(planted, "docs")
    marked = run_dedup(docs, str(tmp_path / "mark"), mode="mark", partitions=3)
    kept = run_dedup(docs, str(tmp_path / "drop"), partitions=3)
    clusters = marked.filter(pl.col("minhash_cluster").is_not_null())
    assert clusters.height > 100
    for group in clusters.partition_by("minhash_cluster"):
        rows = group.to_dicts()
        newest = max((r["created"] for r in rows if r["created"] is not None), default=None)
        best = min(r["id"] for r in rows if r["created"] == newest)
        assert [r["id"] for r in rows if not r["minhash_duplicate"]] == [best]
    assert sorted(kept["id"]) == sorted(marked.filter(~pl.col("minhash_duplicate"))["id"])
    assert kept.filter(pl.col("minhash_cluster").is_not_null()).height == clusters[
        "minhash_cluster"].n_unique()


def test_normalise_and_shingles_match_the_generator():
    rng = np.random.default_rng(0)
    alphabet = list("abcXYZ  \n\t,.;!-_'é") + ["ß", "12"]
    texts = ["".join(rng.choice(alphabet, rng.integers(0, 60))) for _ in range(300)]
    texts += ["one two", "", "   ", "a b c d e f"]
    arr = pa.array(texts, pa.large_string())
    norm = normalise(arr)
    assert norm.to_pylist() == [normalize(t) for t in texts]
    hashes, offsets = shingle_hashes(norm.slice(3), 5)  # a sliced array too
    lists = unique_per_doc(hashes, offsets).to_pylist()
    for text, got in zip(texts[3:], lists, strict=True):
        assert len(got) == len(shingles(text)) and got == sorted(got)


def test_normalise_without_punctuation_splits_on_every_whitespace():
    """With ``punctuation=False`` words are what Python's ``str.split()`` gives (NBSP, em space,
    line separator... split words as a space does). Reference: ``" ".join(t.split())``."""
    import sys

    spaces = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    texts = [f"one{s}two, three{s}" for s in spaces] + ["a\u00a0b\u3000c", "", "x\r\ny"]
    got = normalise(pa.array(texts, pa.large_string()), lowercase=False, punctuation=False)
    assert got.to_pylist() == [" ".join(t.split()) for t in texts]


def test_jaccard_sorted_is_set_jaccard():
    rng = np.random.default_rng(1)
    for _ in range(50):
        a = set(rng.integers(0, 40, rng.integers(0, 30)).tolist())
        b = set(rng.integers(0, 40, rng.integers(0, 30)).tolist())
        got = jaccard_sorted(np.array(sorted(a), np.int64), np.array(sorted(b), np.int64))
        assert got == pytest.approx(jaccard(a, b))


def test_collision_probability_closed_form():
    s = np.linspace(0, 1, 21)
    for b, r in ((26, 11), (14, 8), (3, 2)):
        inclusion_exclusion = sum((-1) ** (k + 1) * math.comb(b, k) * s ** (r * k)
                                  for k in range(1, b + 1))
        assert np.allclose(collision_probability(s, b, r), inclusion_exclusion, atol=1e-9)
    assert collision_probability(0.8, 26, 11) == pytest.approx(0.9032, abs=1e-4)
    assert "   0.80  0.9032" in collision_curve(26, 11).splitlines()


@pytest.mark.parametrize("sign", [signatures_rensa, signatures_numpy])
def test_collision_rate_matches_the_curve_on_random_sets(sign):
    """Pairs of random sets with Jaccard exactly s share a bucket at rate 1-(1-s^r)^b."""
    rng = np.random.default_rng(2)
    bands, rows, pairs, size = 4, 3, 600, 60
    for s in (0.3, 0.55, 0.8):
        common = round(2 * size * s / (1 + s))  # |A & B| / |A | B| = s with |A| = |B| = size
        hashes, offsets = [], [0]
        for _ in range(pairs):
            pool = rng.integers(0, 1 << 63, 2 * size - common, dtype=np.uint64)
            hashes += [pool[:size], pool[size - common:]]
            offsets += [offsets[-1] + size, offsets[-1] + 2 * size]
        true_s = common / (2 * size - common)
        sig = sign(np.concatenate(hashes), np.array(offsets, np.int64), bands * rows, seed=5)
        buckets = band_buckets(sig, bands, rows)
        rate = (buckets[0::2] == buckets[1::2]).any(axis=1).mean()
        expected = collision_probability(true_s, bands, rows)
        assert abs(rate - expected) < 4 * math.sqrt(expected * (1 - expected) / pairs) + 0.01


def test_giant_components_are_kept_whole(tmp_path):
    base = " ".join(f"w{k}" for k in range(200))
    docs = [{"id": f"d{i}", "text": base + f" tail{i}"} for i in range(6)]
    write_jsonl(tmp_path / "in.jsonl", docs)
    capped = run_dedup(str(tmp_path / "in.jsonl"), str(tmp_path / "capped"),
                       max_cluster_size=5, partitions=2)
    assert capped.height == 6 and capped["minhash_cluster"].n_unique() == 1
    plain = run_dedup(str(tmp_path / "in.jsonl"), str(tmp_path / "plain"), partitions=2)
    assert plain["id"].to_list() == ["d0"]


def test_a_document_ingested_twice_keeps_one_copy(tmp_path):
    """Two rows with the same id (the same file read twice) are one cluster of two: one goes,
    although the keeper's id is also the other's."""
    text = " ".join(f"w{k}" for k in range(200))
    docs = [{"id": "same", "text": text}, {"id": "other", "text": "unrelated words " * 30},
            {"id": "same", "text": text}]
    write_jsonl(tmp_path / "in.jsonl", docs)
    out = run_dedup(str(tmp_path / "in.jsonl"), str(tmp_path / "out"), partitions=2)
    assert sorted(out["id"].to_list()) == ["other", "same"]


def write_shards(root, docs: list[dict], order: list[int]) -> str:
    os.makedirs(root, exist_ok=True)
    for name, k in enumerate(order):
        write_jsonl(os.path.join(root, f"{name}.jsonl"), docs[k::3])
    return str(root)


def small_corpus(planted: str) -> list[dict]:
    frames = pl.read_ndjson(os.path.join(planted, "docs", "part-00000.jsonl.zst"))
    return frames.head(400).to_dicts()


def decisions(out: pl.DataFrame) -> list[tuple]:
    return sorted(zip(out["id"], out["minhash_cluster"], out["minhash_duplicate"], strict=True))


def test_same_output_whatever_the_shard_order(planted, tmp_path):
    docs = small_corpus(planted)
    a = run_dedup(write_shards(tmp_path / "a", docs, [0, 1, 2]), str(tmp_path / "ra"),
                  mode="mark", partitions=3)
    b = run_dedup(write_shards(tmp_path / "b", docs, [2, 0, 1]), str(tmp_path / "rb"),
                  mode="mark", partitions=5)
    assert a["minhash_duplicate"].sum() > 10
    assert decisions(a) == decisions(b)


def test_merge_phase_resumes(planted, tmp_path):
    """The merge task has a completion record like every other: a rerun runs nothing."""
    inputs = write_shards(tmp_path / "in", small_corpus(planted), [0, 1, 2])
    p = Pipeline("t", str(tmp_path / "w"))
    p.sink(p.source(read(inputs, source="s")) >> MinHashDedup(partitions=2), str(tmp_path / "o"))
    first = p.run(progress=False)
    assert os.listdir(tmp_path / "w" / "_global" / "min_hash_dedup" / "merge")
    again = p.run(progress=False)
    assert again.ran == 0 and again.skipped == first.ran and again.outputs == first.outputs


@pytest.mark.ray
def test_local_and_ray_give_the_same_bytes(planted, tmp_path, ray_cluster):
    inputs = write_shards(tmp_path / "in", small_corpus(planted), [0, 1, 2])
    local = run_dedup(inputs, str(tmp_path / "local"), partitions=3)
    ray = run_dedup(inputs, str(tmp_path / "ray"), RayExecutor(), partitions=3)
    distributed = run_dedup(inputs, str(tmp_path / "ray-d"), RayExecutor(), partitions=3,
                            components="distributed")
    assert local.height < 400 and local.equals(ray) and local.equals(distributed)
    names = sorted(os.listdir(tmp_path / "local" / "o"))
    assert names == sorted(os.listdir(tmp_path / "ray" / "o"))
    for name in names:
        assert (tmp_path / "local" / "o" / name).read_bytes() == (
            tmp_path / "ray" / "o" / name).read_bytes() == (
            tmp_path / "ray-d" / "o" / name).read_bytes()


def phases_run(workdir: str) -> list[str]:
    return list(WorkDir(workdir).steps()["min_hash_dedup"]["phases"])


@pytest.mark.parametrize("keep", ["newest", "oldest"])
def test_distributed_components_equal_the_single_merge(planted, tmp_path, keep):
    """Same clusters and keepers (so the same output bytes) on the whole synthetic corpus,
    whatever the number of partitions; the rounds ran instead of the merge."""
    single = run_dedup(planted + "/docs", str(tmp_path / "single"), mode="mark", keep=keep,
                       partitions=4, components="single")
    assert single["minhash_duplicate"].sum() > 200
    for partitions in (1, 4, 7):
        work = str(tmp_path / f"d{partitions}")
        distributed = run_dedup(planted + "/docs", work, mode="mark", keep=keep,
                                partitions=partitions, components="distributed")
        assert distributed.equals(single) if partitions == 4 else \
            decisions(distributed) == decisions(single)
        ran = phases_run(os.path.join(work, "w"))
        assert "merge" not in ran and ran[2] == "small-01" and ran[-3:] == ["label", "keeper",
                                                                              "apply"]


def test_auto_takes_the_rounds_above_merge_max_bytes(planted, tmp_path):
    inputs = write_shards(tmp_path / "in", small_corpus(planted), [0, 1, 2])
    small = run_dedup(inputs, str(tmp_path / "small"), partitions=2)
    large = run_dedup(inputs, str(tmp_path / "large"), partitions=2, merge_max_bytes=0)
    assert "merge" in phases_run(str(tmp_path / "small" / "w"))
    assert "label" in phases_run(str(tmp_path / "large" / "w")) and large.equals(small)
    plan = Pipeline("t", str(tmp_path / "p"))
    plan.sink(plan.source(read(inputs, source="s")) >> MinHashDedup(components="distributed"),
              str(tmp_path / "o"))
    assert "small-01 -> large-01 -> label -> keeper" in plan.describe()


def test_distributed_rounds_resume(planted, tmp_path):
    """Every round task has a completion record: a rerun runs nothing; a run killed after
    some rounds redoes only what is missing."""
    inputs = write_shards(tmp_path / "in", small_corpus(planted), [0, 1, 2])
    p = Pipeline("t", str(tmp_path / "w"))
    p.sink(p.source(read(inputs, source="s")) >> MinHashDedup(
        partitions=2, components="distributed"), str(tmp_path / "o"))
    first = p.run(progress=False)
    again = p.run(progress=False)
    assert again.ran == 0 and again.skipped == first.ran and again.outputs == first.outputs
    wd = WorkDir(str(tmp_path / "w"))
    for phase in ("keeper", "label", "large-02"):
        for index in wd.task_indices("min_hash_dedup", phase):
            os.remove(wd.record_path("min_hash_dedup", phase, index))
    third = p.run(progress=False)
    assert third.outputs == first.outputs and 0 < third.ran < first.ran
    status = format_status(str(tmp_path / "w"))  # every phase that ran, none left pending
    assert "small-01 2/2" in status and "keeper 2/2" in status and " -" not in status
