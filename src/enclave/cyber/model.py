"""Value types shared by the cyber pipeline: issues, rules, alerts, incidents, scan results.

Every alert carries the rule's title, id, author, level, ATT&CK tags and the path of the rule file:
the Detection Rule License requires the author's credit in anything produced from a rule.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

LEVELS = ("informational", "low", "medium", "high", "critical")


def level_rank(level: str) -> int:
    """Order of a Sigma level (unknown levels rank lowest)."""
    return LEVELS.index(level) if level in LEVELS else 0


@dataclass(frozen=True)
class ParseIssue:
    """A record or file that could not be read; the scan goes on without it."""

    source: str
    offset: int | None  # byte offset, line number or record number (see ``unit``)
    unit: str  # "byte", "line", "record", "file"
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RuleMeta:
    """What an alert must say about the rule that produced it."""

    title: str
    id: str
    author: str
    level: str
    tags: tuple[str, ...]
    path: str
    description: str = ""
    status: str = ""
    kind: str = "sigma"  # "sigma", "sigma-correlation", "analytic"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tags"] = list(self.tags)
        return data

    @property
    def techniques(self) -> tuple[str, ...]:
        return tuple(sorted({t.split(".", 1)[1].upper() for t in self.tags if _is_technique(t)}))

    @property
    def tactics(self) -> tuple[str, ...]:
        from enclave.cyber.attack import TACTICS

        names = {t.split(".", 1)[1] for t in self.tags if t.startswith("attack.")}
        return tuple(t for t in TACTICS if t in names)


def _is_technique(tag: str) -> bool:
    return tag.startswith("attack.t") and tag[8:9].isdigit()


@dataclass(frozen=True)
class RuleFailure:
    """A rule that could not be loaded or converted, and why (never silently dropped)."""

    path: str
    title: str
    id: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EvidenceRef:
    """Where an event came from: enough for an analyst to find it in the original file."""

    event: int  # rowid in the scan's event store
    source: str
    record: str  # record id, line number or byte offset as the format provides
    time: str | None
    host: str | None
    user: str | None
    summary: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Alert:
    """One detection: a rule (or analytic) and the events that made it fire."""

    rule: RuleMeta
    evidence: list[EvidenceRef]
    first_seen: str | None
    last_seen: str | None
    host: str | None
    user: str | None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule.to_dict(),
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "host": self.host,
            "user": self.user,
            "details": self.details,
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass
class Incident:
    """Alerts grouped by host/user and time window, with their ATT&CK mapping."""

    id: str
    host: str | None
    users: list[str]
    first_seen: str | None
    last_seen: str | None
    severity: str
    tactics: list[str]
    techniques: list[str]
    alerts: list[Alert]
    triage: dict[str, Any] | None = None

    @property
    def rules(self) -> list[RuleMeta]:
        seen: dict[str, RuleMeta] = {}
        for alert in self.alerts:
            seen.setdefault(alert.rule.id or alert.rule.title, alert.rule)
        return list(seen.values())

    def evidence(self, limit: int = 50) -> list[EvidenceRef]:
        out: list[EvidenceRef] = []
        seen: set[int] = set()
        for alert in self.alerts:
            for ev in alert.evidence:
                if ev.event not in seen:
                    seen.add(ev.event)
                    out.append(ev)
                    if len(out) >= limit:
                        return out
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "host": self.host,
            "users": self.users,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "severity": self.severity,
            "tactics": self.tactics,
            "techniques": self.techniques,
            "rules": [r.to_dict() for r in self.rules],
            "alert_count": len(self.alerts),
            "evidence": [e.to_dict() for e in self.evidence()],
            "triage": self.triage,
        }
