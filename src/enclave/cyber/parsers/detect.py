"""Which parser reads a source: sniffed from its first bytes, with the file name as a tie-breaker."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from enclave.cyber.model import ParseIssue
from enclave.cyber.parsers import evtx, suricata, syslog, winjson, zeek
from enclave.cyber.sources import Source

Parser = Callable[[Source, list[ParseIssue]], Iterator[dict[str, Any]]]

PARSERS: dict[str, Parser] = {
    "evtx": evtx.parse,
    "winjson": winjson.parse,
    "suricata": suricata.parse,
    "zeek": zeek.parse,
    "syslog": syslog.parse,
}

_SNIFF_BYTES = 64 * 1024


def _first_json(text: str) -> Any | None:
    stripped = text.lstrip()
    if stripped.startswith("["):
        stripped = stripped[1:].lstrip()
    if not stripped.startswith("{"):
        return None
    try:
        doc, _ = json.JSONDecoder().raw_decode(stripped)
    except ValueError:
        line = stripped.split("\n", 1)[0]
        try:
            doc = json.loads(line)
        except ValueError:
            return None
    return doc


def detect(source: Source) -> str | None:
    """The parser name for ``source`` or None when no parser recognises it."""
    with source.open() as handle:
        head = handle.read(_SNIFF_BYTES)
    if head.startswith(b"ElfFile\x00"):
        return "evtx"
    text = head.decode("utf-8", errors="replace")
    if text.startswith("#separator") or text.startswith("#fields"):
        return "zeek"
    doc = _first_json(text)
    if isinstance(doc, dict):
        if "event_type" in doc and ("src_ip" in doc or "flow_id" in doc or "timestamp" in doc):
            return "suricata"
        if "Event" in doc or "winlog" in doc or "EventID" in doc or "event_id" in doc:
            return "winjson"
        if "ts" in doc and ("uid" in doc or "id.orig_h" in doc):
            return "zeek"
        return None
    first = next((line for line in text.splitlines() if line.strip()), "")
    if first and syslog.parse_line(first, 2000, datetime.now(UTC)):
        return "syslog"
    return None
