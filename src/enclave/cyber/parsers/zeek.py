"""Zeek logs (conn, dns, http, ssl and others) in TSV (with ``#fields`` headers) or JSON Lines.

Fields keep Zeek's names (``id.orig_h``, ``query``), which is what Sigma's Zeek rules use. The log
type comes from the ``#path`` header, the file name, or the fields a JSON record carries.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

from enclave.cyber.model import ParseIssue
from enclave.cyber.parsers.base import iso_from_epoch, json_records, normalise_iso, scalar
from enclave.cyber.sources import Source

KNOWN = ("conn", "dns", "http", "ssl", "x509", "files", "notice", "weird", "ssh", "smtp", "dhcp", "kerberos", "smb")


def type_from_name(name: str) -> str | None:
    base = PurePosixPath(name.replace("!", "/")).name.lower()
    stem = base.split(".", 1)[0]
    return stem if stem in KNOWN else None


def type_from_fields(doc: dict[str, Any]) -> str:
    if "query" in doc and ("qtype_name" in doc or "rcode" in doc or "answers" in doc):
        return "dns"
    if "method" in doc or "uri" in doc or "user_agent" in doc:
        return "http"
    if "server_name" in doc or "cipher" in doc or ("version" in doc and "curve" in doc):
        return "ssl"
    if "conn_state" in doc or "orig_bytes" in doc or "duration" in doc:
        return "conn"
    return "unknown"


def _num(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _meta(doc: dict[str, Any], kind: str, source: str, record: str) -> dict[str, Any]:
    ts = doc.get("ts")
    ts_num = _num(ts)
    ts_iso = iso_from_epoch(ts_num) if ts_num is not None else normalise_iso(str(ts) if ts else None)
    orig = _num(doc.get("orig_bytes")) or 0.0
    resp = _num(doc.get("resp_bytes")) or 0.0
    doc.update(
        {
            "_src": source,
            "_rec": record,
            "_ts": ts_iso,
            "_product": "zeek",
            "_service": kind,
            "_host": doc.get("id.orig_h"),
            "_src_ip": doc.get("id.orig_h"),
            "_dst_ip": doc.get("id.resp_h"),
            "_dst_port": doc.get("id.resp_p"),
            "_action": kind,
            "_bytes": orig + resp if kind == "conn" else None,
        }
    )
    return doc


def _parse_tsv(lines: list[str], source: Source, issues: list[ParseIssue]) -> Iterator[dict[str, Any]]:
    sep = "\t"
    unset = "-"
    empty = "(empty)"
    fields: list[str] | None = None
    kind = type_from_name(source.name) or "unknown"
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\r\n")
        if not line:
            continue
        if line.startswith("#separator"):
            sep = line.partition(" ")[2].encode().decode("unicode_escape") or "\t"
            continue
        if line.startswith("#"):
            key, *values = line[1:].split(sep)
            if key == "unset_field" and values:
                unset = values[0]
            elif key == "empty_field" and values:
                empty = values[0]
            elif key == "path" and values:
                kind = values[0].strip() or kind
            elif key == "fields":
                fields = values
            continue
        if fields is None:
            issues.append(ParseIssue(source.name, number, "line", "Zeek TSV record before the #fields header"))
            continue
        values = line.split(sep)
        if len(values) != len(fields):
            issues.append(
                ParseIssue(
                    source.name, number, "line", f"expected {len(fields)} tab-separated fields, got {len(values)}"
                )
            )
            continue
        doc = {f: (None if v == unset else ("" if v == empty else v)) for f, v in zip(fields, values, strict=True)}
        if _num(doc.get("ts")) is None:
            issues.append(ParseIssue(source.name, number, "line", f"bad Zeek timestamp {doc.get('ts')!r}"))
            continue
        yield _meta(doc, kind, source.name, f"line {number}")


def parse(source: Source, issues: list[ParseIssue]) -> Iterator[dict[str, Any]]:
    with source.open() as handle:
        text = handle.read().decode("utf-8", errors="replace")
    lines = text.splitlines()
    if lines and lines[0].startswith("#"):
        yield from _parse_tsv(lines, source, issues)
        return
    named = type_from_name(source.name)
    for number, doc in json_records(lines, source.name, issues, required="ts", what="Zeek record"):
        flat = {k: scalar(v) for k, v in doc.items()}
        yield _meta(flat, named or type_from_fields(doc), source.name, f"line {number}")
