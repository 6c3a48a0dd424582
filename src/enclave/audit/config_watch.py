"""Configuration changes in the audit trail.

An accreditor must be able to tell which configuration (engine, model pin, guard policy, egress
allow-list, ...) was in force for any recorded decision. Every entry point that opens the audit log
for real work calls ``record_config_change``: it fingerprints the effective settings (file plus
environment overrides) and appends a ``config.change`` entry, naming each changed key with its old
and new value, whenever the fingerprint differs from the last one recorded. Secrets never live in
the configuration (an engine's API key is read from the environment variable *named* by
``[engine] api_key_env``), so values can be recorded as they are.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from enclave.audit.actions import CONFIG_CHANGE

if TYPE_CHECKING:
    from enclave.audit.log import AuditLog
    from enclave.config import Settings


def settings_snapshot(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain JSON, flattened to dotted keys (``engine.n_threads``)."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            flat[prefix] = value

    data = settings.model_dump(mode="json")
    data.pop("home", None)
    walk("", data)
    return flat


def fingerprint(snapshot: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(snapshot, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _last_recorded(log: AuditLog) -> dict[str, Any] | None:
    count = log.count(action=CONFIG_CHANGE)
    if not count:
        return None
    entries = log.entries(action=CONFIG_CHANGE, limit=1, offset=count - 1)
    return entries[0]["details"] if entries else None


def record_config_change(log: AuditLog, settings: Settings, *, actor: str) -> int | None:
    """Append ``config.change`` if the effective configuration differs from the last recorded one."""
    snapshot = settings_snapshot(settings)
    digest = fingerprint(snapshot)
    last = _last_recorded(log)
    if last is not None and last.get("sha256") == digest:
        return None
    before: dict[str, Any] = (last or {}).get("settings", {})
    changed = {
        key: {"from": before.get(key), "to": snapshot.get(key)}
        for key in sorted(set(before) | set(snapshot))
        if before.get(key) != snapshot.get(key)
    }
    details = {"sha256": digest, "first": last is None, "changed": changed if last else {}, "settings": snapshot}
    return log.append(CONFIG_CHANGE, actor=actor, clearance=None, details=details)
