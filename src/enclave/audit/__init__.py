"""The tamper-evident audit trail: an RFC 9162 Merkle log with Ed25519-signed tree heads.

Every service records what it did with ``AuditLog.append(action, actor=, clearance=, details=)``;
the returned sequence number is the request's ``audit_id``. If the append fails the request fails.
See docs/audit.md for the format, which is enough to write an independent verifier.
"""

from __future__ import annotations

from enclave.audit.errors import AuditEntryRefused, AuditError, AuditVerificationError
from enclave.audit.heads import SignedHead
from enclave.audit.log import AuditLog, open_audit

__all__ = ["AuditEntryRefused", "AuditError", "AuditLog", "AuditVerificationError", "SignedHead", "open_audit"]
