"""Errors in the OpenAI error shape, so existing clients raise their usual exceptions.

Every error body is ``{"error": {"message", "type", "code", "param"}}``. Messages are built only from
the request itself (never from stored material): a missing document and one the caller may not
read produce byte-identical responses, and internal failures are reported generically (details go
to the server log, not to the client).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from enclave.errors import EnclaveError

log = logging.getLogger("enclave.server")


class ErrorBody(BaseModel):
    message: str
    type: str
    code: str | None = None
    param: str | None = None


class ErrorResponse(BaseModel):
    """The OpenAI error shape."""

    error: ErrorBody


class ApiError(Exception):
    """An HTTP error to send as-is (status, message, OpenAI ``type`` and ``code``)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}


def error_response(
    status: int,
    message: str,
    type_: str,
    code: str | None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "code": code, "param": param}}
    return JSONResponse(body, status_code=status, headers=headers)


def busy_error(exc: Any) -> ApiError:
    """503 with ``Retry-After`` for an ``EngineBusy`` (the engine queue is full)."""
    return ApiError(
        503,
        f"{exc}; retry after {exc.retry_after} s",
        type="server_error",
        code="engine_overloaded",
        headers={"Retry-After": str(exc.retry_after)},
    )


def not_found(what: str = "resource") -> ApiError:
    return ApiError(404, f"no such {what}", type="invalid_request_error", code="not_found")


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    parts = []
    param = None
    for err in exc.errors()[:5]:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        where = ".".join(loc) or "request"
        param = param or where
        parts.append(f"{where}: {err.get('msg', 'invalid value')}")
    return "invalid request: " + "; ".join(parts or ["malformed body"]), param


def enclave_error_status(exc: EnclaveError) -> tuple[int, str, str, str]:
    """Map an expected Enclave failure to (status, type, code, message) without leaking internals."""
    from enclave.assist.pipeline import AskError
    from enclave.audit.errors import AuditError
    from enclave.errors import EngineError, EngineUnavailable
    from enclave.identity import PermissionDenied
    from enclave.labels.errors import LabelError
    from enclave.retrieval.search import RetrievalError

    if isinstance(exc, PermissionDenied):
        return 403, "permission_error", "insufficient_permissions", exc.message
    if isinstance(exc, AuditError) or type(exc).__name__ == "AuditFailed":
        return (
            503,
            "server_error",
            "audit_unavailable",
            "the request could not be recorded in the audit trail, so it was refused and nothing was answered",
        )
    if isinstance(exc, LabelError):
        return 400, "invalid_request_error", "invalid_label", exc.message
    if isinstance(exc, AskError):
        return 400, "invalid_request_error", "invalid_question", exc.message
    if isinstance(exc, RetrievalError) and not exc.message.startswith("internal"):
        return 400, "invalid_request_error", "invalid_query", exc.message
    if type(exc).__module__.startswith("enclave.cyber"):  # bad logs/archives: about the upload itself
        return 400, "invalid_request_error", "invalid_logs", exc.message
    if isinstance(exc, EngineUnavailable):
        return 503, "server_error", "engine_unavailable", "the inference engine is unavailable; retry later"
    if isinstance(exc, EngineError):
        return 502, "server_error", "engine_error", "the inference engine failed to answer"
    return 500, "server_error", "internal_error", "internal server error"


def install_handlers(app: FastAPI) -> None:
    """Route every failure through the OpenAI error shape."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.type, exc.code, exc.param, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(exc)
        return error_response(400, message, "invalid_request_error", "invalid_request", param)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404:
            detail = "no such resource"
        return error_response(
            exc.status_code, detail, "invalid_request_error", codes.get(exc.status_code, "http_error"), None,
            dict(exc.headers or {}),
        )  # fmt: skip

    @app.exception_handler(EnclaveError)
    async def _enclave(_: Request, exc: EnclaveError) -> JSONResponse:
        status, type_, code, message = enclave_error_status(exc)
        if status >= 500:
            log.error("request failed: %s: %s", type(exc).__name__, exc)
        return error_response(status, message, type_, code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected server error", exc_info=exc)
        return error_response(500, "internal server error", "server_error", "internal_error")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the listed error statuses (accurate spec)."""
    text = {
        400: "Invalid request (OpenAI error shape)",
        401: "Missing or invalid bearer token",
        403: "The caller's roles do not allow this operation",
        404: "Not found (identical whether missing or not readable)",
        409: "Not available yet",
        413: "Request body too large",
        422: "Nothing could be processed",
        500: "Internal error",
        502: "The inference engine failed",
        503: "Busy (engine queue full, with Retry-After) or the audit trail is unavailable",
    }
    return {s: {"model": ErrorResponse, "description": text.get(s, "Error")} for s in statuses}
