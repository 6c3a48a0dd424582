"""Sigma loading/conversion/execution: failures listed with reasons, correlations, alert metadata."""

from __future__ import annotations

import json
from pathlib import Path

from enclave.cyber.scan import ScanOptions, run_scan
from enclave.cyber.sigma_rules import load_rules
from enclave.cyber.sigma_run import run_rules
from enclave.cyber.store import EventStore

from .conftest import SIGMA, needs_sigma

GOOD = """
title: Whoami Execution
id: 11111111-2222-3333-4444-555555555555
status: test
author: Jane Analyst
level: medium
tags: [attack.discovery, attack.t1033]
logsource: {category: process_creation, product: windows}
detection:
  selection:
    Image|endswith: '\\\\whoami.exe'
  condition: selection
"""
KEYWORDS = """
title: Keyword Rule
id: 22222222-2222-3333-4444-555555555555
author: Someone
logsource: {product: windows, service: system}
detection:
  keywords: ['mimikatz']
  condition: keywords
"""
BROKEN_YAML = "title: [unclosed\n  detection: {"
NO_CONDITION = """
title: No Condition
id: 33333333-2222-3333-4444-555555555555
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image: x
"""
FAILED_LOGON = """
title: Failed Logon
id: 44444444-2222-3333-4444-555555555555
name: failed_logon
author: Base Author
level: low
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 4625
  condition: selection
"""
CORRELATION = """
title: Many Failed Logons From One Address
id: 55555555-2222-3333-4444-555555555555
author: Correlation Author
level: high
tags: [attack.credential-access, attack.t1110]
correlation:
  type: event_count
  rules: [failed_logon]
  group-by: [IpAddress]
  timespan: 5m
  condition: {gte: 5}
"""


def _write(directory: Path, **rules: str) -> Path:
    directory.mkdir(exist_ok=True)
    for name, text in rules.items():
        (directory / f"{name}.yml").write_text(text)
    return directory


def _store(events: list[dict]) -> EventStore:
    from enclave.cyber.parsers.windows import add_meta, flatten_flat

    store = EventStore()
    store.add(add_meta(flatten_flat(e), "test.jsonl", i) for i, e in enumerate(events, start=1))
    store.finish_loading()
    return store


def _proc(image: str, host: str = "ws1") -> dict:
    return {
        "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Computer": host,
        "Image": image,
        "SystemTime": "2026-03-03T10:00:00Z",
    }


def test_failures_are_listed_with_reasons_never_dropped(tmp_path):
    rules = _write(tmp_path / "r", good=GOOD, keywords=KEYWORDS, broken=BROKEN_YAML, nocond=NO_CONDITION)
    ruleset = load_rules([rules])
    assert ruleset.files == 4 and ruleset.loaded == 1
    by_file = {Path(f.path).name: f for f in ruleset.failures}
    assert set(by_file) == {"keywords.yml", "broken.yml", "nocond.yml"}
    assert "keyword" in by_file["keywords.yml"].reason.lower() or "value-only" in by_file["keywords.yml"].reason.lower()
    assert by_file["keywords.yml"].title == "Keyword Rule"
    assert by_file["nocond.yml"].reason


def test_event_rule_alert_keeps_rule_credit(tmp_path):
    ruleset = load_rules([_write(tmp_path / "r", good=GOOD)])
    store = _store([_proc("C:\\Windows\\System32\\WHOAMI.EXE"), _proc("C:\\Windows\\notepad.exe")])
    run = run_rules(store, ruleset)
    assert [len(h.rowids) for h in run.hits] == [1]  # case-insensitive, and only the whoami event
    meta = run.hits[0].rule.meta
    assert (meta.title, meta.author, meta.level) == ("Whoami Execution", "Jane Analyst", "medium")
    assert meta.tags == ("attack.discovery", "attack.t1033") and meta.path.endswith("good.yml")
    assert meta.techniques == ("T1033",) and meta.tactics == ("discovery",)


def test_rule_confined_to_its_log_source(tmp_path):
    ruleset = load_rules([_write(tmp_path / "r", good=GOOD)])
    # Same Image, but a Security 4688 event: the Sysmon process_creation rule must not fire
    store = _store([{"EventID": 4688, "Channel": "Security", "Image": "C:\\x\\whoami.exe"}])
    assert run_rules(store, ruleset).hits == []


