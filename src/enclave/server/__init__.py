"""Enclave's HTTP server: OpenAI-compatible API, REST endpoints, auditor endpoints (FastAPI)."""

from enclave.server.app import create_app

__all__ = ["create_app"]
