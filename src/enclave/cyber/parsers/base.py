"""Normalised columns every parser fills (as far as its format allows) and small shared helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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


def normalise_iso(text: str | None) -> str | None:
    """Parse the ISO-ish timestamps logs use ("2024-01-02 03:04:05.123", "...Z", "+00:00")."""
    if not text:
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
