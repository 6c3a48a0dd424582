"""The FastAPI application: OpenAI-compatible API, REST endpoints and auditor endpoints.

``create_app(settings)`` builds everything from the configuration at start-up (models load in a
worker thread) and closes what it opened at shutdown — the audit log last, which signs a final tree
head. Tests and benchmarks pass a ready ``assistant`` (e.g. with a fake engine) instead. Server
start and stop are written to the audit trail.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool

import enclave
from enclave.server.errors import install_handlers
from enclave.server.gate import EngineGate
from enclave.server.limits import BodySizeLimit
from enclave.server.routes import audit, cyber, documents, health, openai_api, search
from enclave.server.state import CyberScan, Services

if TYPE_CHECKING:
    from enclave.assist.pipeline import Assistant
    from enclave.config import Settings

log = logging.getLogger("enclave.server")
DEFAULT_MAX_JSON_BYTES = 1024 * 1024
DEFAULT_RETRY_AFTER_S = 5
UPLOAD_PATHS = ("/v1/documents", "/v1/cyber/scans")

DESCRIPTION = """\
Enclave's HTTP API. `POST /v1/chat/completions` and `GET /v1/models` speak the OpenAI API (its
official SDKs and chat front ends work unchanged); answers carry an extra `enclave` object with the
classification, citations and audit id. Authenticate with `Authorization: Bearer <API token>`
(tokens come from `enclave users add`). Errors use the OpenAI error shape.
"""


def _close(obj: Any) -> None:
    close = getattr(obj, "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            log.exception("error while closing %s", type(obj).__name__)


def _owned_parts(assistant: Assistant) -> list[Any]:
    """What a self-built assistant holds open, in opening order (the audit log is closed last)."""
    return [assistant.audit, assistant.store, assistant.engine]


def create_app(
    settings: Settings,
    *,
    assistant: Assistant | None = None,
    cyber_scan: CyberScan | None = None,
    max_json_bytes: int = DEFAULT_MAX_JSON_BYTES,
    retry_after_s: int = DEFAULT_RETRY_AFTER_S,
) -> FastAPI:
    """The app. Without ``assistant`` the real one is built from ``settings`` at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned: list[Any] = []
        the_assistant = assistant
        if the_assistant is None:
            from enclave.assist.factory import build_assistant

            the_assistant = await run_in_threadpool(build_assistant, settings, actor="server")
            owned = _owned_parts(the_assistant)
            warm_up = getattr(the_assistant.input_guard, "warm_up", None)
            if callable(warm_up):  # embed the policy exemplars now, not on the first request
                await run_in_threadpool(warm_up)
        svc = Services(
            settings=settings,
            assistant=the_assistant,
            gate=EngineGate(settings.server.max_queue, retry_after=retry_after_s),
            cyber_scan=cyber_scan,
            owned=owned,
        )
        try:
            await run_in_threadpool(
                svc.audit.append, "server.start", actor="enclave", details=_server_details(svc, max_json_bytes)
            )
        except BaseException:
            for obj in reversed(owned):
                _close(obj)
            raise
        app.state.services = svc
        try:
            yield
        finally:
            app.state.services = None
            try:
                await run_in_threadpool(
                    svc.audit.append, "server.stop", actor="enclave",
                    details={"pid": os.getpid(), "refused_busy": svc.gate.refused},
                )  # fmt: skip
            except Exception:
                log.exception("could not record server.stop in the audit trail")
            for obj in reversed(owned):
                await run_in_threadpool(_close, obj)

    app = FastAPI(
        title="Enclave API",
        version=enclave.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # Swagger UI pulls scripts from a CDN: not on an offline network
        redoc_url=None,
    )
    app.state.services = None
    install_handlers(app)
    for module in (openai_api, search, documents, audit, cyber, health):
        app.include_router(module.router)
    app.add_middleware(
        BodySizeLimit,
        default=max_json_bytes,
        limits=[(path, settings.server.max_body_bytes) for path in UPLOAD_PATHS],
    )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _server_details(svc: Services, max_json_bytes: int) -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "version": enclave.__version__,
        "model": svc.engine.model_id,
        "model_sha256": svc.engine.model_sha256,
        "max_queue": svc.settings.server.max_queue,
        "max_body_bytes": svc.settings.server.max_body_bytes,
        "max_json_bytes": max_json_bytes,
    }


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's spec, corrected: validation errors are 400 in the OpenAI error shape, not 422."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    for path_item in spec.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            ref = str(responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema", {}))
            if "HTTPValidationError" in ref:
                del responses["422"]
    schemas = spec.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    app.openapi_schema = spec
    return spec
