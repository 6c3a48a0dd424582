"""Error types shared by every layer.

Every error a user can cause carries a *hint*: one sentence that says what to do next. The CLI
prints message and hint and exits non-zero; it never shows a traceback for an ``EnclaveError``.
"""

from __future__ import annotations


class EnclaveError(Exception):
    """Base class for every expected, user-facing failure."""

    exit_code: int = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} (hint: {self.hint})"


class ConfigError(EnclaveError):
    """The configuration file or an ENCLAVE_* variable is malformed."""


class HomeError(EnclaveError):
    """The Enclave home is missing, unwritable or has unsafe permissions."""


class EgressBlocked(EnclaveError):
    """An outbound connection to an address that is not allowed was attempted."""


class ModelError(EnclaveError):
    """A model file is missing, corrupt, or does not match its pinned SHA-256."""


class EngineError(EnclaveError):
    """The inference engine failed or answered something malformed."""


class EngineUnavailable(EngineError):
    """The engine could not be reached (connection refused, timeout, 5xx after retries)."""
