"""Signed tree heads: a log's size and root hash at a moment, signed with the log's Ed25519 key.

The signature covers the canonical JSON of the head's fields except ``signature`` and
``public_key`` (see docs/audit.md). A head kept outside the machine (printed, e-mailed to an
accreditor) pins the log: any later log must be a consistent extension of it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from enclave.audit.canonical import canonical_bytes
from enclave.audit.errors import AuditError, AuditVerificationError

HEAD_FORMAT = "enclave-audit-sth/1"
_SIGNED_FIELDS = ("format", "key_id", "log_id", "root_hash", "timestamp", "tree_size")


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw 32-byte public key, hex."""
    return hashlib.sha256(raw_public_key(key)).hexdigest()


@dataclass(frozen=True)
class SignedHead:
    tree_size: int
    root_hash: str
    timestamp: str
    log_id: str
    key_id: str
    signature: str
    public_key: str
    format: str = HEAD_FORMAT

    def signed_bytes(self) -> bytes:
        return signed_bytes(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def root(self) -> bytes:
        return bytes.fromhex(self.root_hash)

    @classmethod
    def from_dict(cls, data: Any, source: str = "head") -> SignedHead:
        """Parse a head; raises ``AuditError`` naming the missing or malformed field."""
        if not isinstance(data, dict):
            raise AuditError(f"{source}: a signed head is a JSON object, got {type(data).__name__}")
        if data.get("format") != HEAD_FORMAT:
            raise AuditError(f"{source}: format is {data.get('format')!r}, expected {HEAD_FORMAT!r}")
        checks = {
            "tree_size": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
            "root_hash": _is_hex32,
            "log_id": _is_hex32,
            "key_id": _is_hex32,
            "timestamp": lambda v: isinstance(v, str) and v.endswith("Z"),
            "signature": lambda v: isinstance(v, str) and len(_b64(v) or b"") == 64,
            "public_key": lambda v: isinstance(v, str) and len(_b64(v) or b"") == 32,
        }
        extra = sorted(set(data) - set(checks) - {"format"})
        if extra:
            raise AuditError(f"{source}: unknown field {extra[0]!r} in a signed head")
        for name, ok in checks.items():
            if name not in data:
                raise AuditError(f"{source}: field {name!r} is missing")
            if not ok(data[name]):
                raise AuditError(f"{source}: field {name!r} is malformed ({data[name]!r})")
        return cls(**{name: data[name] for name in (*checks, "format")})

    @classmethod
    def load(cls, path: Path) -> SignedHead:
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")), str(path))
        except (OSError, UnicodeDecodeError) as exc:
            raise AuditError(f"cannot read the head file {path}: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise AuditError(f"{path}: not JSON (line {exc.lineno}: {exc.msg})") from exc


def signed_bytes(fields: dict[str, Any]) -> bytes:
    return canonical_bytes({name: fields[name] for name in _SIGNED_FIELDS})


def sign_head(key: Ed25519PrivateKey, log_id: str, tree_size: int, root: bytes, timestamp: str) -> SignedHead:
    public = key.public_key()
    fields = {
        "format": HEAD_FORMAT,
        "key_id": key_id(public),
        "log_id": log_id,
        "root_hash": root.hex(),
        "timestamp": timestamp,
        "tree_size": tree_size,
    }
    signature = key.sign(signed_bytes(fields))
    return SignedHead(
        tree_size=tree_size,
        root_hash=root.hex(),
        timestamp=timestamp,
        log_id=log_id,
        key_id=fields["key_id"],
        signature=base64.b64encode(signature).decode(),
        public_key=base64.b64encode(raw_public_key(public)).decode(),
    )


def check_head_signature(head: SignedHead, trusted: Ed25519PublicKey, what: str = "head") -> None:
    """Raise ``AuditVerificationError`` unless ``trusted`` signed ``head``.

    The head's own ``public_key`` is never trusted: a forger can put any key there.
    """
    expected = key_id(trusted)
    if head.key_id != expected:
        raise AuditVerificationError(
            f"{what} (size {head.tree_size}) is signed by key {head.key_id[:16]}…, not the trusted key {expected[:16]}…"
        )
    if hashlib.sha256(base64.b64decode(head.public_key)).hexdigest() != head.key_id:
        raise AuditVerificationError(f"{what} (size {head.tree_size}): its public_key does not match its key_id")
    try:
        trusted.verify(base64.b64decode(head.signature), head.signed_bytes())
    except InvalidSignature:
        raise AuditVerificationError(f"{what} (size {head.tree_size}): the signature is invalid") from None


def _is_hex32(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 64:
        return False
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return value == value.lower()


def _b64(value: str) -> bytes | None:
    try:
        decoded = base64.b64decode(value, validate=True)
    except ValueError:
        return None
    return decoded if base64.b64encode(decoded).decode() == value else None  # one spelling per value
