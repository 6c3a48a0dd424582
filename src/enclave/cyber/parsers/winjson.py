"""Windows events as JSON: one document, an array, or JSON Lines (Sysmon, Winlogbeat, flat exports).

Concatenated documents (what ``evtx_dump -o json`` writes) are read too. A line or document that is
not valid JSON, or not a Windows event, is reported with its line number and skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from enclave.cyber.model import ParseIssue
from enclave.cyber.parsers.base import loads
from enclave.cyber.parsers.windows import add_meta, flatten_any
from enclave.cyber.sources import Source


def iter_json_documents(text: str) -> Iterator[tuple[int, Any, str | None]]:
    """(line number, document or None, error) for JSONL, a JSON array or concatenated documents."""
    decoder = json.JSONDecoder()
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            docs = json.loads(text)
        except ValueError as exc:
            yield (getattr(exc, "lineno", 1), None, f"invalid JSON array: {exc}")
            return
        for i, doc in enumerate(docs):
            yield (i + 1, doc, None)
        return
    pos = 0
    length = len(text)
    line = 1
    while pos < length:
        while pos < length and text[pos] in " \t\r\n":
            if text[pos] == "\n":
                line += 1
            pos += 1
        if pos >= length:
            break
        try:
            doc, end = decoder.raw_decode(text, pos)
        except ValueError as exc:
            nl = text.find("\n", pos)
            nl = length if nl < 0 else nl
            yield (line, None, f"invalid JSON: {exc.msg if hasattr(exc, 'msg') else exc}")
            pos = nl
            continue
        yield (line, doc, None)
        line += text.count("\n", pos, end)
        pos = end


def _is_line_delimited(head: bytes) -> bool:
    """JSON Lines (stream line by line) rather than an array or pretty-printed documents."""
    first = next((line.strip() for line in head.splitlines() if line.strip()), b"")
    if not first.startswith(b"{"):
        return False
    try:
        json.loads(first)
    except ValueError:
        return False  # a document spread over several lines
    return True


def _events(doc: Any, line: int, source: Source, issues: list[ParseIssue]) -> Iterator[dict[str, Any]]:
    flat = flatten_any(doc) if isinstance(doc, dict) else None
    if flat is None:
        issues.append(ParseIssue(source.name, line, "line", "not a Windows event (no Event, winlog or EventID)"))
        return
    record = flat.get("EventRecordID") or f"line {line}"
    yield add_meta(flat, source.name, record)


def parse(source: Source, issues: list[ParseIssue]) -> Iterator[dict[str, Any]]:
    with source.open() as handle:
        head = handle.read(64 * 1024)
        handle.seek(0)
        if _is_line_delimited(head):
            # JSON Lines: one event at a time, so a multi-gigabyte export never sits in memory whole
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    doc = loads(raw)
                except ValueError as exc:
                    if raw.strip() in (b"{", b"["):
                        # a pretty-printed document follows: read the rest as concatenated documents
                        rest = (raw + handle.read()).decode("utf-8", errors="replace")
                        for line, doc, error in iter_json_documents(rest):
                            if error:
                                issues.append(ParseIssue(source.name, number + line - 1, "line", error))
                            else:
                                yield from _events(doc, number + line - 1, source, issues)
                        return
                    issues.append(ParseIssue(source.name, number, "line", f"invalid JSON: {exc}"))
                    continue
                yield from _events(doc, number, source, issues)
            return
        text = handle.read().decode("utf-8", errors="replace")
    for line, doc, error in iter_json_documents(text):
        if error:
            issues.append(ParseIssue(source.name, line, "line", error))
            continue
        yield from _events(doc, line, source, issues)
