"""Errors raised by the cyber service (bad inputs, unusable rule directories)."""

from __future__ import annotations

from enclave.errors import EnclaveError


class CyberError(EnclaveError):
    """A scan cannot start or finish: missing paths, an unreadable rules directory, a refused archive."""


class ArchiveRefused(CyberError):
    """An archive looked hostile (path traversal, bomb-like expansion, too many members)."""
