"""Connected components: union-find and the star rounds against breadth-first search."""

from __future__ import annotations

from collections import deque

import numpy as np
import polars as pl
import pytest

from curation.dedup.components import (
    A,
    B,
    both_ways,
    large_star,
    small_star,
    smaller_first,
    star_components,
    union_find,
)


def bfs_components(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The reference: each node labelled with the smallest node of its component."""
    adjacency = [[] for _ in range(n)]
    for a, b in zip(u.tolist(), v.tolist(), strict=True):
        adjacency[a].append(b)
        adjacency[b].append(a)
    label = [-1] * n
    for start in range(n):  # the smallest node of a component is reached first
        if label[start] >= 0:
            continue
        label[start], queue = start, deque([start])
        while queue:
            for nb in adjacency[queue.popleft()]:
                if label[nb] < 0:
                    label[nb] = start
                    queue.append(nb)
    return np.array(label)


def random_graphs():
    rng = np.random.default_rng(3)
    for n, m in ((1, 0), (10, 0), (2, 1), (50, 30), (300, 250), (2000, 1900), (500, 3000)):
        yield n, rng.integers(0, n, m), rng.integers(0, n, m)


def test_union_find_matches_bfs():
    for n, u, v in random_graphs():
        assert np.array_equal(union_find(n, u, v), bfs_components(n, u, v))
    order = np.random.default_rng(0).permutation(999)  # the path 0-1-...-999, edges shuffled
    assert (union_find(1000, order + 1, order) == 0).all()


def touched(u: np.ndarray, v: np.ndarray) -> set[int]:
    loop = u == v
    return set(np.concatenate([u[~loop], v[~loop]]).tolist())


@pytest.mark.parametrize("partitions", [1, 3, 16])
def test_star_rounds_match_bfs_on_random_graphs(partitions):
    for n, u, v in random_graphs():
        labels, _ = star_components(u, v, partitions)
        expected = bfs_components(n, u, v)
        assert set(labels) == touched(u, v)  # every node with an edge, and no other
        assert all(labels[node] == expected[node] for node in labels)


def test_a_chain_takes_logarithmically_many_rounds():
    """A path of 4,096 nodes in random order: min-label propagation would need up to 4,095
    rounds; the star rounds need about log2(n)."""
    perm = np.random.default_rng(1).permutation(4096)
    labels, rounds = star_components(perm[:-1], perm[1:], partitions=8)
    assert set(labels.values()) == {0} and len(labels) == 4096
    assert rounds <= 2 * 12
    ordered, rounds = star_components(np.arange(1, 4096), np.arange(4095), partitions=8)
    assert set(ordered.values()) == {0} and rounds <= 2 * 12


def frame(edges: list[tuple[int, int]]) -> pl.DataFrame:
    return pl.DataFrame(edges, schema={A: pl.Int64, B: pl.Int64}, orient="row")


def edge_set(df: pl.DataFrame) -> set[tuple[int, int]]:
    return set(zip(df[A].to_list(), df[B].to_list(), strict=True))


def test_small_star_links_smaller_neighbours_to_their_minimum():
    out, changes = small_star(frame([(9, 4), (9, 2), (9, 7), (5, 3)]))
    assert edge_set(out) == {(9, 2), (4, 2), (7, 2), (5, 3)} and changes == 2


def test_large_star_moves_larger_neighbours_to_the_minimum():
    # 5's neighbours: 3 (smaller) and 8, 9 (larger) -> 8 and 9 move to 3
    out, changes = large_star(both_ways(frame([(5, 3), (8, 5), (9, 5)])))
    assert edge_set(out) == {(5, 3), (8, 3), (9, 3)} and changes == 2


def test_a_converged_star_is_a_fixed_point():
    star = frame([(4, 1), (7, 1), (9, 1)])
    small, small_changes = small_star(star)
    large, large_changes = large_star(both_ways(small))
    assert small_changes == large_changes == 0 and edge_set(large) == edge_set(star)


def test_smaller_first_orients_dedups_and_drops_self_loops():
    df = smaller_first(np.array([1, 5, 5, 2]), np.array([5, 1, 5, 3]))
    assert edge_set(df) == {(5, 1), (3, 2)}
