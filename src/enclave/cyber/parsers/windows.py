"""Flattening Windows events (EVTX JSON, Sysmon, Winlogbeat, flattened exports) the Zircolite way.

Sigma rules for Windows name EventData fields directly (``Image``, ``CommandLine``) and System
fields as ``EventID``, ``Channel``, ``Computer``, ``Provider_Name``. Nested System values are
joined with ``_`` and XML attribute wrappers (``#attributes``, ``#text``) are dropped, which is
the layout SigmaHQ's SQLite backend and Zircolite expect.
"""

from __future__ import annotations

from typing import Any

from enclave.cyber.parsers.base import normalise_iso, scalar

_SERVICES = {
    "microsoft-windows-sysmon/operational": "sysmon",
    "security": "security",
    "system": "system",
    "application": "application",
    "windows powershell": "powershell-classic",
    "microsoft-windows-powershell/operational": "powershell",
}

# Windows logon event ids that the password-spray analytic reads
_LOGON_FAILED = {4625, 4771, 4776}
_LOGON_OK = {4624}


def _flatten_system(node: dict[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for key, value in node.items():
        kind = type(value)
        if kind is str or kind is int:  # the common case, first
            if key == "#text":
                if prefix:
                    out[prefix] = value
            else:
                out[f"{prefix}_{key}" if prefix else key] = value
        elif key == "#attributes" and kind is dict:
            for attr, val in value.items():
                out[f"{prefix}_{attr}" if prefix else attr] = scalar(val)
        elif key == "#text":
            if prefix:
                out[prefix] = scalar(value)
        elif isinstance(value, dict):
            _flatten_system(value, f"{prefix}_{key}" if prefix else key, out)
        else:
            out[f"{prefix}_{key}" if prefix else key] = scalar(value)


def _flatten_data(node: Any, out: dict[str, Any]) -> None:
    """EventData/UserData: named fields by their own name; unnamed Data items joined into ``Data``."""
    if not isinstance(node, dict):
        if node is not None:
            out["Data"] = scalar(node)
        return
    for raw_key, value in node.items():
        kind = type(value)
        if kind is str or kind is int:  # the common case, first
            if raw_key == "#text":
                out["Data"] = value
            else:
                out[raw_key.replace(" ", "") if " " in raw_key else raw_key] = value
            continue
        if raw_key == "#attributes":
            continue
        key = raw_key.replace(" ", "")  # Defender's "Threat Name" is ThreatName to Sigma
        if key == "Data" and isinstance(value, dict) and "#text" in value:
            out["Data"] = scalar(value["#text"])
        elif key == "#text":
            out["Data"] = scalar(value)
        elif isinstance(value, dict):
            inner = {k: v for k, v in value.items() if k != "#attributes"}
            if "#text" in inner and len(inner) == 1:
                out[key] = scalar(inner["#text"])
            else:
                _flatten_data(inner, out)
        else:
            out[key] = scalar(value)


def flatten_evtx_json(event: dict[str, Any]) -> dict[str, Any]:
    """``{"Event": {"System": ..., "EventData": ...}}`` (evtx_dump / pyevtx-rs JSON) to flat fields."""
    root = event.get("Event", event)
    out: dict[str, Any] = {}
    system = root.get("System")
    if isinstance(system, dict):
        _flatten_system(system, "", out)
    for section in ("EventData", "UserData"):
        if section in root:
            _flatten_data(root[section], out)
    return out


def flatten_winlogbeat(event: dict[str, Any]) -> dict[str, Any]:
    """Winlogbeat / Elastic ``winlog.*`` documents to the same flat layout."""
    winlog = event.get("winlog", {})
    out: dict[str, Any] = {}
    for key, value in (winlog.get("event_data") or {}).items():
        out[key] = scalar(value)
    for key, value in (winlog.get("user_data") or {}).items():
        out[key] = scalar(value)
    mapping = {
        "event_id": "EventID",
        "channel": "Channel",
        "computer_name": "Computer",
        "provider_name": "Provider_Name",
        "record_id": "EventRecordID",
        "task": "Task",
        "opcode": "Opcode",
    }
    for src, dst in mapping.items():
        if src in winlog:
            out[dst] = scalar(winlog[src])
    if "@timestamp" in event:
        out["SystemTime"] = event["@timestamp"]
    return out


def flatten_flat(event: dict[str, Any]) -> dict[str, Any]:
    """Already-flat exports (``{"EventID": 1, "Image": ...}``); nested values joined with ``_``."""
    out: dict[str, Any] = {}
    for key, value in event.items():
        if isinstance(value, dict):
            _flatten_system(value, key, out)
        else:
            out[key] = scalar(value)
    return out


def add_meta(fields: dict[str, Any], source: str, record: Any) -> dict[str, Any]:
    """Fill the normalised columns from a flattened Windows event."""
    eid = fields.get("EventID")
    try:
        eid_num = int(eid) if eid is not None else None
    except (TypeError, ValueError):
        eid_num = None
    if eid_num is not None:
        fields["EventID"] = eid_num
    channel = str(fields.get("Channel") or "")
    service = _SERVICES.get(channel.lower(), channel.lower() or None)
    ts = normalise_iso(
        fields.get("TimeCreated_SystemTime")
        or fields.get("SystemTime")
        or fields.get("UtcTime")
        or fields.get("@timestamp")
    )
    user = fields.get("TargetUserName") if eid_num in (_LOGON_FAILED | _LOGON_OK) else None
    user = user or fields.get("User") or fields.get("SubjectUserName") or fields.get("TargetUserName")
    src_ip = fields.get("IpAddress") or fields.get("SourceIp") or fields.get("SourceAddress")
    outcome = None
    action = None
    if service == "security" and eid_num in _LOGON_FAILED:
        action, outcome = "logon", "failure"
    elif service == "security" and eid_num in _LOGON_OK:
        action, outcome = "logon", "success"
    elif (service == "sysmon" and eid_num == 1) or (service == "security" and eid_num == 4688):
        action = "process"
    elif service == "sysmon" and eid_num == 3:
        action = "conn"
    fields.update(
        {
            "_src": source,
            "_rec": str(record),
            "_ts": ts,
            "_product": "windows",
            "_service": service,
            "_host": fields.get("Computer"),
            "_user": str(user) if user not in (None, "-") else None,
            "_src_ip": src_ip if src_ip not in ("-", "") else None,
            "_dst_ip": fields.get("DestinationIp"),
            "_dst_port": fields.get("DestinationPort"),
            "_proc": fields.get("Image") or fields.get("NewProcessName") or fields.get("ProcessName"),
            "_action": action,
            "_outcome": outcome,
        }
    )
    return fields


def flatten_any(event: dict[str, Any]) -> dict[str, Any] | None:
    """Pick the right flattener for a JSON Windows event, or None when it is not one."""
    if isinstance(event.get("Event"), dict):
        return flatten_evtx_json(event)
    if isinstance(event.get("winlog"), dict):
        return flatten_winlogbeat(event)
    if "EventID" in event or "event_id" in event:
        flat = flatten_flat(event)
        if "event_id" in flat and "EventID" not in flat:
            flat["EventID"] = flat.pop("event_id")
        return flat
    return None
