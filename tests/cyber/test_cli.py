"""``enclave cyber scan`` end to end through the typer app: JSON, report, label, errors."""

from __future__ import annotations

import json
import zipfile

from typer.testing import CliRunner

from enclave.cli.main import app

from .conftest import DATA
from .test_sigma import GOOD

runner = CliRunner()


def _env(tmp_path):
    return {"ENCLAVE_HOME": str(tmp_path / "home")}


def test_scan_mixed_inputs_json_and_report(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "whoami.yml").write_text(GOOD)
    bundle = tmp_path / "bundle.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        for name in ("auth.log", "conn.log", "dns.log", "eve.json"):
            zf.write(DATA / name, f"logs/{name}")
    report = tmp_path / "report.html"
    result = runner.invoke(
        app,
        [
            "cyber",
            "scan",
            str(DATA / "sysmon.jsonl"),
            str(bundle),
            "--rules",
            str(rules),
            "--label",
            "NATO RESTRICTED",
            "--json",
            "--report",
            str(report),
        ],
        env=_env(tmp_path),
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["label"]["banner"] == "NATO RESTRICTED"
    assert data["summary"]["formats"] == {"winjson": 3, "syslog": 6, "zeek": 5, "suricata": 3}
    issues = {(i["source"].rsplit("/", 1)[-1], i["offset"]) for i in data["parse_issues"]}
    assert ("sysmon.jsonl", 4) in issues and ("auth.log", 6) in issues and ("conn.log", 11) in issues
    assert data["rule_hits"][0]["author"] == "Jane Analyst"
    html = report.read_text()
    assert html.count("NATO RESTRICTED</div>") == 2


def test_default_label_is_system_high(tmp_path):
    result = runner.invoke(app, ["cyber", "scan", str(DATA / "auth.log"), "--json"], env=_env(tmp_path))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["label"]["banner"] == "NATO SECRET"


def test_unknown_label_fails_closed(tmp_path):
    result = runner.invoke(
        app, ["cyber", "scan", str(DATA / "auth.log"), "--label", "SUPER DUPER SECRET"], env=_env(tmp_path)
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, Exception) and "label" in str(result.exception).lower()


def test_missing_rules_dir_is_a_clear_error(tmp_path):
    result = runner.invoke(
        app, ["cyber", "scan", str(DATA / "auth.log"), "--rules", str(tmp_path / "nope")], env=_env(tmp_path)
    )
    assert result.exit_code != 0 and "rules directory" in str(result.exception)


def test_events_kept_in_a_new_database_and_never_overwritten(tmp_path):
    import sqlite3

    db = tmp_path / "events.db"
    args = ["cyber", "scan", str(DATA / "auth.log"), "--db", str(db), "--json"]
    assert runner.invoke(app, args, env=_env(tmp_path)).exit_code == 0
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT _src, _rec, _user FROM logs ORDER BY rowid").fetchall()
    label = json.loads(conn.execute("SELECT value FROM scan_meta WHERE key = 'label'").fetchone()[0])
    conn.close()
    assert len(rows) == 6 and rows[0][1] == "line 1" and rows[0][2] == "admin"
    assert label["banner"] == "NATO SECRET"
    again = runner.invoke(app, args, env=_env(tmp_path))
    assert again.exit_code != 0 and "already exists" in str(again.exception)
    assert len(sqlite3.connect(db).execute("SELECT rowid FROM logs").fetchall()) == 6  # untouched
