"""From rule hits to alerts, and from alerts to incidents (host, time window, ATT&CK mapping).

An incident gathers the alerts of one host (or network source) whose times lie within
``gap`` of each other. Its severity is the highest alert level, raised one step when the alerts
span three or more ATT&CK tactics (a chain is worse than its links).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from enclave.cyber.attack import tactics_of, techniques_of
from enclave.cyber.model import LEVELS, Alert, Incident, level_rank
from enclave.cyber.sigma_run import RunResult
from enclave.cyber.store import EventStore

MAX_ALERTS_PER_RULE = 1000  # per-event alerts materialised per rule; the hit count is always exact


def alerts_from_hits(store: EventStore, run: RunResult) -> tuple[list[Alert], dict[str, int]]:
    """One alert per matched event (per group for correlations), and the exact hit count per rule."""
    alerts: list[Alert] = []
    counts: dict[str, int] = {}
    for hits in run.hits:
        meta = hits.rule.meta
        counts[meta.id or meta.title] = counts.get(meta.id or meta.title, 0) + len(hits.rowids)
        if hits.groups:
            for group in hits.groups:
                evidence = store.evidence(group["rowids"][:50])
                times = sorted(e.time for e in evidence if e.time)
                first = evidence[0] if evidence else None
                alerts.append(
                    Alert(
                        meta,
                        evidence,
                        times[0] if times else None,
                        times[-1] if times else None,
                        first.host if first else None,
                        first.user if first else None,
                        {"group": group["group"], "events": group["count"]},
                    )
                )
            continue
        for ev in store.evidence(hits.rowids[:MAX_ALERTS_PER_RULE]):
            alerts.append(Alert(meta, [ev], ev.time, ev.time, ev.host, ev.user))
    return alerts, counts


def _parse(ts: str | None) -> datetime | None:
    if not ts:
        return None
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None


def build_incidents(alerts: list[Alert], gap: timedelta = timedelta(hours=1)) -> list[Incident]:
    """Group alerts by host and time proximity; most severe first."""
    by_host: dict[str, list[Alert]] = defaultdict(list)
    for alert in alerts:
        by_host[(alert.host or "unknown host").lower()].append(alert)
    groups: list[list[Alert]] = []
    for host_alerts in by_host.values():
        host_alerts.sort(key=lambda a: a.first_seen or "")
        current: list[Alert] = []
        last: datetime | None = None
        for alert in host_alerts:
            start = _parse(alert.first_seen)
            if current and start is not None and last is not None and start - last > gap:
                groups.append(current)
                current = []
                last = None
            current.append(alert)
            end = _parse(alert.last_seen) or start
            if end is not None and (last is None or end > last):
                last = end
        if current:
            groups.append(current)
    incidents = [_incident(group) for group in groups]
    incidents.sort(key=lambda i: (-level_rank(i.severity), i.first_seen or ""))
    for number, incident in enumerate(incidents, start=1):
        incident.id = f"INC-{number:04d}"
    return incidents


def _incident(alerts: list[Alert]) -> Incident:
    tags = [t for a in alerts for t in a.rule.tags]
    tactics = tactics_of(tags)
    level = max((a.rule.level for a in alerts), key=level_rank)
    rank = level_rank(level)
    if len(tactics) >= 3 and rank < len(LEVELS) - 1:
        rank += 1
    firsts = [a.first_seen for a in alerts if a.first_seen]
    lasts = [a.last_seen for a in alerts if a.last_seen]
    users = sorted({a.user for a in alerts if a.user} | {e.user for a in alerts for e in a.evidence if e.user})
    return Incident(
        id="",
        host=alerts[0].host,
        users=users[:20],
        first_seen=min(firsts) if firsts else None,
        last_seen=max(lasts) if lasts else None,
        severity=LEVELS[rank],
        tactics=tactics,
        techniques=techniques_of(tags),
        alerts=alerts,
    )


def tactic_matrix(incidents: list[Incident]) -> dict[str, dict[str, Any]]:
    """For the report: per tactic, the techniques seen and how many alerts carried each."""
    matrix: dict[str, dict[str, Any]] = {}
    for incident in incidents:
        for alert in incident.alerts:
            techniques = techniques_of(alert.rule.tags) or ["(no technique)"]
            for tactic in tactics_of(alert.rule.tags):
                cell = matrix.setdefault(tactic, {"alerts": 0, "techniques": defaultdict(int)})
                cell["alerts"] += 1
                for technique in techniques:
                    cell["techniques"][technique] += 1
    return {k: {"alerts": v["alerts"], "techniques": dict(v["techniques"])} for k, v in matrix.items()}
