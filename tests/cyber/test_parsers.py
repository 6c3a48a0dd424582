"""Every parser on real-format samples and on broken input: events out, issues with file and offset."""

from __future__ import annotations

from pathlib import Path

from enclave.cyber.model import ParseIssue
from enclave.cyber.parsers import evtx, suricata, syslog, winjson, zeek
from enclave.cyber.parsers.detect import detect
from enclave.cyber.sources import Source, expand_paths

from .conftest import DATA, needs_sigma, regression_evtx


def _source(path: Path) -> Source:
    return next(iter(expand_paths([path], [])))


def _parse(parser, path: Path) -> tuple[list[dict], list[ParseIssue]]:
    issues: list[ParseIssue] = []
    return list(parser(_source(path), issues)), issues


@needs_sigma
def test_evtx_real_sample_is_flattened_like_zircolite():
    events, issues = _parse(evtx.parse, regression_evtx("proc_creation_win_malware_grixba_recon"))
    assert not issues
    event = next(e for e in events if e.get("EventID") == 1)
    assert event["Channel"] == "Microsoft-Windows-Sysmon/Operational"
    assert event["Provider_Name"] == "Microsoft-Windows-Sysmon"
    assert event["Image"].lower().endswith("grb_net.exe")
    assert event["_product"] == "windows" and event["_service"] == "sysmon"
    assert event["_rec"] == str(event["EventRecordID"])
    assert event["_ts"].endswith("Z") and event["_action"] == "process"


@needs_sigma
def test_evtx_corrupt_chunk_is_reported_not_fatal(tmp_path):
    data = bytearray(regression_evtx("proc_creation_win_malware_grixba_recon").read_bytes())
    data[0x1200:0x1400] = b"A" * 0x200  # inside the first chunk's string table
    bad = tmp_path / "bad.evtx"
    bad.write_bytes(bytes(data))
    _events, issues = _parse(evtx.parse, bad)
    assert issues, "a damaged chunk must be reported"
    assert issues[0].source == str(bad) and issues[0].unit == "record"
    assert "record" in issues[0].reason.lower() or "chunk" in issues[0].reason.lower()


def test_evtx_not_an_evtx_file(tmp_path):
    bad = tmp_path / "x.evtx"
    bad.write_bytes(b"ElfFile\x00" + b"\x00" * 10)
    events, issues = _parse(evtx.parse, bad)
    assert events == [] and issues and issues[0].source == str(bad)


def test_windows_json_sysmon_winlogbeat_and_flat():
    events, issues = _parse(winjson.parse, DATA / "sysmon.jsonl")
    assert [e["EventID"] for e in events] == [1, 4625, 4688]
    sysmon, beat, flat = events
    assert sysmon["CommandLine"] == "whoami /all" and sysmon["_rec"] == "501"
    assert beat["TargetUserName"] == "bob" and beat["Channel"] == "Security" and beat["Computer"] == "dc01.corp"
    assert beat["_action"] == "logon" and beat["_outcome"] == "failure" and beat["_src_ip"] == "203.0.113.7"
    assert flat["NewProcessName"].endswith("net.exe") and flat["_action"] == "process"
    assert {(i.offset, i.unit) for i in issues} == {(4, "line"), (5, "line")}
    assert all(i.source.endswith("sysmon.jsonl") for i in issues)


def test_windows_json_array_and_concatenated_documents(tmp_path):
    doc = '{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Image": "a.exe"}'
    (tmp_path / "arr.json").write_text(f"[{doc}, {doc}]")
    (tmp_path / "cat.json").write_text(f'{doc}\n{{\n  "EventID": 3,\n  "Image": "b.exe"\n}}\n')
    assert len(_parse(winjson.parse, tmp_path / "arr.json")[0]) == 2
    events, issues = _parse(winjson.parse, tmp_path / "cat.json")
    assert [e["EventID"] for e in events] == [1, 3] and not issues


def test_syslog_auth_outcomes_and_bad_line():
    events, issues = _parse(syslog.parse, DATA / "auth.log")
    assert len(events) == 6
    assert [i.offset for i in issues] == [6]
    failed_admin, failed_root, accepted, sudo, pam, cron = events
    assert (failed_admin["_user"], failed_admin["_src_ip"], failed_admin["_outcome"]) == (
        "admin",
        "203.0.113.7",
        "failure",
    )
    assert failed_root["_user"] == "root"
    assert (accepted["_outcome"], accepted["_user"]) == ("success", "alice")
    assert sudo["_action"] == "sudo" and sudo["command"] == "/usr/bin/systemctl restart nginx"
    assert pam["_user"] == "bob" and pam["_src_ip"] == "203.0.113.9"
    assert cron["_ts"] == "2026-03-03T10:18:00.123456Z"
    assert all(e["_service"] == "auth" and e["_host"] == "bastion" for e in events)


def test_syslog_year_rollover():
    from datetime import UTC, datetime

    now = datetime(2026, 1, 2, tzinfo=UTC)
    event = syslog.parse_line("Dec 31 23:59:59 h prog: x", 2026, now)
    assert event and event["_ts"].startswith("2025-12-31")


def test_zeek_tsv_conn():
    events, issues = _parse(zeek.parse, DATA / "conn.log")
    assert len(events) == 3 and len(issues) == 1 and issues[0].offset == 11
    first = events[0]
    assert first["id.resp_h"] == "192.0.2.10" and first["_service"] == "conn" and first["_bytes"] == 1536.0
    assert first["_ts"] == "2026-03-03T10:00:00.000000Z"
    assert events[1]["service"] is None  # "-" is Zeek's unset field


def test_zeek_json_dns():
    events, issues = _parse(zeek.parse, DATA / "dns.log")
    assert [e["query"] for e in events] == ["evil-c2.example", "intranet.corp"]
    assert all(e["_service"] == "dns" for e in events)
    assert events[1]["_ts"] == "2026-03-03T10:00:01.000000Z"
    assert len(issues) == 1 and issues[0].offset == 3


def test_suricata_eve():
    events, issues = _parse(suricata.parse, DATA / "eve.json")
    assert [e["event_type"] for e in events] == ["alert", "flow", "dns"]
    assert events[0]["alert.signature"].startswith("ET MALWARE")
    assert events[0]["_ts"] == "2026-03-03T10:00:00.000000Z"
    assert events[1]["_bytes"] == 1536 and events[1]["_action"] == "flow"
    assert [i.offset for i in issues] == [4, 5]


def test_detect_formats(tmp_path):
    expected = {
        "auth.log": "syslog",
        "conn.log": "zeek",
        "dns.log": "zeek",
        "eve.json": "suricata",
        "sysmon.jsonl": "winjson",
    }
    for name, kind in expected.items():
        assert detect(_source(DATA / name)) == kind, name
    (tmp_path / "random.bin").write_bytes(b"\x00\x01binary junk")
    assert detect(_source(tmp_path / "random.bin")) is None
