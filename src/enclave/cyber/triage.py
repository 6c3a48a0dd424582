"""LLM triage: a short summary per incident, written only from facts the detections established.

The engine is handed the incident's alert facts (rules with their authors, times, ATT&CK mapping)
and the answers of a few fixed evidence queries, numbered so it can cite them. It is asked to
describe, not to judge: what is malicious was decided by the rules and analytics, never by the
model. Enclave itself renders the label banners, the evidence list and the rule credits around
the model's text, so those are always present and correct whatever the model writes.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from enclave.cyber.marking import LogLabel
from enclave.cyber.model import Incident
from enclave.cyber.store import EventStore
from enclave.engines.base import ChatMessage, Engine

SYSTEM_PROMPT = (
    "You are a security operations assistant. Write a short triage summary (3 to 5 sentences) of one "
    "incident using ONLY the facts provided. Do not decide or speculate whether activity is malicious "
    "beyond what the listed detections state, and do not invent hosts, users, files or times. Cite "
    "evidence as [E1], [E2] and detections as [R1], [R2]. Suggest what an analyst should check next."
)

# Lines that look like a classification marking are dropped from model output: markings come
# from the label, never from generated text.
_MARKING_LINE = re.compile(
    r"^\W*(TOP SECRET|SECRET|CONFIDENTIAL|RESTRICTED|UNCLASSIFIED|COSMIC|NATO|OFFICIAL)\b[\sA-Z/\-]*\W*$"
)


def evidence_queries(store: EventStore, incident: Incident) -> dict[str, Any]:
    """The fixed queries whose answers the model may use (parameterised, same for every incident)."""
    host = incident.host
    start, end = incident.first_seen, incident.last_seen
    facts: dict[str, Any] = {}
    if not host or not start or not end:
        return facts
    where = "_host = ? AND _ts BETWEEN ? AND ?"
    params = (host, start, end)
    facts["events_on_host_in_window"] = store.conn.execute(
        f"SELECT count(*) FROM logs WHERE {where}", params
    ).fetchone()[0]
    facts["top_processes"] = [
        {"image": r[0], "count": r[1]}
        for r in store.conn.execute(
            f"SELECT _proc, count(*) FROM logs WHERE {where} AND _action = 'process' AND _proc IS NOT NULL "
            "GROUP BY lower(_proc) ORDER BY count(*) DESC LIMIT 5",
            params,
        )
    ]
    facts["logons"] = [
        {"user": r[0], "outcome": r[1], "count": r[2]}
        for r in store.conn.execute(
            f"SELECT _user, _outcome, count(*) FROM logs WHERE {where} AND _action = 'logon' "
            "GROUP BY lower(_user), _outcome ORDER BY count(*) DESC LIMIT 5",
            params,
        )
    ]
    facts["connections"] = [
        {"destination": r[0], "port": r[1], "count": r[2]}
        for r in store.conn.execute(
            "SELECT _dst_ip, _dst_port, count(*) FROM logs WHERE (_host = ? OR _src_ip = ?) AND _ts BETWEEN ? AND ? "
            "AND _dst_ip IS NOT NULL GROUP BY _dst_ip, _dst_port ORDER BY count(*) DESC LIMIT 5",
            (host, host, start, end),
        )
    ]
    return facts


def build_facts(store: EventStore, incident: Incident, max_evidence: int = 8) -> dict[str, Any]:
    rules = incident.rules
    evidence = incident.evidence(max_evidence)
    return {
        "incident": incident.id,
        "host": incident.host,
        "users": incident.users,
        "first_seen": incident.first_seen,
        "last_seen": incident.last_seen,
        "severity": incident.severity,
        "tactics": incident.tactics,
        "techniques": incident.techniques,
        "rules": [
            {"ref": f"R{i}", "title": r.title, "level": r.level, "author": r.author, "id": r.id, "path": r.path}
            for i, r in enumerate(rules, start=1)
        ],
        "evidence": [
            {"ref": f"E{i}", "source": e.source, "record": e.record, "time": e.time, "summary": e.summary}
            for i, e in enumerate(evidence, start=1)
        ],
        "queries": evidence_queries(store, incident),
    }


def _prompt(facts: dict[str, Any]) -> str:
    lines = [
        f"Incident {facts['incident']} on host {facts['host']} from {facts['first_seen']} to {facts['last_seen']}.",
        f"Severity (from the detections): {facts['severity']}.",
        f"Users: {', '.join(facts['users']) or 'none recorded'}.",
        f"ATT&CK tactics: {', '.join(facts['tactics']) or 'none'}; "
        f"techniques: {', '.join(facts['techniques']) or 'none'}.",
        "Detections:",
        # Authors are credited by Enclave around the summary, not restated (and garbled) by the model
        *[f"[{r['ref']}] {r['title']} (level {r['level']})" for r in facts["rules"][:10]],
        "Evidence events:",
        *[f"[{e['ref']}] {e['time']} {e['summary']}" for e in facts["evidence"]],
    ]
    queries = facts.get("queries") or {}
    if queries:
        lines.append(f"Events on the host in the window: {queries.get('events_on_host_in_window')}.")
        if queries.get("top_processes"):
            lines.append(
                "Most frequent processes: " + "; ".join(f"{p['image']} x{p['count']}" for p in queries["top_processes"])
            )
        if queries.get("logons"):
            lines.append(
                "Logons: " + "; ".join(f"{lg['user']} {lg['outcome']} x{lg['count']}" for lg in queries["logons"])
            )
        if queries.get("connections"):
            lines.append(
                "Connections: "
                + "; ".join(f"{c['destination']}:{c['port']} x{c['count']}" for c in queries["connections"])
            )
    return "\n".join(lines)


# Rule credit is rendered by Enclave from the rule files; a small model that restates it gets
# authors wrong, so its own "rule by ..." lines are dropped.
_CREDIT_LINE = re.compile(r"\brule by\b|\bauthor(ed)? by\b", re.IGNORECASE)


def clean_model_text(text: str) -> str:
    """Model output without marking-like lines or restated rule credits."""
    kept = [
        line
        for line in text.strip().splitlines()
        if not _MARKING_LINE.match(line.strip()) and not _CREDIT_LINE.search(line)
    ]
    return "\n".join(kept).strip()


def render(label: LogLabel, facts: dict[str, Any], summary: str) -> str:
    """The triage note as a person reads it: banner, summary, evidence, rule credits, banner."""
    lines = [
        label.banner,
        "",
        f"Triage of {facts['incident']} ({facts['severity']}) on {facts['host']}",
        "",
        summary,
        "",
    ]
    lines.append("Evidence:")
    lines += [
        f"  [{e['ref']}] {e['source']} record {e['record']} at {e['time']}: {e['summary']}" for e in facts["evidence"]
    ]
    lines.append("Detections (Sigma rules are credited to their authors under the Detection Rule License):")
    lines += [f"  [{r['ref']}] {r['title']} - {r['level']} - by {r['author']} - {r['path']}" for r in facts["rules"]]
    lines += ["", label.banner]
    return "\n".join(lines)


def triage_incident(
    engine: Engine, store: EventStore, incident: Incident, label: LogLabel, *, max_tokens: int = 220
) -> dict[str, Any]:
    """Ask the engine for a summary of ``incident``; returns the triage record (label-marked)."""
    facts = build_facts(store, incident)
    result = engine.chat(
        [ChatMessage("system", SYSTEM_PROMPT), ChatMessage("user", _prompt(facts))],
        max_tokens=max_tokens,
        temperature=0.0,
    )
    summary = clean_model_text(result.text) or "(the model returned no usable text; see the facts below)"
    text = render(label, facts, summary)
    return {
        "incident": incident.id,
        "label": label.to_dict(),
        "summary": summary,
        "text": text,
        "facts": facts,
        "model": engine.model_id,
        "model_sha256": engine.model_sha256,
        "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
    }


def audit_details(record: dict[str, Any]) -> dict[str, Any]:
    """What the audit trail keeps of a triage: references and hashes, not the log contents."""
    facts = record["facts"]
    return {
        "incident": record["incident"],
        "label": record["label"],
        "model": record["model"],
        "model_sha256": record["model_sha256"],
        "text_sha256": record["text_sha256"],
        "rules": [{"id": r["id"], "title": r["title"], "author": r["author"]} for r in facts["rules"]],
        "evidence": [f"{e['source']}#{e['record']}" for e in facts["evidence"]],
    }
