"""Bearer-token authentication and role checks, each outcome written to the audit trail.

Tokens come from ``enclave users add`` / ``rotate-token`` and are stored only as hashes. Every
success and every failure (missing, unknown, disabled, not allowed) is audited with the method, path
and client address — never the token or any part of it. If the audit append fails, the request
fails (503): an unaudited request is not served.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from enclave.identity import Principal, authenticate
from enclave.labels import clearance_to_dict
from enclave.server.errors import ApiError
from enclave.server.state import Services, services

bearer_scheme = HTTPBearer(
    auto_error=False,
    bearerFormat="enc_…",
    description="An Enclave API token (`enclave users add NAME …` prints it once).",
)

_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="enclave"'}


def _where(request: Request) -> dict[str, Any]:
    return {
        "method": request.method,
        "path": request.url.path,
        "client": request.client.host if request.client else None,
    }


def current_principal(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),
    svc: Services = Depends(services),
) -> Principal:
    """The authenticated principal (sync: FastAPI runs it in the threadpool, off the event loop)."""
    where = _where(request)
    if credentials is None or not credentials.credentials:
        svc.audit.append("auth.failure", actor=None, details={**where, "reason": "no bearer token"})
        raise ApiError(
            401, "missing bearer token: send Authorization: Bearer <API token>", code="missing_api_key",
            headers=_UNAUTHORIZED_HEADERS,
        )  # fmt: skip
    principal = authenticate(svc.store, credentials.credentials)
    if principal is None:
        svc.audit.append(
            "auth.failure", actor=None, details={**where, "reason": "unknown, malformed or disabled token"}
        )
        raise ApiError(401, "invalid API token", code="invalid_api_key", headers=_UNAUTHORIZED_HEADERS)
    svc.audit.append(
        "auth.success", actor=principal.name, clearance=clearance_to_dict(principal.clearance),
        details={**where, "roles": sorted(principal.roles)},
    )  # fmt: skip
    request.state.principal = principal
    return principal


def require(permission: str) -> Any:
    """Dependency factory: the principal, provided one of its roles grants ``permission`` (else 403)."""

    def dependency(
        request: Request, principal: Principal = Depends(current_principal), svc: Services = Depends(services)
    ) -> Principal:
        if not principal.can(permission):
            svc.audit.append(
                "auth.forbidden", actor=principal.name,
                details={**_where(request), "permission": permission, "roles": sorted(principal.roles)},
            )  # fmt: skip
            raise ApiError(
                403,
                f"user {principal.name!r} (roles: {', '.join(sorted(principal.roles)) or 'none'}) may not {permission}",
                type="permission_error",
                code="insufficient_permissions",
            )
        return principal

    dependency.__name__ = f"require_{permission}"
    return dependency
