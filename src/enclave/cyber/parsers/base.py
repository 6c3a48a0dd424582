"""Normalised columns every parser fills (as far as its format allows) and small shared helpers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

from enclave.cyber.model import ParseIssue

# Normalised columns: the evidence reference and the cross-format fields the analytics read.
META_COLUMNS: tuple[str, ...] = (
    "_src",  # source file (archive members as "a.zip!b.evtx")
    "_rec",  # record id / line number / byte offset in the source
    "_ts",  # event time, ISO 8601 UTC with microseconds ("2024-01-02T03:04:05.000000Z")
    "_product",  # windows | linux | zeek | suricata
    "_service",  # sysmon, security, auth, conn, dns, http, ssl, eve ...
    "_host",
    "_user",
    "_src_ip",
    "_dst_ip",
    "_dst_port",
    "_proc",  # process image / program name
    "_action",  # logon, process, conn, dns, http, ssl, alert ...
    "_outcome",  # success | failure
    "_bytes",
)


def iso_utc(value: datetime) -> str:
    """Canonical timestamp text: sortable, comparable in SQL, understood by julianday()."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_from_epoch(seconds: float) -> str:
    return iso_utc(datetime.fromtimestamp(seconds, tz=UTC))


_LONG_BYTES = re.compile(rb"\d{19}")
_LONG_TEXT = re.compile(r"\d{19}")


def loads(data: str | bytes) -> Any:
    """JSON decoding at orjson's speed, with the standard library's exact results and errors.

    orjson refuses a few things ``json`` accepts (lone surrogates, NaN, infinite numbers) and reads
    integers beyond 64 bits as floats; those documents (any run of 19 digits, even inside a string,
    sends one to ``json``) are decoded by ``json``, so what a scan reads does not depend on the decoder.
    """
    long_number = _LONG_BYTES.search(data) if isinstance(data, bytes) else _LONG_TEXT.search(data)
    if long_number is None:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


# The canonical form ``iso_utc`` writes (evtx and most exports already use it): kept as it is
_CANONICAL = re.compile(r"[1-9]\d{3}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def normalise_iso(text: str | None) -> str | None:
    """Parse the ISO-ish timestamps logs use ("2024-01-02 03:04:05.123", "...Z", "+00:00")."""
    if not text:
        return None
    if type(text) is str and _CANONICAL.fullmatch(text):
        try:
            datetime.fromisoformat(text[:-1])  # a real date and time: the slow path would print it unchanged
            return text
        except ValueError:
            return None
    raw = str(text).strip().replace(" UTC", "")
    if raw.endswith("Z"):
        raw = raw[:-1] + "+00:00"
    raw = raw.replace(" ", "T", 1)
    # Python's fromisoformat accepts at most 6 fractional digits
    if "." in raw:
        head, _, tail = raw.partition(".")
        digits = ""
        rest = ""
        for i, ch in enumerate(tail):
            if not ch.isdigit():
                rest = tail[i:]
                break
            digits += ch
        raw = f"{head}.{digits[:6].ljust(6, '0')}{rest}"
    try:
        return iso_utc(datetime.fromisoformat(raw))
    except ValueError:
        return None


def scalar(value: Any) -> Any:
    """A value SQLite can hold: lists and dicts become compact text, bools 'true'/'false'."""
    if value is None or isinstance(value, (str, int, float)):
        return value if not isinstance(value, bool) else ("true" if value else "false")
    if isinstance(value, list):
        return " ".join(str(scalar(v)) for v in value)
    return str(value)


def json_records(
    lines: Iterable[str | bytes], source_name: str, issues: list[ParseIssue], *, required: str, what: str
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each JSON-object line that has ``required``; bad lines become issues.

    Shared by the line-oriented JSON formats (Zeek JSON, Suricata EVE) so a broken record is
    reported the same way everywhere and never stops the scan.
    """
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            issues.append(ParseIssue(source_name, number, "line", f"invalid JSON: {exc}"))
            continue
        if not isinstance(doc, dict) or required not in doc:
            issues.append(ParseIssue(source_name, number, "line", f"not a {what} (no {required})"))
            continue
        yield number, doc
