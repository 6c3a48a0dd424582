"""docs/audit.md is enough to verify a log: its independent verifier runs against real logs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .conftest import copy_home, db

DOC = Path(__file__).resolve().parents[2] / "docs" / "audit.md"


def independent_verifier(tmp_path: Path) -> Path:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(r"<!-- independent-verifier -->\s*```python\n(.*?)```", text, re.S)
    assert match, "docs/audit.md lost its independent verifier"
    script = tmp_path / "independent_verifier.py"
    script.write_text(match.group(1))
    return script


def run_it(script: Path, settings) -> subprocess.CompletedProcess[str]:
    pub = settings.in_home(settings.audit.key_path).with_suffix(".pub")
    return subprocess.run(
        [sys.executable, str(script), str(settings.in_home(settings.audit.path)), str(pub)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_documented_verifier_accepts_a_genuine_log(built_log, tmp_path: Path) -> None:
    home = copy_home(built_log, tmp_path / "home")
    result = run_it(independent_verifier(tmp_path), home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OK: 60 entries, 7 signed heads"


def test_the_documented_verifier_rejects_tampering(built_log, tmp_path: Path) -> None:
    script = independent_verifier(tmp_path)
    edits = {
        "edit": "UPDATE entries SET body = replace(body, '\"n\":7', '\"n\":8') WHERE seq = 8",
        "delete": "DELETE FROM entries WHERE seq = 30",
        "truncate": "DELETE FROM entries WHERE seq >= 55",
    }
    for name, sql in edits.items():
        home = copy_home(built_log, tmp_path / name)
        db(home).execute(sql)
        result = run_it(script, home)
        assert result.returncode != 0, name
        assert "AssertionError" in result.stderr, (name, result.stderr)
