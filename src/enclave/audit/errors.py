"""Audit errors. An append that cannot be written fails the request that caused it."""

from __future__ import annotations

from enclave.errors import EnclaveError


class AuditError(EnclaveError):
    """The audit log cannot be written or read, or an entry was refused (e.g. it carried a secret)."""


class AuditEntryRefused(AuditError):
    """An entry was refused before writing: it carried a secret or data JSON cannot hold (a caller bug)."""


class AuditVerificationError(AuditError):
    """A proof, head or log failed verification: evidence of tampering or corruption."""

    exit_code = 1
