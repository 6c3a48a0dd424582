"""Canonical JSON for audit entries and heads, and the refusal of secrets.

Canonical form: keys sorted by Unicode code point, UTF-8, separators ``,`` and ``:`` with no
whitespace, no NaN/Infinity, non-ASCII characters written as themselves (not ``\\u`` escapes).
The same value always serialises to the same bytes, so a hash of the bytes identifies the value.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import itertools
import json
import re
import uuid
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from enclave.audit.errors import AuditEntryRefused

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)

# Key words that name a secret. A details key is split into words (snake_case, kebab-case and
# camelCase); it is refused when one of its words is below, or it holds "api key"/"private key",
# unless its last word says it is only *about* the secret (an id, a hash, a count, an event flag).
_SECRET_WORDS = frozenset(
    "token password passwd passphrase secret apikey credential credentials authorization cookie privatekey"
    " bearer".split()
)
_SECRET_PAIRS = frozenset({("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key")})
_ABOUT_SUFFIXES = frozenset(
    "id ids sha256 hash fingerprint count changed reset set expired expires created revoked rotated ok valid present"
    " type kind name env variable".split()  # "api_key_env" names an environment variable, not its value
)
_SECRET_VALUE = re.compile(r"^\s*(bearer|basic)\s+\S+", re.IGNORECASE)
_WORD_SPLIT = re.compile(r"[^0-9a-zA-Z]+|(?<=[a-z0-9])(?=[A-Z])")


def canonical_json(value: Any) -> str:
    """Serialise an already-normalised JSON value canonically."""
    return _ENCODER.encode(value)


def canonical_bytes(value: Any) -> bytes:
    return canonical_json(value).encode("utf-8")


def secret_key_reason(key: str) -> str | None:
    """Why ``key`` looks like it names a secret, or None."""
    words = [w.lower() for w in _WORD_SPLIT.split(key) if w]
    if not words or words[-1] in _ABOUT_SUFFIXES:
        return None
    for word in words:
        if word in _SECRET_WORDS:
            return f"the word {word!r}"
    for pair in itertools.pairwise(words):
        if pair in _SECRET_PAIRS:
            return f"the words {' '.join(pair)!r}"
    return None


def normalize(value: Any, where: str = "details") -> Any:
    """A JSON-safe deep copy of ``value``; refuses secrets and values JSON cannot carry exactly.

    Accepted: str, int, finite float, bool, None, mappings with str keys, lists/tuples, and as
    conveniences datetime/date (ISO 8601), Path (str), Enum (its value), UUID (str), sets (sorted
    lists), objects with ``model_dump()`` or ``to_dict()``, and dataclasses (fields not starting
    with ``_``). Anything else raises ``AuditEntryRefused``.
    """
    if value is None or isinstance(value, bool | int | str):
        if isinstance(value, str):
            if _SECRET_VALUE.match(value):
                raise AuditEntryRefused(
                    f"audit entry refused: {where} holds what looks like an authorization header value",
                    hint="never pass credentials to the audit log; record a token id or hash instead",
                )
            _check_encodable(value, where)
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise AuditEntryRefused(f"audit entry refused: {where} is {value!r}, which JSON cannot represent")
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise AuditEntryRefused(f"audit entry refused: {where} has a non-string key {key!r}")
            _check_encodable(key, where)
            reason = secret_key_reason(key)
            if reason:
                raise AuditEntryRefused(
                    f"audit entry refused: key {where}.{key} looks like a secret ({reason})",
                    hint="never record tokens, passwords or keys; record an id or a SHA-256 instead "
                    "(keys ending in _id, _sha256, _hash, _count are allowed)",
                )
            out[key] = normalize(item, f"{where}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [normalize(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, set | frozenset):
        items = [normalize(item, f"{where}[]") for item in value]
        return sorted(items, key=canonical_json)  # a set has no order: sort so the bytes are stable
    if isinstance(value, enum.Enum):
        return normalize(value.value, where)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, PurePath | uuid.UUID):
        return normalize(str(value), where)
    for method in ("model_dump", "to_dict"):
        dump = getattr(value, method, None)
        if callable(dump):
            return normalize(dump(), where)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        public = {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if not f.name.startswith("_")}
        return normalize(public, where)
    raise AuditEntryRefused(f"audit entry refused: {where} is a {type(value).__name__}, which is not JSON data")


def _check_encodable(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise AuditEntryRefused(f"audit entry refused: {where} is not valid Unicode text ({exc.reason})") from None
