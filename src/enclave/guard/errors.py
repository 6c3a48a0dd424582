"""Errors raised by the guard package (all expected, all with a hint)."""

from __future__ import annotations

from enclave.errors import EnclaveError


class GuardError(EnclaveError):
    """A guard could not run; callers must fail closed (treat the request as refused)."""


class PolicyError(GuardError):
    """The usage-policy file is missing, not valid YAML, or does not match the policy schema."""