def test_dedup_partition_gives_the_same_hits_as_direct_execution(tmp_path, monkeypatch):
    from enclave.cyber import sigma_run

    many = {f"r{i}": GOOD.replace("11111111-2222", f"1111111{i}-2222").replace("whoami", f"tool{i}") for i in range(6)}
    ruleset = load_rules([_write(tmp_path / "r", **many)])
    events = [_proc(f"C:\\bin\\tool{i % 7}.exe", host=f"h{i % 3}") for i in range(300)]
    events += [_proc("C:\\bin\\TOOL1.EXE")]  # case variant: a distinct row under BINARY grouping
    store = _store(events)
    monkeypatch.setattr(sigma_run, "DEDUP_MIN_ROWS", 1)
    deduped = {h.rule.meta.id: h.rowids for h in run_rules(store, ruleset).hits}
    monkeypatch.setattr(sigma_run, "DEDUP_MIN_ROWS", 10**9)
    direct = {h.rule.meta.id: h.rowids for h in run_rules(store, ruleset).hits}
    assert deduped == direct and len(deduped) == 6
    assert sum(len(v) for v in direct.values()) == sum(
        1 for e in events if e["Image"].lower()[-9:-5] == "tool" and e["Image"].lower()[-5] in "012345"
    )


def test_correlation_rule_event_count(tmp_path):
    rules = _write(tmp_path / "r", base=FAILED_LOGON, corr=CORRELATION)
    ruleset = load_rules([rules])
    assert not ruleset.failures, [f.reason for f in ruleset.failures]
    kinds = sorted(r.kind for r in ruleset.rules)
    assert "correlation" in kinds
    events = [
        {
            "EventID": 4625,
            "Channel": "Security",
            "Computer": "dc1",
            "IpAddress": "203.0.113.7",
            "TargetUserName": f"u{i}",
            "SystemTime": f"2026-03-03T10:00:{i:02d}Z",
        }
        for i in range(6)
    ] + [
        {
            "EventID": 4625,
            "Channel": "Security",
            "Computer": "dc1",
            "IpAddress": "198.51.100.1",
            "TargetUserName": "x",
            "SystemTime": "2026-03-03T10:00:00Z",
        }
    ]
    store = _store(events)
    run = run_rules(store, ruleset)
    corr = [h for h in run.hits if h.rule.kind == "correlation"]
    assert len(corr) == 1 and len(corr[0].groups) == 1
    assert corr[0].groups[0]["count"] == 6 and corr[0].rule.meta.author == "Correlation Author"


def test_scan_json_credits_every_rule(tmp_path):
    rules = _write(tmp_path / "r", good=GOOD)
    logs = tmp_path / "logs.jsonl"
    logs.write_text("\n".join(json.dumps({**_proc("C:\\w\\whoami.exe"), "EventRecordID": 7}) for _ in range(1)))
    result = run_scan([logs], system_high="NATO SECRET", options=ScanOptions(rules_dirs=[rules])).to_dict()
    hit = result["rule_hits"][0]
    assert hit["author"] == "Jane Analyst" and hit["path"].endswith("good.yml") and hit["hits"] == 1
    evidence = result["incidents"][0]["evidence"][0]
    assert evidence["source"] == str(logs) and evidence["record"] == "7"
    assert result["incidents"][0]["rules"][0]["author"] == "Jane Analyst"


@needs_sigma
def test_prefilter_and_dedup_never_change_results_on_real_rules_and_samples(monkeypatch):
    """The fast path (distinct rows + literal prefilter) must find exactly what plain SQL finds."""
    from enclave.cyber import sigma_run
    from enclave.cyber.model import ParseIssue
    from enclave.cyber.parsers import evtx as evtx_parser
    from enclave.cyber.sources import expand_paths

    rules_dir = SIGMA / "rules" / "windows"
    # file_access rules have no event id: they run one by one (and are skipped when their fields are empty)
    ruleset = load_rules([rules_dir / "process_creation", rules_dir / "registry" / "registry_set", rules_dir / "file"])
    store = EventStore()
    issues: list[ParseIssue] = []
    samples = sorted((SIGMA / "regression_data").rglob("*.evtx"))
    for source in expand_paths(samples, issues):
        store.add(evtx_parser.parse(source, issues))
    store.finish_loading()
    monkeypatch.setattr(sigma_run, "DEDUP_MIN_ROWS", 1)
    monkeypatch.setattr(sigma_run, "PREFILTER_MIN_ROWS", 1)
    monkeypatch.setattr(sigma_run, "PREFILTER_MIN_RULES", 1)
    fast = {h.rule.meta.id: h.rowids for h in run_rules(store, ruleset).hits}
    monkeypatch.setattr(sigma_run, "DEDUP_MIN_ROWS", 10**9)
    monkeypatch.setattr(sigma_run, "SKIP_EMPTY", False)
    plain = {h.rule.meta.id: h.rowids for h in run_rules(store, ruleset).hits}
    assert fast == plain
    assert len(plain) > 100  # the samples really exercise the rules
