"""``POST /v1/search``: label-filtered hybrid search, audited, with the results' joint banner.

Only what the effective clearance may read is ranked and returned. The response carries one
rank-based score per hit (the fused reciprocal-rank score; in ``bm25`` mode ``1 / (60 + rank)``, as in
the fusion) rather than the retrievers' raw scores, which are internal and retriever-specific. (BM25
itself is computed from readable chunks only, so no score or order depends on inaccessible ones.)
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header

from enclave.identity import Principal
from enclave.labels import clearance_to_dict, join, render_banner
from enclave.retrieval import RRF_K, SearchFilters, effective_clearance, search
from enclave.server.auth import require
from enclave.server.errors import error_responses
from enclave.server.routes._common import CEILING_HEADER, parse_ceiling, pick_ceiling
from enclave.server.schemas import SearchHitOut, SearchRequest, SearchResponse
from enclave.server.state import Services, services

router = APIRouter(tags=["search"])


@router.post("/v1/search", response_model=SearchResponse, responses=error_responses(400, 401, 403, 413, 500, 503))
def search_documents(
    body: SearchRequest,
    principal: Principal = Depends(require("read")),
    svc: Services = Depends(services),
    x_enclave_ceiling: str | None = Header(default=None, alias=CEILING_HEADER, max_length=500),
) -> SearchResponse:
    """The ``k`` best passages for the query among those the caller (at the ceiling) may read."""
    ceiling_text = pick_ceiling(body.ceiling, x_enclave_ceiling)
    eff = effective_clearance(principal.clearance, parse_ceiling(ceiling_text))
    f = body.filters
    filters = SearchFilters(
        source=f.source if f else None,
        date_from=f.since if f else None,
        date_to=f.until if f else None,
        doc_types=frozenset(t.lower() for t in (f.doc_types if f else ())),
    )
    embedder = None if body.mode == "bm25" else svc.embedder
    hits = search(svc.store, embedder, eff, body.query, k=body.k, filters=filters, mode=body.mode)
    audit_id = svc.audit.append(
        "search",
        actor=principal.name,
        clearance=clearance_to_dict(eff),
        details={
            **svc.audit.question_field(body.query),
            "mode": body.mode,
            "k": body.k,
            "ceiling": ceiling_text,
            "via": "http",
            "results": [{"chunk_id": h.chunk_id, "label": h.portion} for h in hits],
        },
    )
    data = []
    for hit in hits:
        item = hit.to_dict()
        item.pop("bm25_score", None)
        item.pop("dense_score", None)
        if body.mode == "bm25":
            item["score"] = 1.0 / (RRF_K + (hit.bm25_rank or len(data) + 1))
        data.append(SearchHitOut(**item))
    return SearchResponse(
        banner=render_banner(join([h.label for h in hits])) if hits else None,
        effective_clearance=clearance_to_dict(eff),
        data=data,
        audit_id=audit_id,
    )
