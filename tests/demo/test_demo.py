"""``make demo`` end to end on a slice of the sample corpus: real model, store, guards and audit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[2] / "samples" / "corpus"
USERS = ("press.officer", "staff.officer", "j2.analyst", "aus.liaison", "ukr.observer")
SLICE = [
    "press/press-release-01.txt",
    "admin/admin-instruction-01.txt",
    "ops/opord-01.txt",
    "partner/aus-liaison-brief.txt",
    "refused/unmarked-note.txt",
]


def _section(out: str, title: str) -> str:
    """The lines after the rich rule whose title contains ``title``, up to the next rule."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("─") and title in line)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("─")), len(lines))
    return "\n".join(lines[start + 1 : end])


@pytest.mark.slow
def test_demo_answers_each_user_at_their_own_level(tmp_path):
    corpus = tmp_path / "corpus"
    for rel in SLICE:
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(CORPUS / rel, corpus / rel)
    env = {**os.environ, "ENCLAVE_HOME": str(tmp_path / "home"), "COLUMNS": "200", "ENCLAVE_ENGINE__N_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "enclave.demo", str(corpus)], env=env, capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "4 ingested" in out and "1 refused" in out and "unmarked-note.txt" in out
    by_user = {name: _section(out, f" {name} — ") for name in USERS}
    # the same question, marked at each user's own level, with nothing from above it
    assert "NATO SECRET" not in by_user["press.officer"] and "12,500" not in by_user["press.officer"]
    assert "NATO SECRET" not in by_user["staff.officer"] and "12,500" not in by_user["staff.officer"]
    assert "NATO SECRET" in by_user["j2.analyst"]
    assert "12,500" not in by_user["aus.liaison"] and "7,800" not in by_user["aus.liaison"]
    assert "REL TO AUS, NATO" in by_user["aus.liaison"]
    # nothing is released to Ukraine: the plain no-answer, no source, no count, no hint
    assert "The sources available to you do not answer this question." in by_user["ukr.observer"]
    assert "Sources" not in by_user["ukr.observer"] and "3,000" not in by_user["ukr.observer"]
    assert "Request refused" in out
    assert "audit verify: OK" in out
