"""Label-filtered hybrid retrieval: BM25 + dense, fused by reciprocal rank fusion.

The access decision happens first: the effective clearance (the user's clearance met with an
optional session ceiling) is turned into the set of interned label ids it may read, and both
retrievers rank only chunks carrying those ids. Nothing above the reader is scored, returned or
counted. Every hit is checked again before it leaves (a failure there is a bug and fails closed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from enclave.embed import Embedder
from enclave.errors import EnclaveError
from enclave.labels import Clearance, Label, accessible_label_ids, can_read, meet, parse_label
from enclave.retrieval.fusion import rrf
from enclave.retrieval.hits import SearchHit
from enclave.store.base import RankedChunk, SearchFilters, Store

Mode = Literal["hybrid", "bm25", "dense"]
MAX_QUERY_CHARS = 4000


class RetrievalError(EnclaveError):
    """A search that cannot run (empty query, missing embedder) or an internal access-check failure."""


def effective_clearance(clearance: Clearance, ceiling: Label | str | None = None) -> Clearance:
    """The clearance a request runs at: ``meet(clearance, ceiling)`` when a session ceiling is set."""
    if ceiling is None:
        return clearance
    label = parse_label(ceiling) if isinstance(ceiling, str) else ceiling
    return meet(clearance, label)


def readable_label_ids(store: Store, clearance: Clearance) -> frozenset[int]:
    return accessible_label_ids(clearance, store.labels())


def search(
    store: Store,
    embedder: Embedder | None,
    clearance: Clearance,
    query: str,
    *,
    k: int = 10,
    filters: SearchFilters | None = None,
    ceiling: Label | str | None = None,
    mode: Mode = "hybrid",
    depth: int | None = None,
) -> list[SearchHit]:
    """The ``k`` best chunks for ``query`` among those the effective clearance may read.

    ``depth`` is how many candidates each retriever contributes to the fusion (default ``max(50, 4k)``).
    """
    text = (query or "").strip()
    if not text:
        raise RetrievalError("the search query is empty", hint="give some words to search for")
    if len(text) > MAX_QUERY_CHARS:
        raise RetrievalError(f"the search query is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}")
    if k < 1:
        raise RetrievalError(f"k must be at least 1 (got {k})")
    if mode not in ("hybrid", "bm25", "dense"):
        raise RetrievalError(f"unknown search mode {mode!r}", hint="use hybrid, bm25 or dense")
    eff = effective_clearance(clearance, ceiling)
    label_ids = readable_label_ids(store, eff)
    if not label_ids:
        return []
    depth = depth or max(50, 4 * k)
    bm25: list[RankedChunk] = []
    dense: list[RankedChunk] = []
    if mode in ("hybrid", "bm25"):
        bm25 = store.bm25_search(text, label_ids, limit=k if mode == "bm25" else depth, filters=filters)
    if mode in ("hybrid", "dense"):
        if embedder is None:
            raise RetrievalError(
                "dense retrieval needs the embedding model", hint="load it with load_embedder(settings)"
            )
        vector = embedder.embed([text])[0]
        dense = store.dense_search(vector, label_ids, limit=k if mode == "dense" else depth, filters=filters)
    if mode == "bm25":
        fused = [(r.chunk_id, r.score) for r in bm25]
    elif mode == "dense":
        fused = [(r.chunk_id, r.score) for r in dense]
    else:
        fused = rrf([bm25, dense])[:k]
    return _hits(store, eff, fused, bm25, dense, label_ids)


def bm25_only(store: Store, clearance: Clearance, query: str, **kwargs: object) -> list[SearchHit]:
    """BM25 alone (for evaluation)."""
    return search(store, None, clearance, query, mode="bm25", **kwargs)  # type: ignore[arg-type]


def dense_only(store: Store, embedder: Embedder, clearance: Clearance, query: str, **kwargs: object) -> list[SearchHit]:
    """Dense retrieval alone (for evaluation)."""
    return search(store, embedder, clearance, query, mode="dense", **kwargs)  # type: ignore[arg-type]


def _hits(
    store: Store,
    eff: Clearance,
    fused: Sequence[tuple[int, float]],
    bm25: Sequence[RankedChunk],
    dense: Sequence[RankedChunk],
    label_ids: frozenset[int],
) -> list[SearchHit]:
    chunks = store.get_chunks([cid for cid, _ in fused])
    docs = store.get_documents({c.document_id for c in chunks.values()})
    b = {r.chunk_id: r for r in bm25}
    d = {r.chunk_id: r for r in dense}
    hits: list[SearchHit] = []
    for chunk_id, score in fused:
        chunk = chunks.get(chunk_id)
        if chunk is None:  # deleted between ranking and fetching
            continue
        if chunk.label_id not in label_ids or not can_read(eff, chunk.label):
            raise RetrievalError(
                f"internal access check failed for chunk {chunk_id}; no results returned",
                hint="this is a bug in the store's label filter; report it with the store file",
            )
        doc = docs.get(chunk.document_id)
        if doc is None:
            continue
        doc_visible = can_read(eff, doc.label)
        title_visible = doc_visible or can_read(eff, doc.title_label or doc.label)
        hits.append(
            SearchHit(
                chunk_id=chunk_id,
                document_id=doc.id,
                title=doc.title if title_visible else f"[document {doc.id}]",
                source=doc.source if doc_visible else None,
                doc_type=doc.doc_type,
                text=chunk.text,
                start=chunk.start,
                end=chunk.end,
                page=chunk.page,
                heading=chunk.heading,
                label=chunk.label,
                score=score,
                bm25_rank=b[chunk_id].rank if chunk_id in b else None,
                dense_rank=d[chunk_id].rank if chunk_id in d else None,
                bm25_score=b[chunk_id].score if chunk_id in b else None,
                dense_score=d[chunk_id].score if chunk_id in d else None,
            )
        )
    return hits
