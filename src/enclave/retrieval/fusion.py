"""Reciprocal rank fusion (Cormack, Clarke & Büttcher 2009): robust, score-scale free."""

from __future__ import annotations

from collections.abc import Sequence

from enclave.store.base import RankedChunk

RRF_K = 60


def rrf(rankings: Sequence[Sequence[RankedChunk]], *, k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuse ranked lists into ``(chunk_id, score)`` best first; ties broken by chunk id (deterministic)."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for item in ranking:
            scores[item.chunk_id] = scores.get(item.chunk_id, 0.0) + 1.0 / (k + item.rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
