"""The cyber scan service: logs in; detections, incidents, triage and a report out.

``run_scan`` is what the CLI (``enclave cyber scan``) and the server (``POST /v1/cyber/scans``)
call. It never dies on a bad record or file: those are counted and reported with file and offset.
The logs' label is resolved first and marks everything the scan produces.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from enclave.cyber.analytics import AnalyticsConfig, run_analytics
from enclave.cyber.errors import CyberError
from enclave.cyber.incidents import alerts_from_hits, build_incidents, tactic_matrix
from enclave.cyber.ingest import gc_paused, ingest, use_worker
from enclave.cyber.marking import LogLabel, resolve_label
from enclave.cyber.sigma_rules import RuleSet, load_rules
from enclave.cyber.sigma_run import run_rules
from enclave.cyber.sigma_stream import StreamingRules
from enclave.cyber.sources import Limits
from enclave.cyber.store import EventStore

# progress(stage, done, total): stages are "rules", "parse", "detect", "triage"
Progress = Callable[[str, int, int | None], None]

AUDIT_SCAN = "cyber.scan"
AUDIT_TRIAGE = "cyber.triage"


@dataclass
class ScanOptions:
    rules_dirs: list[Path] = field(default_factory=list)
    label: str | None = None
    db_path: Path | None = None  # None: an in-memory store for this scan only
    analytics: AnalyticsConfig = field(default_factory=AnalyticsConfig)
    limits: Limits = field(default_factory=Limits)
    incident_gap: timedelta = timedelta(hours=1)
    triage_limit: int = 5  # incidents triaged (most severe first) when an engine is given
    actor: str | None = None
    rules_cache_dir: Path | None = None  # compiled rule sets kept here (the home's cache); None: compile each scan
    parse_worker: bool | None = None  # parse in a second process; None: when the input is large


@dataclass
class ScanResult:
    data: dict[str, Any]
    label: LogLabel

    def to_dict(self) -> dict[str, Any]:
        return self.data


def _noop(stage: str, done: int, total: int | None) -> None:
    return None


# millions of short-lived objects: reference counting frees them (see gc_paused)
@gc_paused()
def run_scan(
    paths: list[Path],
    *,
    system_high: str,
    options: ScanOptions | None = None,
    engine: Any = None,
    audit: Any = None,
    progress: Progress | None = None,
    ruleset: RuleSet | None = None,
) -> ScanResult:
    """Scan ``paths``; ``engine`` enables triage, ``audit`` (an AuditLog) records the scan and triage."""
    options = options or ScanOptions()
    progress = progress or _noop
    if not paths:
        raise CyberError("nothing to scan", hint="give one or more log files, directories or archives")
    label = resolve_label(options.label, system_high)
    if options.db_path is not None and options.db_path.exists():
        raise CyberError(
            f"{options.db_path} already exists; a scan writes its events to a new database",
            hint="choose a new --db file (or omit --db to keep the events in memory)",
        )
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if ruleset is None:
        ruleset = (
            load_rules(options.rules_dirs, lambda d, t: progress("rules", d, t), cache_dir=options.rules_cache_dir)
            if options.rules_dirs
            else RuleSet()
        )
    timings["rules_load_s"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    store = EventStore(options.db_path)
    try:
        store.set_meta("label", label.to_dict())
        worker = use_worker(paths) if options.parse_worker is None else options.parse_worker
        # With a parsing process, event rules match each stored span while the next is parsed
        streaming = StreamingRules(store, ruleset) if worker and ruleset.rules else None
        stats = ingest(
            store,
            paths,
            options.limits,
            worker=worker,
            progress=lambda count: progress("parse", count, None),
            on_rows=streaming.rows_stored if streaming else None,
        )
        issues, formats, sources = stats.issues, stats.formats, stats.sources
        store.finish_loading()
        timings["parse_s"] = time.perf_counter() - t1

        t2 = time.perf_counter()
        detect_progress: Callable[[int, int], None] = lambda d, t: progress("detect", d, t)  # noqa: E731
        run = streaming.finish(detect_progress) if streaming else run_rules(store, ruleset, detect_progress)
        alerts, counts = alerts_from_hits(store, run)
        analytic_alerts = run_analytics(store, options.analytics)
        alerts.extend(analytic_alerts)
        incidents = build_incidents(alerts, options.incident_gap)
        timings["detect_s"] = time.perf_counter() - t2

        t3 = time.perf_counter()
        if engine is not None:
            from enclave.cyber.triage import audit_details, triage_incident

            chosen = incidents[: options.triage_limit]
            for number, incident in enumerate(chosen, start=1):
                record = triage_incident(engine, store, incident, label)
                if audit is not None:
                    record["audit_id"] = audit.append(AUDIT_TRIAGE, actor=options.actor, details=audit_details(record))
                incident.triage = record
                progress("triage", number, len(chosen))
        timings["triage_s"] = time.perf_counter() - t3

        failures = [*ruleset.failures, *run.failures]
        rule_hits = []
        per_rule = Counter(a.rule.id or a.rule.title for a in alerts)  # analytics: one alert each
        seen: set[str] = set()
        for alert in alerts:
            key = alert.rule.id or alert.rule.title
            if key in seen:
                continue
            seen.add(key)
            rule_hits.append(
                {
                    **alert.rule.to_dict(),
                    "hits": counts.get(key, per_rule[key]),
                }
            )
        incident_dicts = [i.to_dict() for i in incidents]
        data: dict[str, Any] = {
            "label": label.to_dict(),
            "generated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "inputs": [str(p) for p in paths],
            "summary": {
                "sources": sources,
                "events": store.count,
                "formats": formats,
                "parse_issues": len(issues),
                "rules_files": ruleset.files,
                "rules_loaded": ruleset.loaded,
                "rules_failed": len(failures),
                "rules_executed": run.executed,
                "rules_skipped_no_logsource": run.skipped,
                "alerts": len(alerts),
                "analytic_alerts": len(analytic_alerts),
                "incidents": len(incidents),
                "triaged": sum(1 for i in incidents if i.triage),
                "timings": {k: round(v, 3) for k, v in timings.items()},
            },
            "incidents": incident_dicts,
            "attack_matrix": tactic_matrix(incidents),
            "rule_hits": rule_hits,
            "rule_failures": [f.to_dict() for f in failures],
            "parse_issues": [i.to_dict() for i in issues],
        }
        if audit is not None:
            data["audit_id"] = audit.append(
                AUDIT_SCAN,
                actor=options.actor,
                details={
                    "inputs": data["inputs"],
                    "label": label.to_dict(),
                    "events": store.count,
                    "alerts": len(alerts),
                    "incidents": len(incidents),
                    "rules_loaded": ruleset.loaded,
                    "rules_failed": len(failures),
                    "parse_issues": len(issues),
                },
            )
        return ScanResult(data=data, label=label)
    finally:
        store.close()
