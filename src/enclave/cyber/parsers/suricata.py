"""Suricata EVE JSON (one event per line): alerts, flows, dns, http, tls.

Fields keep EVE's names (nested objects joined with ``.``, e.g. ``alert.signature``), which is how
Sigma rules for Suricata refer to them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from enclave.cyber.model import ParseIssue
from enclave.cyber.parsers.base import json_records, normalise_iso, scalar
from enclave.cyber.sources import Source


def _flatten(node: dict[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for key, value in node.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            _flatten(value, name, out)
        else:
            out[name] = scalar(value)


def parse(source: Source, issues: list[ParseIssue]) -> Iterator[dict[str, Any]]:
    with source.open() as handle:
        for number, doc in json_records(handle, source.name, issues, required="event_type", what="Suricata EVE event"):
            out: dict[str, Any] = {}
            _flatten(doc, "", out)
            kind = str(doc["event_type"])
            flow = doc.get("flow") or {}
            out.update(
                {
                    "_src": source.name,
                    "_rec": f"line {number}",
                    "_ts": normalise_iso(doc.get("timestamp")),
                    "_product": "suricata",
                    "_service": kind,
                    "_host": doc.get("host") or doc.get("in_iface"),
                    "_src_ip": doc.get("src_ip"),
                    "_dst_ip": doc.get("dest_ip"),
                    "_dst_port": doc.get("dest_port"),
                    "_action": kind,
                    "_bytes": (flow.get("bytes_toserver") or 0) + (flow.get("bytes_toclient") or 0) if flow else None,
                }
            )
            yield out
