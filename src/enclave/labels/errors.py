"""Errors of the labels core: a marking or policy that cannot be understood exactly is refused."""

from __future__ import annotations

from enclave.errors import EnclaveError


class LabelError(EnclaveError):
    """An unknown or contradictory marking, category, country or policy.

    ``token`` and ``position`` (character offset in the parsed text) point at the offending part so a
    reader can say which line and column of a document is wrong.
    """

    def __init__(
        self, message: str, hint: str | None = None, *, token: str | None = None, position: int | None = None
    ) -> None:
        super().__init__(message, hint)
        self.token = token
        self.position = position


class PolicyError(LabelError):
    """A policy data file is malformed; the message names the file and the entry."""
