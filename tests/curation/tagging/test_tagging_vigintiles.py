"""Per-topic quality vigintiles against numpy's exact weighted quantiles, on the stage's own
phases run in memory (scan -> reduce -> apply) and on a pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from curation.core.stage import BatchContext
from curation.core.stats import StageStats
from curation.tagging import Vigintiles, cut_points, vigintile_grid, write_grid_report


def numpy_cuts(q, w):
    return np.quantile(q, np.arange(1, 20) / 20, weights=w, method="inverted_cdf")


def run_phases(stage: Vigintiles, shards: list[pa.Table], batch_rows: int = 97) -> list[pa.Table]:
    """The stage's three phases in memory, as the runner wires them."""
    pieces: dict[int, list[pa.Table]] = {}
    for s, table in enumerate(shards):
        batches = (pa.Table.from_batches([b]) for b in table.to_batches(batch_rows))
        for part, piece in stage.scan(s, batches):
            pieces.setdefault(part, []).append(piece)
    decisions: dict[int, list[pa.Table]] = {}
    for part in sorted(pieces):
        for s, table in stage.reduce(part, iter(pieces[part])):
            decisions.setdefault(s, []).append(table)
    out = []
    for s, table in enumerate(shards):
        dec = pa.concat_tables(decisions[s]) if s in decisions else None
        ctx = BatchContext(0, s, StageStats())
        out.append(stage.apply(table, 0, dec, ctx))
    return out


def corpus(rng: np.random.Generator, n: int, topics: list[str]) -> pa.Table:
    return pa.table({
        "topic": pa.array(rng.choice(topics, n), pa.string()),
        "quality": pa.array(rng.random(n).astype(np.float32)),
        "n_tokens": pa.array(rng.integers(1, 2000, n), pa.int64()),
    })


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cut_points_equal_numpy_weighted_quantiles(seed):
    rng = np.random.default_rng(seed)
    q = rng.random(5000)
    w = rng.integers(0, 1000, 5000)
    np.testing.assert_array_equal(cut_points(q, w), numpy_cuts(q, w))
    ones = np.ones_like(w)
    np.testing.assert_array_equal(cut_points(q, ones), numpy_cuts(q, ones))


def test_stage_matches_numpy_per_topic_and_buckets_hold_five_percent():
    rng = np.random.default_rng(7)
    topics = ["health", "games", "politics", "not_a_taxonomy_topic"]
    shards = [corpus(rng, 4000, topics) for _ in range(3)]
    out = pa.concat_tables(run_phases(Vigintiles(partitions=3), shards))
    topic = out.column("topic").to_numpy(zero_copy_only=False)
    q = out.column("quality").to_numpy().astype(np.float64)
    w = out.column("n_tokens").to_numpy()
    v = out.column("vigintile").to_numpy()
    assert out.column("vigintile").type == pa.int8() and out.column("vigintile").null_count == 0
    for t in topics:
        rows = topic == t
        cuts = numpy_cuts(q[rows], w[rows])
        expected = np.searchsorted(cuts, q[rows], side="left")
        np.testing.assert_array_equal(v[rows], expected)
        share = np.bincount(v[rows], weights=w[rows], minlength=20) / w[rows].sum()
        # smooth data: each bucket within one document's weight of 5 %
        assert np.abs(share - 0.05).max() <= w[rows].max() / w[rows].sum() + 1e-12
        assert v[rows].min() == 0 and v[rows].max() == 19


def test_docs_weight_and_word_counts():
    rng = np.random.default_rng(3)
    n = 2000
    words = rng.integers(0, 40, n)
    table = pa.table({
        "text": pa.array(["  ".join(["w"] * k) + ("\n" if k % 2 else "") for k in words]),
        "topic": pa.array(["health"] * n),
        "quality": pa.array(rng.random(n)),
    })
    q = table.column("quality").to_numpy()
    by_words = pa.concat_tables(run_phases(Vigintiles(), [table])).column("vigintile")
    expected = np.searchsorted(numpy_cuts(q, words), q, side="left")
    np.testing.assert_array_equal(by_words.to_numpy(), expected)
    by_docs = pa.concat_tables(run_phases(Vigintiles(weight="docs"), [table])).column("vigintile")
    assert np.bincount(by_docs.to_numpy(), minlength=20).tolist() == [100] * 20


def test_ties_nulls_and_empty_topics():
    n = 40
    table = pa.table({
        "topic": pa.array(["games"] * n + ["health"] * 5 + [None] * 3 + ["empty"] * 4),
        "quality": pa.array([0.5] * 20 + [0.9] * 20 + [0.3] * 5 + [0.1, 0.2, None] + [0.4] * 4,
                            pa.float32()),
        "text": pa.array(["one two"] * (n + 8) + [""] * 4),
    })
    table = table.set_column(1, "quality", pa.concat_arrays(
        [table.column("quality").combine_chunks().slice(0, n + 8),
         pa.array([0.1, float("nan"), 0.4, 0.2], pa.float32())]))
    out = pa.concat_tables(run_phases(Vigintiles(), [table, table.slice(0, 0)]))
    v = out.column("vigintile").to_pylist()
    # ties never split: the 0.5 block is half the weight, so cut points 1..10 are 0.5 and
    # 11..19 are 0.9; a document's bucket is the number of cut points strictly below it
    assert set(v[:20]) == {0} and set(v[20:40]) == {10}
    assert set(v[40:45]) == {0}  # a topic with one distinct score lies in vigintile 0
    assert v[45:48] == [0, 10, None]  # null topic is a group; null quality -> null vigintile
    # "empty": every text is empty (weight 0), so documents weigh 1 each: cuts 1..6 = 0.1,
    # 7..13 = 0.2, 14..19 = 0.4; the NaN quality gets a null vigintile
    assert v[48:52] == [0, None, 13, 6]
    grid = vigintile_grid([out]).to_pylist()
    unbucketed = [(r["topic"], r["docs"]) for r in grid if r["vigintile"] == -1]
    assert sorted(unbucketed, key=str) == [("empty", 1), (None, 1)]
    assert sum(r["docs"] for r in grid) == out.num_rows


def test_empty_input_and_no_decisions():
    stage = Vigintiles()
    empty = pa.table({"topic": pa.array([], pa.string()), "quality": pa.array([], pa.float32()),
                      "text": pa.array([], pa.string())})
    assert list(stage.scan(0, iter([]))) == []
    assert list(stage.reduce(0, iter([]))) == []
    assert stage.apply(empty, 0, None, BatchContext(0, 0, StageStats())).num_rows == 0
    with pytest.raises(ValueError, match="total weight is 0"):
        cut_points(np.array([0.1, 0.2]), np.array([0, 0]))


def test_grid_report(tmp_path):
    rng = np.random.default_rng(5)
    out = pa.concat_tables(run_phases(Vigintiles(), [corpus(rng, 3000, ["health", "games"])]))
    grid = vigintile_grid([out])
    assert grid.num_rows == 40
    assert sum(grid.column("docs").to_pylist()) == 3000
    assert sum(grid.column("tokens").to_pylist()) == pc.sum(out.column("n_tokens")).as_py()
    paths = write_grid_report(grid, str(tmp_path))
    assert Path(paths["png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = Path(paths["md"]).read_text().splitlines()
    assert md[-2].startswith("| games | ") and len(md[-1].split("|")) == 3 + 20 + 2
    shares = [float(x) for x in md[-1].split("|")[4:-1]]
    assert all(abs(s - 5.0) < 1.0 for s in shares)
