"""Auditor endpoints over the Merkle audit log: entries, the latest signed head, inclusion proofs.

Heads and proofs are the same JSON as ``enclave audit head`` / ``enclave audit proof`` and check
with ``enclave audit check-proof`` (see docs/audit.md), so an auditor can verify offline what the
server handed them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from enclave.audit.errors import AuditError, AuditVerificationError
from enclave.identity import Principal
from enclave.labels import can_read, parse_label
from enclave.server.auth import require
from enclave.server.errors import ApiError, error_responses, not_found
from enclave.server.schemas import AuditEntries
from enclave.server.state import Services, services

router = APIRouter(tags=["audit"])
_require_audit = require("audit")


def auditor(principal: Principal = Depends(_require_audit), svc: Services = Depends(services)) -> Principal:
    """An auditor cleared to the site's system-high label.

    Entries hold every user's questions and the labels of what they saw: material up to system-high.
    An auditor cleared below it would read it, so the role alone is not enough (fail closed).
    """
    if not can_read(principal.clearance, parse_label(svc.settings.labels.system_high)):
        raise ApiError(
            403,
            f"reading the audit trail needs a clearance at the system-high level ({svc.settings.labels.system_high})",
            type="permission_error",
            code="clearance_below_system_high",
        )
    return principal


def _bad_filter(exc: AuditError) -> ApiError:
    return ApiError(400, exc.message, code="invalid_filter")


@router.get("/v1/audit/entries", response_model=AuditEntries, responses=error_responses(400, 401, 403, 503))
def audit_entries(
    user: Annotated[str | None, Query(max_length=200, description="only entries by this actor")] = None,
    action: Annotated[str | None, Query(max_length=200, description="exact action, or a prefix ending in *")] = None,
    since: Annotated[str | None, Query(max_length=64, description="ISO 8601 time or date (inclusive)")] = None,
    until: Annotated[str | None, Query(max_length=64, description="ISO 8601 time or date (inclusive)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**12)] = 0,
    _: Principal = Depends(auditor),
    svc: Services = Depends(services),
) -> AuditEntries:
    """Audit entries in sequence order, filtered; ``total`` counts every match."""
    try:
        total = svc.audit.count(user=user, action=action, since=since, until=until)
        data = svc.audit.entries(user=user, action=action, since=since, until=until, limit=limit, offset=offset)
    except AuditVerificationError:
        raise
    except AuditError as exc:
        raise _bad_filter(exc) from None
    except ValueError as exc:
        raise ApiError(400, f"invalid filter: {exc}", code="invalid_filter") from None
    return AuditEntries(total=total, data=data)


@router.get("/v1/audit/head", response_model=dict[str, Any], responses=error_responses(401, 403, 404, 503))
def audit_head(_: Principal = Depends(auditor), svc: Services = Depends(services)) -> dict[str, Any]:
    """The latest signed tree head (size, root hash, time, signature, key id) for external witnessing."""
    head = svc.audit.latest_head()
    if head is None:
        raise not_found("signed head")
    return head


@router.get(
    "/v1/audit/proof/{seq}", response_model=dict[str, Any], responses=error_responses(400, 401, 403, 404, 409, 503)
)
def audit_proof(
    seq: Annotated[int, Path(ge=0, le=2**62)],
    tree_size: Annotated[int | None, Query(ge=1, le=2**62, description="prove against the head of this size")] = None,
    _: Principal = Depends(auditor),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    """Inclusion proof of entry ``seq`` in the latest signed head (or the head of ``tree_size``)."""
    if seq >= svc.audit.size():
        raise not_found("audit entry")
    try:
        return svc.audit.inclusion_proof(seq, tree_size)
    except AuditVerificationError:
        raise
    except AuditError as exc:
        if tree_size is not None and tree_size <= seq:
            raise ApiError(400, f"entry {seq} is not in a tree of size {tree_size}", code="invalid_tree_size") from None
        raise ApiError(409, exc.message, code="not_covered") from None
