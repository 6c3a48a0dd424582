"""Grouping alerts into incidents: host, time window, severity, ATT&CK mapping, evidence."""

from __future__ import annotations

from datetime import timedelta

from enclave.cyber.incidents import build_incidents, tactic_matrix
from enclave.cyber.model import Alert, EvidenceRef, RuleMeta


def _rule(title: str, level: str, *tags: str) -> RuleMeta:
    return RuleMeta(
        title=title,
        id=title.lower().replace(" ", "-"),
        author="A. Author",
        level=level,
        tags=tags,
        path=f"rules/{title}.yml",
    )


def _alert(rule: RuleMeta, host: str, ts: str, event: int, user: str | None = None) -> Alert:
    ev = EvidenceRef(
        event=event,
        source="Security.evtx",
        record=str(1000 + event),
        time=ts,
        host=host,
        user=user,
        summary="EventID 1",
    )
    return Alert(rule, [ev], ts, ts, host, user)


EXEC = _rule("Suspicious Shell", "medium", "attack.execution", "attack.t1059.001")
CRED = _rule("LSASS Access", "high", "attack.credential-access", "attack.t1003.001")
DISC = _rule("Domain Recon", "low", "attack.discovery", "attack.t1087.002")
PERS = _rule("Run Key", "medium", "attack.persistence", "attack.t1547.001")


def test_grouping_by_host_and_time_gap():
    alerts = [
        _alert(EXEC, "ws1", "2026-03-03T10:00:00.000000Z", 1, "alice"),
        _alert(DISC, "WS1", "2026-03-03T10:20:00.000000Z", 2),  # same host, other case, within the gap
        _alert(CRED, "ws1", "2026-03-03T10:50:00.000000Z", 3, "bob"),
        _alert(PERS, "ws1", "2026-03-03T14:00:00.000000Z", 4),  # more than an hour later: a new incident
        _alert(EXEC, "ws2", "2026-03-03T10:05:00.000000Z", 5),
    ]
    incidents = build_incidents(alerts, timedelta(hours=1))
    assert len(incidents) == 3
    first = incidents[0]
    # three tactics in one incident: severity raised one step above its highest alert (high -> critical)
    assert first.severity == "critical" and first.id == "INC-0001"
    assert first.tactics == ["execution", "credential-access", "discovery"]
    assert first.techniques == ["T1003.001", "T1059.001", "T1087.002"]
    assert (first.first_seen, first.last_seen) == ("2026-03-03T10:00:00.000000Z", "2026-03-03T10:50:00.000000Z")
    assert first.users == ["alice", "bob"]
    assert [e.record for e in first.evidence()] == ["1001", "1002", "1003"]
    assert sorted(i.severity for i in incidents[1:]) == ["medium", "medium"]
    data = first.to_dict()
    assert {r["author"] for r in data["rules"]} == {"A. Author"} and data["alert_count"] == 3


def test_tactic_matrix_counts():
    incidents = build_incidents(
        [_alert(EXEC, "h", "2026-03-03T10:00:00Z", 1), _alert(EXEC, "h", "2026-03-03T10:01:00Z", 2)]
    )
    assert tactic_matrix(incidents) == {"execution": {"alerts": 2, "techniques": {"T1059.001": 2}}}
