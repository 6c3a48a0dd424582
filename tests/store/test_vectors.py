"""The label-partitioned dense index is exact: it equals a brute-force scan over the readable rows."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from enclave.store.vectors import LabelPartitionedIndex


def _brute(matrix, ids, labels, q, readable, limit, allowed=None):
    keep = np.isin(labels, list(readable))
    if allowed is not None:
        keep &= np.isin(ids, allowed)
    rows = np.flatnonzero(keep)
    scores = matrix[rows] @ q
    order = sorted(range(len(rows)), key=lambda i: (-scores[i], ids[rows[i]]))[:limit]
    return [int(ids[rows[i]]) for i in order]


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 300),
    n_labels=st.integers(1, 8),
    readable=st.sets(st.integers(0, 9), max_size=10),
    limit=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
    use_allowed=st.booleans(),
)
def test_search_equals_brute_force(n, n_labels, readable, limit, seed, use_allowed):
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(n, 16)).astype(np.float32)
    ids = rng.permutation(np.arange(1, n + 1) * 7).astype(np.int64)
    labels = rng.integers(0, n_labels, size=n).astype(np.int64)
    q = rng.normal(size=16).astype(np.float32)
    allowed = np.sort(rng.choice(ids, size=n // 2, replace=False)) if use_allowed and n else None
    index = LabelPartitionedIndex(ids, labels, matrix)
    got = [cid for cid, _ in index.search(q, readable, limit, allowed)]
    assert got == _brute(matrix, ids, labels, q, readable, limit, allowed)
    readable_ids = set(ids[np.isin(labels, list(readable))].tolist())
    assert set(got) <= readable_ids


def test_ranges_merge_adjacent_labels():
    labels = np.array([1, 1, 2, 3, 3, 5], dtype=np.int64)
    index = LabelPartitionedIndex(np.arange(6, dtype=np.int64), labels, np.eye(6, dtype=np.float32))
    assert index.ranges({1, 2, 3}) == [(0, 5)]
    assert index.ranges({1, 5}) == [(0, 2), (5, 6)]
    assert index.ranges({4, 9}) == []
    assert index.search(np.ones(6, np.float32), {4}, 5) == []


def test_from_rows_round_trips_blobs():
    vecs = np.random.default_rng(1).normal(size=(5, 8)).astype(np.float32)
    rows = [(i + 10, i % 2, vecs[i].tobytes()) for i in range(5)]
    index = LabelPartitionedIndex.from_rows(rows, 8, generation=4)
    assert index.generation == 4 and len(index) == 5
    best = index.search(vecs[3], {0, 1}, 1)
    assert best[0][0] == 13
