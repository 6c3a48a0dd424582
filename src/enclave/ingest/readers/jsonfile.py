"""JSON and JSON Lines: records rendered as "key: value" text, their marking fields kept as markings.

A marking field (``classification``, ``marking``, ``security_label``...) on the top-level object of a
``.json`` file is the document's banner; on a record (an element of a top-level array, or a line of a
``.jsonl`` file) it is that record's portion marking. Records become paragraphs, so chunks never mix
records of different labels.
"""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

from enclave.ingest.decode import decode_text
from enclave.ingest.errors import Refused
from enclave.ingest.raw import Block, RawDocument, assign_lines
from enclave.ingest.readers import Limits

MARKING_KEYS = ("classification", "marking", "security_marking", "security_label", "security_classification")
TITLE_KEYS = ("title", "subject", "name", "headline")
_MAX_DEPTH = 64


def _marking_of(obj: dict[str, Any], where: str) -> str | None:
    for key in obj:
        if key.lower() in MARKING_KEYS:
            value = obj[key]
            if not isinstance(value, str) or not value.strip():
                raise Refused(f"malformed marking in {where}: field {key!r} must be a non-empty string")
            return value.strip()
    return None


def _render(value: Any, indent: int = 0, depth: int = 0) -> list[str]:
    """Readable lines for a JSON value; marking fields are left out (they are carried as labels)."""
    if depth > _MAX_DEPTH:
        raise Refused(f"JSON nested deeper than {_MAX_DEPTH} levels")
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if depth == 0 and key.lower() in MARKING_KEYS:
                continue
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:")
                lines.extend(_render(item, indent + 1, depth + 1))
            else:
                lines.append(f"{pad}{key}: {_scalar(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}-")
                lines.extend(_render(item, indent + 1, depth + 1))
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    else:
        lines.append(f"{pad}{_scalar(value)}")
    return lines


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return " ".join(value.split()) if "\n" not in value else value.replace("\n", " ")
    return json.dumps(value, ensure_ascii=False)


def _records(text: str, jsonl: bool) -> tuple[list[tuple[Any, str]], Any]:
    """(records with their location, top-level object or None)."""
    if jsonl:
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append((json.loads(line), f"line {number}"))
            except json.JSONDecodeError as exc:
                raise Refused(f"invalid JSON on line {number}: {exc.msg} (column {exc.colno})") from None
        return records, None
    try:
        top = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Refused(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise Refused("JSON nested too deeply") from None
    if isinstance(top, list):
        return [(item, f"record {i}") for i, item in enumerate(top, start=1)], None
    return [(top, "document")], top


def read(data: bytes, name: str, limits: Limits) -> RawDocument:
    text, encoding = decode_text(data)
    jsonl = PurePath(name).suffix.lower() in {".jsonl", ".ndjson"}
    records, top = _records(text, jsonl)
    if not records:
        raise Refused("empty JSON document: no records")
    raw = RawDocument(
        text="",
        doc_type="jsonl" if jsonl else "json",
        banner_lines=False,
        metadata={"encoding": encoding, "records": len(records)},
    )
    parts: list[str] = []
    offset = 0
    for item, where in records:
        marking = None
        if isinstance(item, dict):
            marking = _marking_of(item, where)
            if top is not None:
                if marking:
                    raw.structural_banners.append((marking, "the top-level marking field"))
                marking = None
        body = "\n".join(_render(item))
        if not body.strip():
            continue
        if parts:
            parts.append("\n\n")
            offset += 2
        raw.blocks.append(Block(offset, offset + len(body), marking=marking, where=where))
        parts.append(body)
        offset += len(body)
    raw.text = "".join(parts)
    assign_lines(raw.text, raw.blocks)
    head = top if isinstance(top, dict) else (records[0][0] if isinstance(records[0][0], dict) else {})
    title = next((str(head[k]) for k in head if k.lower() in TITLE_KEYS and head[k]), None)
    raw.title = title if top is not None and title else PurePath(name).stem
    for key in ("date", "author", "created"):
        if isinstance(head, dict) and key in head and top is not None:
            raw.metadata[key] = str(head[key])
    return raw
