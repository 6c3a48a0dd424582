"""An exact, label-partitioned dense index: a float32 matrix sorted by label id.

Why not an ANN library: the access decision must restrict the candidate set *before* ranking. With
rows grouped by interned label id, the rows a clearance may read are a handful of contiguous slices;
only those slices are multiplied with the query vector, so an inaccessible chunk is never even
scored. At 100k x 384 an exact scan over a contiguous float32 matrix is a few milliseconds on two
cores, with perfect recall and no index tuning (measurements and the alternatives in
docs/retrieval.md and bench/search.py).

The scan runs with single-threaded BLAS: a query's matrix-vector products are small, and on a busy
two-core machine OpenBLAS's worker threads wait for CPU slices at every call (measured: 49 ms with
two threads, 3.6 ms with one, for 33k of 100k rows). One thread also leaves the other core to
concurrent requests.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager

import numpy as np

try:  # ships with scikit-learn (a sentence-transformers dependency); without it BLAS keeps its default
    from threadpoolctl import ThreadpoolController

    _BLAS = ThreadpoolController()
except ImportError:  # pragma: no cover - depends on the environment
    _BLAS = None


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread for the duration (cheap: ~10 microseconds)."""
    if _BLAS is None:
        yield
        return
    with _BLAS.limit(limits=1, user_api="blas"):
        yield


class LabelPartitionedIndex:
    """Immutable snapshot of every stored vector, partitioned by label id."""

    def __init__(self, chunk_ids: np.ndarray, label_ids: np.ndarray, matrix: np.ndarray, generation: int = 0) -> None:
        order = np.lexsort((chunk_ids, label_ids))
        self.chunk_ids = np.ascontiguousarray(chunk_ids[order], dtype=np.int64)
        self.label_ids = np.ascontiguousarray(label_ids[order], dtype=np.int64)
        self.matrix = np.ascontiguousarray(matrix[order], dtype=np.float32)
        self.generation = generation
        self.dim = int(matrix.shape[1]) if matrix.ndim == 2 else 0
        uniq, starts = np.unique(self.label_ids, return_index=True)
        ends = np.append(starts[1:], len(self.label_ids)) if len(starts) else starts
        self._slices: dict[int, tuple[int, int]] = {
            int(lab): (int(s), int(e)) for lab, s, e in zip(uniq, starts, ends, strict=True)
        }

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int, int, bytes]], dim: int, generation: int = 0) -> LabelPartitionedIndex:
        """Build from ``(chunk_id, label_id, float32 blob)`` rows."""
        ids: list[int] = []
        labs: list[int] = []
        blobs: list[bytes] = []
        for chunk_id, label_id, blob in rows:
            ids.append(chunk_id)
            labs.append(label_id)
            blobs.append(blob)
        matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(ids), dim) if ids else np.zeros((0, dim))
        return cls(np.asarray(ids, dtype=np.int64), np.asarray(labs, dtype=np.int64), matrix, generation)

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def ranges(self, label_ids: Collection[int]) -> list[tuple[int, int]]:
        """The row ranges holding the given labels, adjacent ranges merged."""
        spans = sorted(self._slices[lab] for lab in label_ids if lab in self._slices)
        merged: list[tuple[int, int]] = []
        for start, end in spans:
            if merged and merged[-1][1] == start:
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        return merged

    def search(
        self,
        query: np.ndarray,
        label_ids: Collection[int],
        limit: int,
        allowed_chunk_ids: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """Top ``limit`` ``(chunk_id, cosine)`` among rows whose label id is in ``label_ids``.

        ``allowed_chunk_ids`` (sorted int64) further restricts the candidates (metadata filters).
        """
        if limit <= 0 or not len(self):
            return []
        spans = self.ranges(label_ids)
        if not spans:
            return []
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        if q.shape[0] != self.dim:
            raise ValueError(f"query vector has {q.shape[0]} dimensions, the index {self.dim}")
        with single_threaded_blas():
            if len(spans) == 1:
                start, end = spans[0]
                scores = self.matrix[start:end] @ q
                rows = np.arange(start, end)
            else:
                scores = np.concatenate([self.matrix[s:e] @ q for s, e in spans])
                rows = np.concatenate([np.arange(s, e) for s, e in spans])
        if allowed_chunk_ids is not None:
            keep = np.isin(self.chunk_ids[rows], allowed_chunk_ids, assume_unique=True)
            scores, rows = scores[keep], rows[keep]
        if not len(rows):
            return []
        if len(rows) > limit:
            part = np.argpartition(-scores, limit - 1)[:limit]
        else:
            part = np.arange(len(rows))
        # stable tie-break on chunk id so equal inputs always give equal outputs
        order = np.lexsort((self.chunk_ids[rows[part]], -scores[part]))
        best = part[order]
        return [(int(self.chunk_ids[rows[i]]), float(scores[i])) for i in best]
