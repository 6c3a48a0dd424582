"""Parsing in a second process and matching span by span give exactly the one-pass results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enclave.cyber import sigma_run, sigma_stream
from enclave.cyber.errors import CyberError
from enclave.cyber.ingest import ingest
from enclave.cyber.model import ParseIssue
from enclave.cyber.parsers import evtx as evtx_parser
from enclave.cyber.scan import ScanOptions, run_scan
from enclave.cyber.sigma_rules import load_rules
from enclave.cyber.sigma_stream import StreamingRules
from enclave.cyber.sources import Limits, expand_paths
from enclave.cyber.store import EventStore

from .conftest import DATA, SIGMA, needs_sigma
from .test_sigma import CORRELATION, FAILED_LOGON, GOOD, _write


def _samples() -> list[Path]:
    return sorted((SIGMA / "regression_data").rglob("*.evtx"))


def _summary(run: sigma_run.RunResult) -> dict:
    return {
        "hits": [(h.rule.meta.id, h.rowids, h.groups) for h in run.hits],  # order matters: alerts follow it
        "failures": [f.to_dict() for f in run.failures],
        "executed": run.executed,
        "skipped": run.skipped,
    }


@needs_sigma
@pytest.mark.parametrize("span_rows", [17, 60])
def test_span_by_span_equals_one_pass_on_real_rules_and_samples(monkeypatch, span_rows):
    rules_dir = SIGMA / "rules" / "windows"
    ruleset = load_rules([rules_dir / "process_creation", rules_dir / "file" / "file_event"])
    # Small thresholds, so that spans also build distinct-row tables and use the prefilter
    monkeypatch.setattr(sigma_run, "DEDUP_MIN_ROWS", 5)
    monkeypatch.setattr(sigma_run, "PREFILTER_MIN_ROWS", 1)
    monkeypatch.setattr(sigma_run, "PREFILTER_MIN_RULES", 1)
    issues: list[ParseIssue] = []
    streamed, whole = EventStore(), EventStore()
    try:
        streaming = StreamingRules(streamed, ruleset, span_rows=span_rows)
        for source in expand_paths(_samples(), issues):
            events = list(evtx_parser.parse(source, issues))
            for start in range(0, len(events), 7):
                streamed.add(events[start : start + 7])
                streaming.rows_stored(streamed.count)
            whole.add(events)
        assert streamed.count == whole.count > 3 * span_rows
        assert streaming.done_upto > 0  # spans really ran while loading
        streamed.finish_loading()
        whole.finish_loading()
        expected = _summary(sigma_run.run_rules(whole, ruleset))
        assert _summary(streaming.finish()) == expected
        assert len(expected["hits"]) > 100
    finally:
        streamed.close()
        whole.close()


def test_span_by_span_keeps_correlations_and_sql_failures(tmp_path, monkeypatch):
    broken = GOOD.replace("11111111", "99999999").replace("whoami.exe'", "\\ud800'")  # a lone surrogate in SQL
    ruleset = load_rules([_write(tmp_path / "r", good=GOOD, base=FAILED_LOGON, corr=CORRELATION, broken=broken)])
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
    ] + [{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Image": "C:\\x\\whoami.exe"}] * 3
    from enclave.cyber.parsers.windows import add_meta, flatten_flat

    flat = [add_meta(flatten_flat(e), "t.jsonl", i) for i, e in enumerate(events)]
    streamed, whole = EventStore(), EventStore()
    try:
        streaming = StreamingRules(streamed, ruleset, span_rows=2)
        for event in flat:
            streamed.add([dict(event)])
            streaming.rows_stored(streamed.count)
        whole.add(dict(e) for e in flat)
        streamed.finish_loading()
        whole.finish_loading()
        expected = _summary(sigma_run.run_rules(whole, ruleset))
        assert _summary(streaming.finish()) == expected
        assert any(kind == "correlation" for kind in (h.rule.kind for h in sigma_run.run_rules(whole, ruleset).hits))
    finally:
        streamed.close()
        whole.close()


def _result(paths: list[Path], **options) -> dict:
    data = run_scan(paths, system_high="NATO SECRET", options=ScanOptions(**options)).to_dict()
    data.pop("generated")
    data["summary"].pop("timings")
    return data


@needs_sigma
def test_scan_with_parsing_process_equals_in_process(tmp_path, monkeypatch):
    monkeypatch.setattr(sigma_stream, "SPAN_ROWS", 20)  # several spans while the worker parses
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"EventID": 1, "Image": "a"}\n{not json\n')
    rules = [SIGMA / "rules" / "windows" / "process_creation", _write(tmp_path / "r", good=GOOD)]
    paths = [*_samples(), DATA, broken, tmp_path / "r" / "good.yml"]
    in_process = _result(paths, rules_dirs=rules, parse_worker=False)
    worker = _result(paths, rules_dirs=rules, parse_worker=True)
    assert worker == in_process
    assert in_process["summary"]["events"] > 250 and in_process["rule_hits"]
    assert any(i["source"].endswith("broken.jsonl") for i in in_process["parse_issues"])
    assert any("unrecognised" in i["reason"] for i in in_process["parse_issues"])  # the .yml file


def test_parsing_process_reports_errors_like_in_process(tmp_path):
    missing = tmp_path / "nope.evtx"
    errors = []
    for worker in (False, True):
        store = EventStore()
        try:
            with pytest.raises(CyberError) as caught:
                ingest(store, [missing], Limits(), worker=worker)
            errors.append((type(caught.value), caught.value.message, caught.value.hint))
        finally:
            store.close()
    assert errors[0] == errors[1] and "no such file" in errors[0][1]


def test_parsing_process_streams_json_lines(tmp_path):
    logs = tmp_path / "many.jsonl"
    logs.write_text(
        "\n".join(json.dumps({"EventID": 1, "Image": f"C:\\p{i}.exe", "EventRecordID": i}) for i in range(12_000))
    )
    counts = []
    for worker in (False, True):
        store = EventStore()
        try:
            seen: list[int] = []
            stats = ingest(store, [logs], Limits(), worker=worker, on_rows=seen.append)
            rows = store.conn.execute("SELECT rowid, Image, _rec FROM logs ORDER BY rowid").fetchall()
            counts.append((stats.sources, stats.formats, rows, seen))
        finally:
            store.close()
    assert counts[0] == counts[1]
    assert counts[0][1] == {"winjson": 12_000} and counts[0][3] == [5000, 10000, 12000]


def test_gc_is_paused_during_a_scan_and_restored_after(tmp_path):
    import gc

    from enclave.cyber import ingest as ingest_module

    seen = []
    with ingest_module.gc_paused():
        seen.append(gc.isenabled())
    with pytest.raises(CyberError), ingest_module.gc_paused():
        seen.append(gc.isenabled())
        raise CyberError("boom")
    assert seen == [False, False] and gc.isenabled()
    logs = tmp_path / "a.jsonl"
    logs.write_text(json.dumps({"EventID": 1, "Image": "x"}))
    run_scan([logs], system_high="NATO SECRET")
    assert gc.isenabled()
