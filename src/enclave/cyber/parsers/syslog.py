"""Linux ``auth.log`` / syslog: BSD (RFC 3164), ISO-timestamped (rsyslog) and RFC 5424 lines.

Authentication outcomes (sshd, PAM, sudo, su) are normalised for the password-spray analytic.
BSD lines carry no year: the scan's reference year is used, moved back one year for dates that
would otherwise lie in the future (a log read in January that starts in December).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from enclave.cyber.model import ParseIssue
from enclave.cyber.parsers.base import iso_utc, normalise_iso
from enclave.cyber.sources import Source

_BSD = re.compile(
    r"^(?:<\d{1,3}>)?(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<time>\d\d:\d\d:\d\d) (?P<host>\S+) "
    r"(?P<prog>[^:\[\s]+)(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)$"
)
_ISO = re.compile(
    r"^(?:<\d{1,3}>)?(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) (?P<host>\S+) "
    r"(?P<prog>[^:\[\s]+)(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)$"
)
_RFC5424 = re.compile(
    r"^<\d{1,3}>1 (?P<ts>\S+) (?P<host>\S+) (?P<prog>\S+) (?P<pid>\S+) (?P<msgid>\S+) "
    r"(?P<sd>-|(?:\[.*?\])+) ?(?P<msg>.*)$"
)
_MONTHS = {m: i for i, m in enumerate(("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec").split(), start=1)}

_AUTH_PATTERNS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (
        re.compile(
            r"Failed (?:password|publickey|keyboard-interactive/pam) for (?:invalid user )?(?P<user>\S+) "
            r"from (?P<ip>[0-9a-fA-F.:]+)"
        ),
        "logon",
        "failure",
    ),
    (
        re.compile(
            r"Accepted (?:password|publickey|keyboard-interactive/pam) for (?P<user>\S+) "
            r"from (?P<ip>[0-9a-fA-F.:]+)"
        ),
        "logon",
        "success",
    ),
    (re.compile(r"authentication failure;.*?rhost=(?P<ip>\S*)\s+user=(?P<user>\S+)"), "logon", "failure"),
    (re.compile(r"Invalid user (?P<user>\S+) from (?P<ip>[0-9a-fA-F.:]+)"), "invalid-user", "failure"),
    (re.compile(r"^\s*(?P<user>\S+) : .*COMMAND=(?P<cmd>.*)$"), "sudo", "success"),
)


def _bsd_time(match: re.Match[str], year: int, now: datetime) -> str | None:
    try:
        hh, mm, ss = (int(x) for x in match.group("time").split(":"))
        stamp = datetime(year, _MONTHS[match.group("mon")], int(match.group("day")), hh, mm, ss, tzinfo=UTC)
    except (KeyError, ValueError):
        return None
    if stamp - now > timedelta(days=1):
        stamp = stamp.replace(year=year - 1)
    return iso_utc(stamp)


def parse_line(line: str, year: int, now: datetime) -> dict[str, Any] | None:
    """The fields of one syslog line, or None when it is not syslog."""
    match = _BSD.match(line)
    ts: str | None
    if match:
        ts = _bsd_time(match, year, now)
    else:
        match = _ISO.match(line) or _RFC5424.match(line)
        if not match:
            return None
        ts = normalise_iso(match.group("ts"))
    if ts is None:
        return None
    pid = match.group("pid")
    out: dict[str, Any] = {
        "host": match.group("host"),
        "program": match.group("prog"),
        "pid": pid if pid not in (None, "-") else None,
        "message": match.group("msg"),
        "_ts": ts,
        "_host": match.group("host"),
        "_proc": match.group("prog"),
    }
    for pattern, action, outcome in _AUTH_PATTERNS:
        found = pattern.search(out["message"])
        if found:
            groups = found.groupdict()
            out["_action"] = action
            out["_outcome"] = outcome
            out["_user"] = groups.get("user")
            out["_src_ip"] = groups.get("ip") or None
            if "cmd" in groups:
                out["command"] = groups["cmd"]
            break
    return out


def parse(
    source: Source, issues: list[ParseIssue], *, year: int | None = None, now: datetime | None = None
) -> Iterator[dict[str, Any]]:
    now = now or datetime.now(UTC)
    year = year or now.year
    service = (
        "auth" if "auth" in source.name.rsplit("/", 1)[-1].lower() or "secure" in source.name.lower() else "syslog"
    )
    with source.open() as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not line.strip():
                continue
            event = parse_line(line, year, now)
            if event is None:
                issues.append(ParseIssue(source.name, number, "line", "not a syslog line (no timestamp/host/program)"))
                continue
            event.update({"_src": source.name, "_rec": f"line {number}", "_product": "linux", "_service": service})
            yield event
