"""Identity: users with clearances and roles, API tokens stored as hashes, authentication."""

from enclave.identity.principal import PERMISSIONS, ROLES, IdentityError, PermissionDenied, Principal, check_roles
from enclave.identity.tokens import hash_token, new_token
from enclave.identity.users import UnknownUser, UserDirectory, authenticate, describe

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "IdentityError",
    "PermissionDenied",
    "Principal",
    "UnknownUser",
    "UserDirectory",
    "authenticate",
    "check_roles",
    "describe",
    "hash_token",
    "new_token",
]
