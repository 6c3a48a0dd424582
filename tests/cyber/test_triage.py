"""Triage: built from alert facts and fixed evidence queries, label-marked, credited, audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enclave.cyber.marking import resolve_label
from enclave.cyber.scan import ScanOptions, run_scan
from enclave.cyber.triage import clean_model_text
from enclave.engines.base import ChatResult, Usage

from .conftest import DATA
from .test_sigma import GOOD


class FakeEngine:
    """Records prompts; answers with text that also tries to smuggle in a marking."""

    model_id = "fake-model"
    model_sha256 = None

    def __init__(self, text: str = "UNCLASSIFIED\nHost ws01.corp ran whoami [E1], flagged by [R1].") -> None:
        self.text = text
        self.prompts: list[list] = []

    def chat(self, messages, *, max_tokens=None, temperature=None, stop=None):
        self.prompts.append(list(messages))
        return ChatResult(self.text, Usage(10, 10), self.model_id, "stop")

    def stream(self, *a, **k):  # pragma: no cover - not used by triage
        raise NotImplementedError

    def close(self) -> None:
        pass


def _rules(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "whoami.yml").write_text(GOOD)
    return rules


def test_triage_uses_only_facts_and_is_marked(tmp_path):
    engine = FakeEngine()
    result = run_scan(
        [DATA / "sysmon.jsonl"],
        system_high="NATO SECRET",
        options=ScanOptions(rules_dirs=[_rules(tmp_path)]),
        engine=engine,
    ).to_dict()
    triage = result["incidents"][0]["triage"]
    lines = triage["text"].splitlines()
    label = resolve_label(None, "NATO SECRET")
    assert lines[0] == label.banner and lines[-1] == label.banner  # banner top and bottom
    assert "UNCLASSIFIED" not in triage["summary"]  # markings never come from the model
    assert "Jane Analyst" in triage["text"] and "whoami.yml" in triage["text"]  # rule credit
    assert f"{DATA / 'sysmon.jsonl'} record 501" in triage["text"]  # evidence reference
    system, user = engine.prompts[0]
    assert "ONLY the facts" in system.content and "not" in system.content
    assert "[R1] Whoami Execution (level medium)" in user.content
    assert "[E1]" in user.content and "whoami /all" in user.content
    assert triage["label"]["banner"] == label.banner


def test_clean_model_text_drops_marking_lines():
    assert clean_model_text("TOP SECRET//NOFORN\nsummary\n(U) fine") == "summary\n(U) fine"


def test_triage_is_recorded_in_the_audit_trail(tmp_path, monkeypatch):
    from enclave.audit import open_audit
    from enclave.config import load_settings
    from enclave.home import init_home

    home = tmp_path / "home"
    init_home(home)
    settings = load_settings(home, environ={})
    audit = open_audit(settings)
    try:
        result = run_scan(
            [DATA / "sysmon.jsonl"],
            system_high="NATO SECRET",
            options=ScanOptions(rules_dirs=[_rules(tmp_path)], actor="analyst1"),
            engine=FakeEngine(),
            audit=audit,
        ).to_dict()
    finally:
        audit.close()
    triage_id = result["incidents"][0]["triage"]["audit_id"]
    assert result["audit_id"] > triage_id
    reader = open_audit(settings, readonly=True)
    try:
        triage_entry = reader.entry(triage_id)
        scan_entry = reader.entry(result["audit_id"])
    finally:
        reader.close()
    assert triage_entry["action"] == "cyber.triage" and triage_entry["actor"] == "analyst1"
    details = triage_entry["details"]
    assert details["rules"][0]["author"] == "Jane Analyst" and details["model"] == "fake-model"
    assert details["evidence"][0].endswith("sysmon.jsonl#501")
    assert details["label"]["banner"] == result["label"]["banner"]
    assert scan_entry["action"] == "cyber.scan" and scan_entry["details"]["events"] == 3


@pytest.mark.slow
def test_triage_with_the_real_bundled_model(tmp_path):
    from enclave.config import load_settings
    from enclave.engines import create_engine
    from enclave.home import init_home

    home = tmp_path / "home"
    init_home(home)
    settings = load_settings(home, environ={"ENCLAVE_ENGINE__N_CTX": "2048"})
    engine = create_engine(settings)
    try:
        result = run_scan(
            [DATA / "sysmon.jsonl"],
            system_high="NATO SECRET",
            options=ScanOptions(rules_dirs=[_rules(tmp_path)], triage_limit=1),
            engine=engine,
        ).to_dict()
    finally:
        engine.close()
    triage = result["incidents"][0]["triage"]
    assert triage["model"] == engine.model_id and triage["summary"].strip()
    assert triage["text"].splitlines()[0] == triage["label"]["banner"] == triage["text"].splitlines()[-1]
    assert "Jane Analyst" in triage["text"]
    json.dumps(result)  # the whole result stays JSON-serialisable


def test_model_restated_rule_credit_is_dropped():
    text = "[R1] Local Accounts Discovery (level low, rule by Someone Wrong)\nHost ws01 ran whoami [E1]."
    assert clean_model_text(text) == "Host ws01 ran whoami [E1]."
