"""The audit trail's Ed25519 signing key: created once by ``enclave init``, owner-only.

Next to the private key ``X.pem`` sits its public half ``X.pub`` (PEM, SubjectPublicKeyInfo): give
that to auditors, who verify heads and proofs with it and never need the private key.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from enclave.audit.errors import AuditError


class KeyFileError(AuditError, ValueError):
    """A key file is missing, unreadable, unsafe or not an Ed25519 key."""


def public_key_path(private_path: Path) -> Path:
    return private_path.with_suffix(".pub")


def ensure_signing_key(path: Path) -> bool:
    """Create an Ed25519 private key at ``path`` (mode 0600) unless one exists. True if created.

    Also (re)writes the public key next to it when that is missing.
    """
    if path.exists():
        _ensure_public(path, None)
        return False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    _ensure_public(path, key)
    return True


def _ensure_public(path: Path, key: Ed25519PrivateKey | None) -> None:
    pub = public_key_path(path)
    if pub.exists():
        return
    try:
        key = key or load_private_key(path)
    except KeyFileError:
        return  # reported when the key is used
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    fd = os.open(pub, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Load the signing key; refuses a key file that group or others can read."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(
            f"the audit signing key {path} does not exist", hint="run `enclave init` to create it"
        ) from None
    except OSError as exc:
        raise KeyFileError(f"cannot read the audit signing key {path}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"the audit signing key {path} is accessible to group/others (mode {stat.filemode(mode)})",
            hint=f"chmod 600 {path}",
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} is not a PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} does not hold an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Load a trusted public key from a PEM file holding a public key (or an Ed25519 private key)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read the public key {path}: {exc.strerror}") from exc
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            private = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFileError(f"{path} holds neither a PEM public key nor a PEM private key") from exc
        key = private.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path} does not hold an Ed25519 key")
    return key


def trusted_public_key(private_path: Path, explicit: Path | None = None) -> Ed25519PublicKey:
    """The key to verify against: ``explicit`` if given, else the home's ``.pub``, else the private key's half."""
    if explicit is not None:
        return load_public_key(explicit)
    pub = public_key_path(private_path)
    if pub.exists():
        return load_public_key(pub)
    return load_private_key(private_path).public_key()
