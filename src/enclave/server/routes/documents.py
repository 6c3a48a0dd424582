"""Documents: upload and ingest (ingester role), and label-checked listing and reading.

``GET /v1/documents/{id}`` answers 404 with the same body whether the document does not exist or
the caller (at their ceiling) may not read it. Uploads are stored under the source
``upload:USER/FILENAME``, so an upload can replace only the same user's earlier upload of that name,
and every document in an upload must be readable by the uploader (nobody can create, and so probe,
material above their own clearance).
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, Query, UploadFile
from fastapi.responses import JSONResponse

from enclave.identity import Principal
from enclave.labels import accessible_label_ids, can_read, label_to_dict, render_banner, render_portion
from enclave.retrieval import effective_clearance
from enclave.server.auth import require
from enclave.server.errors import ApiError, error_responses, not_found
from enclave.server.routes._common import CEILING_HEADER, parse_ceiling, pick_ceiling, safe_name, upload_dir
from enclave.server.schemas import ChunkOut, DocumentList, DocumentOut, IngestResponse
from enclave.server.state import Services, services

router = APIRouter(tags=["documents"])
_COPY_CHUNK = 1 << 20


def _document(doc: Any, chunks: list[Any] | None) -> DocumentOut:
    return DocumentOut(
        id=doc.id,
        title=doc.title,
        source=doc.source,
        doc_type=doc.doc_type,
        banner=render_banner(doc.label),
        label=label_to_dict(doc.label),
        label_source=doc.label_source,
        content_hash=doc.content_hash,
        date=doc.doc_date,
        metadata=doc.metadata,
        ingested_by=doc.ingested_by,
        ingested_at=doc.ingested_at,
        chunks=None
        if chunks is None
        else [
            ChunkOut(
                id=c.id, ordinal=c.ordinal, portion=render_portion(c.label), start=c.start, end=c.end, page=c.page,
                heading=c.heading, flags=sorted(c.flags), text=c.text,
            )
            for c in chunks
        ],
    )  # fmt: skip


@router.post(
    "/v1/documents",
    response_model=IngestResponse,
    status_code=201,
    responses={200: {"model": IngestResponse, "description": "Already stored (duplicate)"},
               **error_responses(400, 401, 403, 413, 422, 500, 503)},
)  # fmt: skip
def upload_document(
    file: Annotated[UploadFile, File(description="The document (txt, md, html, pdf, docx, eml, json, zip …)")],
    label: Annotated[
        str | None,
        Form(
            max_length=500,
            description="Label for a document that carries no marking of its own, e.g. 'NATO RESTRICTED'",
        ),
    ] = None,
    principal: Principal = Depends(require("ingest")),
    svc: Services = Depends(services),
) -> Any:
    """Upload and ingest one file: extract, mark, chunk, embed, store and audit (one transaction)."""
    from enclave.ingest.extract import extract_path
    from enclave.ingest.model import RefusedDocument
    from enclave.ingest.pipeline import Ingestor

    explicit = parse_ceiling(label.strip() if label and label.strip() else None)
    if explicit is not None and not can_read(principal.clearance, explicit):
        raise ApiError(403, "the label given is above your clearance", type="permission_error",
                       code="label_above_clearance", param="label")  # fmt: skip
    name = safe_name(file.filename)
    prefix = f"upload:{principal.name}/{name}"
    limit = svc.settings.ingest.max_file_bytes
    ingestor = Ingestor(svc.store, svc.embedder, ingested_by=principal.name, audit=svc.audit)
    with tempfile.TemporaryDirectory(prefix="enclave-upload-", dir=upload_dir(svc.settings.home)) as tmp:
        path = Path(tmp) / name
        size = 0
        with path.open("wb") as out:
            while block := file.file.read(_COPY_CHUNK):
                size += len(block)
                if size > limit:
                    raise ApiError(413, f"the file is over the {limit}-byte ingest limit", code="request_too_large")
                out.write(block)
        for item in extract_path(path, explicit_label=explicit, settings=svc.settings):
            source = prefix + item.source[len(str(path)) :] if item.source.startswith(str(path)) else prefix
            if isinstance(item, RefusedDocument):
                ingestor.refuse(source, item.reason.replace(str(path), name))
            elif not can_read(principal.clearance, item.label):
                ingestor.refuse(source, f"the document is marked {render_banner(item.label)}, above your clearance")
            else:
                ingestor.add(replace(item, source=source))
    summary = ingestor.summary
    counts = summary.counts()
    body = IngestResponse(counts=counts, items=[i.to_dict() for i in summary.items])  # type: ignore[misc]
    if counts["ingested"] or counts["replaced"]:
        return JSONResponse(body.model_dump(), status_code=201)
    if counts["duplicates"]:
        return JSONResponse(body.model_dump(), status_code=200)
    reasons = "; ".join(f"{i.source}: {i.reason}" for i in summary.refused) or "nothing to ingest"
    raise ApiError(422, f"nothing was ingested: {reasons}", code="ingest_refused", param="file")


@router.get("/v1/documents", response_model=DocumentList, responses=error_responses(400, 401, 403, 503))
def list_documents(
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    principal: Principal = Depends(require("read")),
    svc: Services = Depends(services),
    x_enclave_ceiling: str | None = Header(default=None, alias=CEILING_HEADER, max_length=500),
) -> DocumentList:
    """Documents the caller (at the ceiling) may read, without their text."""
    eff = effective_clearance(principal.clearance, parse_ceiling(pick_ceiling(None, x_enclave_ceiling)))
    ids = accessible_label_ids(eff, svc.store.labels())
    docs = svc.store.list_documents(ids, limit=limit, offset=offset) if ids else []
    return DocumentList(data=[_document(d, None) for d in docs if can_read(eff, d.label)])


@router.get(
    "/v1/documents/{document_id}", response_model=DocumentOut, responses=error_responses(400, 401, 403, 404, 503)
)
def get_document(
    document_id: int,
    principal: Principal = Depends(require("read")),
    svc: Services = Depends(services),
    x_enclave_ceiling: str | None = Header(default=None, alias=CEILING_HEADER, max_length=500),
) -> DocumentOut:
    """One document with the chunks the caller may read; 404 when missing *or* not readable."""
    eff = effective_clearance(principal.clearance, parse_ceiling(pick_ceiling(None, x_enclave_ceiling)))
    doc = svc.store.get_document(document_id) if 0 < document_id < 2**63 else None
    if doc is None or not can_read(eff, doc.label):
        raise not_found("document")
    chunks = svc.store.document_chunks(doc.id, accessible_label_ids(eff, svc.store.labels()))
    return _document(doc, chunks)
