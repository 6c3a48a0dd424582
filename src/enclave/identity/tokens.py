"""API tokens: 256 random bits, shown once, stored only as a SHA-256 digest.

A fast hash is the right tool here (as for GitHub or cloud API keys): the token is a uniformly random
secret, not a password, so there is nothing for a slow KDF to protect against brute force.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "enc_"  # noqa: S105 - a public prefix that makes leaked tokens easy to scan for


def new_token() -> str:
    """A fresh random API token (``enc_`` + 43 URL-safe characters)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented token against a stored hash."""
    return hmac.compare_digest(hash_token(token).encode("ascii"), stored_hash.encode("ascii"))


def looks_like_token(text: str) -> bool:
    return text.startswith(TOKEN_PREFIX) and 20 <= len(text) <= 200 and text.isascii()
