"""Offline checks of inclusion and consistency proofs: all an auditor needs is the public key.

A proof carries the signed head it was made against. The head's signature is checked with the
trusted key (never the key inside the head); a head kept by the auditor may be given to pin it.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from enclave.audit import merkle
from enclave.audit.errors import AuditError, AuditVerificationError
from enclave.audit.heads import SignedHead, check_head_signature
from enclave.audit.log import CONSISTENCY_FORMAT, INCLUSION_FORMAT


def _hashes(values: Any, field: str) -> list[bytes]:
    if not isinstance(values, list):
        raise AuditError(f"proof: field {field!r} must be a list of hex hashes")
    out = []
    for i, value in enumerate(values):
        try:
            digest = bytes.fromhex(value)
        except (TypeError, ValueError):
            digest = b""
        if len(digest) != merkle.HASH_SIZE:
            raise AuditError(f"proof: {field}[{i}] is not a 64-digit hex SHA-256")
        out.append(digest)
    return out


def _int(proof: dict[str, Any], field: str) -> int:
    value = proof.get(field)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise AuditError(f"proof: field {field!r} must be a non-negative integer, got {value!r}")
    return value


def check_proof(proof: Any, trusted: Ed25519PublicKey, pinned: SignedHead | None = None) -> dict[str, Any]:
    """Verify an inclusion or consistency proof. Returns a summary; raises ``AuditVerificationError``."""
    if not isinstance(proof, dict):
        raise AuditError("proof: expected a JSON object")
    head = SignedHead.from_dict(proof.get("head"), "proof.head")
    check_head_signature(head, trusted, "the proof's head")
    kind = proof.get("format")
    if kind == INCLUSION_FORMAT:
        return _check_inclusion(proof, head, pinned)
    if kind == CONSISTENCY_FORMAT:
        return _check_consistency(proof, head, pinned)
    raise AuditError(f"proof: unknown format {kind!r}, expected {INCLUSION_FORMAT!r} or {CONSISTENCY_FORMAT!r}")


def _check_inclusion(proof: dict[str, Any], head: SignedHead, pinned: SignedHead | None) -> dict[str, Any]:
    index, size = _int(proof, "leaf_index"), _int(proof, "tree_size")
    entry = proof.get("entry")
    if not isinstance(entry, str):
        raise AuditError("proof: field 'entry' must be the entry's canonical JSON text")
    if size != head.tree_size:
        raise AuditVerificationError(f"proof is for tree size {size}, but its head signs size {head.tree_size}")
    if pinned is not None and (pinned.tree_size != head.tree_size or pinned.root_hash != head.root_hash):
        raise AuditVerificationError(
            f"the proof's head (size {head.tree_size}) is not the given head (size {pinned.tree_size})",
            hint="ask for a proof at the given head's size: `enclave audit proof SEQ --size N`",
        )
    leaf = merkle.leaf_hash(entry.encode("utf-8"))
    if proof.get("leaf_hash") not in (None, leaf.hex()):
        raise AuditVerificationError("the proof's leaf_hash is not the hash of its entry")
    try:
        parsed = json.loads(entry)
    except ValueError:
        raise AuditVerificationError("the proof's entry is not JSON") from None
    if not isinstance(parsed, dict) or parsed.get("seq") != index:
        raise AuditVerificationError(f"the proof's entry does not carry seq {index}")
    path = _hashes(proof.get("audit_path"), "audit_path")
    if not merkle.verify_inclusion(leaf, index, size, path, head.root):
        raise AuditVerificationError(f"entry {index} is NOT included in the signed tree of size {size}")
    return {"ok": True, "kind": "inclusion", "seq": index, "tree_size": size, "head_timestamp": head.timestamp}


def _check_consistency(proof: dict[str, Any], head: SignedHead, pinned: SignedHead | None) -> dict[str, Any]:
    first, size = _int(proof, "first_size"), _int(proof, "tree_size")
    (first_root,) = _hashes([proof.get("first_root")], "first_root")
    if size != head.tree_size:
        raise AuditVerificationError(f"proof is for tree size {size}, but its head signs size {head.tree_size}")
    if pinned is not None and (pinned.tree_size != first or pinned.root != first_root):
        raise AuditVerificationError(
            f"the proof starts from size {first}, not from the given head (size {pinned.tree_size})",
            hint="ask for `enclave audit consistency --from N` with the given head's size",
        )
    path = _hashes(proof.get("consistency_path"), "consistency_path")
    if not merkle.verify_consistency(first, size, first_root, head.root, path):
        raise AuditVerificationError(
            f"the tree of size {size} is NOT a consistent extension of the tree of size {first}"
        )
    return {"ok": True, "kind": "consistency", "first_size": first, "tree_size": size, "head_timestamp": head.timestamp}
