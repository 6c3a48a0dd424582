"""Who is acting: a principal (name, roles, clearance) and what each role may do."""

from __future__ import annotations

from dataclasses import dataclass

from enclave.errors import EnclaveError
from enclave.labels import Clearance

ROLES: tuple[str, ...] = ("analyst", "ingester", "auditor", "admin")

# Roles grant *actions*; what a principal may *read* is decided by its clearance alone.
PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset({"analyst", "ingester", "admin"}),  # search, ask, documents list/show
    "ingest": frozenset({"ingester", "admin"}),
    "delete": frozenset({"ingester", "admin"}),
    "audit": frozenset({"auditor", "admin"}),
    "users": frozenset({"admin"}),
}


class IdentityError(EnclaveError):
    """Unknown or disabled user, bad role, or an action the user's roles do not allow."""


class PermissionDenied(IdentityError):
    exit_code = 3


@dataclass(frozen=True)
class Principal:
    name: str
    roles: frozenset[str]
    clearance: Clearance

    def can(self, permission: str) -> bool:
        allowed = PERMISSIONS.get(permission)
        if allowed is None:  # fail closed on a permission nobody defined
            return False
        return bool(self.roles & allowed)

    def require(self, permission: str) -> None:
        """Raise ``PermissionDenied`` unless one of the principal's roles grants ``permission``."""
        if not self.can(permission):
            needed = " or ".join(sorted(PERMISSIONS.get(permission, frozenset()))) or "(no role)"
            raise PermissionDenied(
                f"user {self.name!r} (roles: {', '.join(sorted(self.roles)) or 'none'}) may not {permission}",
                hint=f"this needs the role {needed}; an admin can grant it with `enclave users roles`",
            )


def check_roles(roles: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Validate and de-duplicate role names (order kept)."""
    out: list[str] = []
    for role in roles:
        name = role.strip().lower()
        if name not in ROLES:
            raise IdentityError(f"unknown role {role!r}", hint=f"roles are: {', '.join(ROLES)}")
        if name not in out:
            out.append(name)
    if not out:
        raise IdentityError("a user needs at least one role", hint=f"give --role with one of: {', '.join(ROLES)}")
    return tuple(out)
