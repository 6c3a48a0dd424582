"""Label-filtered hybrid retrieval (BM25 + dense, reciprocal rank fusion)."""

from enclave.retrieval.fusion import RRF_K, rrf
from enclave.retrieval.hits import SearchHit
from enclave.retrieval.search import (
    RetrievalError,
    bm25_only,
    dense_only,
    effective_clearance,
    readable_label_ids,
    search,
)
from enclave.store.base import SearchFilters

__all__ = [
    "RRF_K",
    "RetrievalError",
    "SearchFilters",
    "SearchHit",
    "bm25_only",
    "dense_only",
    "effective_clearance",
    "readable_label_ids",
    "rrf",
    "search",
]
