"""The user directory: accounts with clearances and roles, API tokens, authentication.

Users are rows in the store (so a PostgreSQL deployment shares them across nodes); this module
owns the rules: names, roles, token issue/rotation, the disabled flag, and fail-closed
authentication. Every change is appended to the audit log inside the same store transaction, so a
change that cannot be audited does not happen.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from enclave.identity.principal import IdentityError, Principal, check_roles
from enclave.identity.tokens import hash_token, looks_like_token, new_token, token_matches
from enclave.labels import Clearance, clearance_from_dict, clearance_to_dict
from enclave.store.base import Store, UserRecord

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class AuditSink(Protocol):
    def append(self, action: str, *, actor: str, clearance: Any = None, details: Any = None) -> Any: ...


class UnknownUser(IdentityError):
    """No such user. Deliberately the same message whether the user never existed or was removed."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise IdentityError(
            f"invalid user name {name!r}",
            hint="use 1-64 characters: letters, digits, '.', '_', '@', '-' (starting with a letter or digit)",
        )
    return name


def describe(user: UserRecord) -> dict[str, Any]:
    """A user as JSON-safe data without the token hash (for listings and the audit log)."""
    return {
        "name": user.name,
        "clearance": user.clearance,
        "roles": list(user.roles),
        "disabled": user.disabled,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    }


class UserDirectory:
    """Create, change and authenticate users over a ``Store``."""

    def __init__(self, store: Store, audit: AuditSink | None = None, *, actor: str = "local-admin") -> None:
        self.store = store
        self.audit = audit
        self.actor = actor

    def _record(self, action: str, user: UserRecord, **details: Any) -> Any:
        """An on-commit hook: the audit append runs inside the store transaction."""

        def hook(_: object) -> None:
            if self.audit is not None:
                self.audit.append(action, actor=self.actor, details={"user": user.name, **details})

        return hook

    # -- queries ---------------------------------------------------------------------------
    def get(self, name: str) -> UserRecord:
        user = self.store.get_user(name)
        if user is None:
            raise UnknownUser(f"no user named {name!r}", hint="list users with `enclave users list`")
        return user

    def list(self) -> list[UserRecord]:
        return self.store.list_users()

    def principal(self, name: str) -> Principal:
        """The acting principal for a local (CLI) request; disabled users are refused."""
        user = self.get(name)
        if user.disabled:
            raise IdentityError(
                f"user {name!r} is disabled", hint="an admin can re-enable it with `enclave users enable`"
            )
        return _principal(user)

    # -- changes ---------------------------------------------------------------------------
    def add(self, name: str, clearance: Clearance, roles: tuple[str, ...] | list[str]) -> tuple[UserRecord, str]:
        """Create a user; returns the record and the API token (the only time it exists in clear)."""
        _check_name(name)
        if self.store.get_user(name) is not None:
            raise IdentityError(f"user {name!r} already exists", hint="choose another name or `enclave users show` it")
        token = new_token()
        now = _now()
        user = UserRecord(name, clearance_to_dict(clearance), check_roles(roles), False, hash_token(token), now, now)
        self.store.put_user(user, on_commit=self._record("user.add", user, **_changes(user)))
        return user, token

    def disable(self, name: str) -> UserRecord:
        user = replace(self.get(name), disabled=True, updated_at=_now())
        self.store.put_user(user, on_commit=self._record("user.disable", user))
        return user

    def enable(self, name: str) -> UserRecord:
        user = replace(self.get(name), disabled=False, updated_at=_now())
        self.store.put_user(user, on_commit=self._record("user.enable", user))
        return user

    def set_roles(self, name: str, roles: tuple[str, ...] | list[str]) -> UserRecord:
        old = self.get(name)
        user = replace(old, roles=check_roles(roles), updated_at=_now())
        self.store.put_user(
            user, on_commit=self._record("user.roles", user, roles_before=list(old.roles), roles=list(user.roles))
        )
        return user

    def set_clearance(self, name: str, clearance: Clearance) -> UserRecord:
        old = self.get(name)
        user = replace(old, clearance=clearance_to_dict(clearance), updated_at=_now())
        self.store.put_user(
            user,
            on_commit=self._record("user.clearance", user, clearance_before=old.clearance, clearance=user.clearance),
        )
        return user

    def rotate_token(self, name: str) -> str:
        """Issue a new token; the old one stops working in the same transaction."""
        token = new_token()
        user = replace(self.get(name), token_hash=hash_token(token), updated_at=_now())
        self.store.put_user(user, on_commit=self._record("user.rotate_token", user, token_rotated=True))
        return token

    # -- authentication ------------------------------------------------------------------------
    def authenticate(self, token: str) -> Principal | None:
        """The principal a presented API token belongs to, or None (unknown, malformed, disabled)."""
        if not isinstance(token, str) or not looks_like_token(token):
            return None
        user = self.store.user_by_token_hash(hash_token(token))
        if user is None or not token_matches(token, user.token_hash) or user.disabled:
            return None
        try:
            return _principal(user)
        except Exception:  # a stored clearance that no longer parses fails closed
            return None


def _principal(user: UserRecord) -> Principal:
    return Principal(user.name, frozenset(user.roles), clearance_from_dict(user.clearance))


def _changes(user: UserRecord) -> dict[str, Any]:
    return {"clearance": user.clearance, "roles": list(user.roles)}


def authenticate(store: Store, token: str) -> Principal | None:
    """Module-level convenience for the server: ``authenticate(store, token)``."""
    return UserDirectory(store).authenticate(token)
