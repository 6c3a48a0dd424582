"""What the app serves with: one Assistant (store, embedder, engine, audit log) and the engine gate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request

if TYPE_CHECKING:
    from enclave.assist.pipeline import Assistant
    from enclave.config import Settings
    from enclave.server.gate import EngineGate

CyberScan = Callable[..., Any]


@dataclass
class Services:
    settings: Settings
    assistant: Assistant
    gate: EngineGate
    cyber_scan: CyberScan | None = None
    owned: list[Any] = field(default_factory=list)  # closed on shutdown, in reverse order
    cache: dict[str, Any] = field(default_factory=dict)  # loaded once per server (e.g. the Sigma rules)

    @property
    def store(self) -> Any:
        return self.assistant.store

    @property
    def audit(self) -> Any:
        return self.assistant.audit

    @property
    def embedder(self) -> Any:
        return self.assistant.embedder

    @property
    def engine(self) -> Any:
        return self.assistant.engine


def services(request: Request) -> Services:
    """FastAPI dependency: the app's services (set up by the lifespan)."""
    found = getattr(request.app.state, "services", None)
    if found is None:
        from enclave.server.errors import ApiError

        raise ApiError(503, "the server is starting up; retry shortly", type="server_error", code="starting",
                       headers={"Retry-After": "2"})  # fmt: skip
    return found
