"""``enclave audit …`` commands, in-process (typer's runner) and once as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from enclave.audit import open_audit
from enclave.audit.errors import AuditVerificationError
from enclave.cli.main import app

from .conftest import db, fill

runner = CliRunner()


@pytest.fixture
def populated(home):
    with open_audit(home) as audit:
        fill(audit, 12, actor="alice")
        audit.append("auth.failure", actor="mallory", details={"reason": "bad token"})
        fill(audit, 3, actor="bob")
    return home


def run(home, *args: str):
    return runner.invoke(app, ["--home", str(home.home), "audit", *args], catch_exceptions=True)


def test_verify_ok_and_tampered(populated) -> None:
    result = run(populated, "verify")
    assert result.exit_code == 0, result.output
    assert "audit log OK: 17 entries" in result.output
    db(populated).execute("UPDATE entries SET body = replace(body, 'mallory', 'mallorz') WHERE seq = 13")
    result = run(populated, "verify")
    assert result.exit_code == 1
    assert "first bad entry: seq 13" in result.output
    result = run(populated, "verify", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["first_bad_seq"] == 13


def test_head_proof_check_proof_round_trip(populated, tmp_path: Path) -> None:
    head = run(populated, "head")
    assert head.exit_code == 0
    head_file = tmp_path / "head.json"
    head_file.write_text(head.stdout)
    assert json.loads(head.stdout)["tree_size"] == 17
    proof = run(populated, "proof", "13")
    assert proof.exit_code == 0, proof.output
    proof_file = tmp_path / "proof.json"
    proof_file.write_text(proof.stdout)
    ok = run(populated, "check-proof", str(proof_file), "--head", str(head_file))
    assert ok.exit_code == 0, ok.output
    assert "entry 13 is included" in ok.output
    forged = json.loads(proof.stdout)
    forged["entry"] = forged["entry"].replace("mallory", "nobody")
    proof_file.write_text(json.dumps(forged))
    bad = run(populated, "check-proof", str(proof_file))
    assert isinstance(bad.exception, AuditVerificationError)


def test_verify_against_an_external_head(populated, tmp_path: Path) -> None:
    head_file = tmp_path / "witnessed.json"
    head_file.write_text(run(populated, "head").stdout)
    with open_audit(populated) as audit:
        fill(audit, 5)
    result = run(populated, "verify", "--against", str(head_file))
    assert result.exit_code == 0, result.output
    assert "consistent with the external head of size 17" in result.output
    consistency = run(populated, "consistency", "--from", "17")
    proof_file = tmp_path / "consistency.json"
    proof_file.write_text(consistency.stdout)
    ok = run(populated, "check-proof", str(proof_file), "--head", str(head_file), "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["kind"] == "consistency"


def test_check_proof_with_only_the_public_key(populated, tmp_path: Path) -> None:
    """An auditor elsewhere has the proof and the .pub file, nothing else."""
    proof_file = tmp_path / "proof.json"
    proof_file.write_text(run(populated, "proof", "3").stdout)
    pub = populated.in_home(populated.audit.key_path).with_suffix(".pub")
    elsewhere = tmp_path / "elsewhere"
    result = runner.invoke(
        app, ["--home", str(elsewhere), "audit", "check-proof", str(proof_file), "--public-key", str(pub)]
    )
    assert result.exit_code == 0, result.output


def test_show_and_export_filters(populated, tmp_path: Path) -> None:
    shown = run(populated, "show", "--user", "bob", "--json")
    assert shown.exit_code == 0
    lines = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [e["actor"] for e in lines] == ["bob"] * 3
    table = run(populated, "show", "--action", "auth.*")
    assert "mallory" in table.output and "alice" not in table.output
    out = tmp_path / "export.jsonl"
    exported = run(populated, "export", "--user", "alice", "--since", "2000-01-01", "-o", str(out))
    assert exported.exit_code == 0
    rows = out.read_text().splitlines()
    assert len(rows) == 12
    stored = db(populated).execute("SELECT body FROM entries WHERE actor = 'alice' ORDER BY seq").fetchall()
    assert rows == [b for (b,) in stored]  # exactly the hashed bytes
    assert run(populated, "export", "--until", "2000-01-01").stdout == ""


def test_real_cli_process(populated, tmp_path: Path) -> None:
    env = {**os.environ, "ENCLAVE_HOME": str(populated.home)}
    cmd = [sys.executable, "-m", "enclave", "audit"]
    ok = subprocess.run([*cmd, "verify"], env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    db(populated).execute("DELETE FROM entries WHERE seq = 4")
    bad = subprocess.run([*cmd, "verify"], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    assert "entry 4 is missing" in bad.stderr
    missing = subprocess.run(
        [*cmd, "check-proof", str(tmp_path / "nope.json")], env=env, capture_output=True, text=True
    )
    assert missing.returncode == 2
    assert "cannot read the proof" in missing.stderr and "Traceback" not in missing.stderr


def test_head_fresh_covers_every_entry(home) -> None:
    audit = open_audit(home)  # head_every_entries = 10: 3 entries stay unsigned while it is open
    try:
        fill(audit, 3)
        assert audit.latest_head()["tree_size"] == 1
        result = run(home, "head", "--fresh")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["tree_size"] == 4
    finally:
        audit.close()


def test_verify_with_a_pinned_public_key_of_another_log(populated, tmp_path: Path) -> None:
    from enclave.audit.keys import ensure_signing_key, public_key_path

    other = tmp_path / "other.pem"
    ensure_signing_key(other)
    result = run(populated, "verify", "--public-key", str(public_key_path(other)))
    assert result.exit_code == 1
    assert "first bad entry: seq 0" in result.output and "is signed by key" in result.output
