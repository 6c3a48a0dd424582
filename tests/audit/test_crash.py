"""kill -9 in the middle of a burst of appends: nothing acknowledged is lost, the log verifies, and
the next writer records the unclean shutdown and signs a head over the unsigned tail."""

from __future__ import annotations

import signal
import subprocess
import sys

from enclave.audit import open_audit

from .conftest import verify

BURST = """
import sys, threading
from enclave.config import load_settings
from enclave.audit import open_audit

log = open_audit(load_settings(sys.argv[1], environ={"ENCLAVE_AUDIT__HEAD_EVERY_ENTRIES": "100000"}))
lock = threading.Lock()

def burst(name):
    i = 0
    while True:
        seq = log.append("ask", actor=name, details={"i": i, "pad": "x" * 200})
        with lock:
            sys.stdout.write(f"{seq}\\n")
            sys.stdout.flush()
        i += 1

for t in range(4):
    threading.Thread(target=burst, args=(f"user{t}",), daemon=True).start()
threading.Event().wait()
"""


def test_kill_9_during_a_burst_then_clean_verify(home) -> None:
    proc = subprocess.Popen([sys.executable, "-c", BURST, str(home.home)], stdout=subprocess.PIPE, text=True)
    acknowledged: list[int] = []
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            acknowledged.append(int(line))
            if len(acknowledged) >= 400:
                break
        proc.send_signal(signal.SIGKILL)  # mid-burst: other appends are in flight
        for line in proc.stdout:
            acknowledged.append(int(line))
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 400

    report = verify(home)
    assert report.ok, report.problems
    assert report.unsigned_tail == report.entries - 1  # only the creation head was signed
    with open_audit(home, readonly=True) as reader:
        stored = {e["seq"] for e in reader.entries(action="ask")}
    assert set(acknowledged) <= stored  # every acknowledged append survived the kill

    with open_audit(home) as audit:  # the next writer detects the crash
        recovered = audit.entries(action="audit.recovered")
        assert len(recovered) == 1
        details = recovered[0]["details"]
        assert details["entries_after_last_head"] == report.entries - 1
        assert details["tail_check"] == "ok"
        assert audit.latest_head()["tree_size"] == report.entries + 1
        audit.append("ask", actor="after-restart")
    final = verify(home)
    assert final.ok, final.problems
    assert final.unsigned_tail == 0


def test_a_clean_close_is_not_reported_as_a_crash(home) -> None:
    with open_audit(home) as audit:
        audit.append("ask", actor="alice")
    with open_audit(home) as audit:
        assert audit.entries(action="audit.recovered") == []
