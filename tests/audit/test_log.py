"""The audit log through real SQLite: appends, durability, heads, queries, proofs, failure semantics."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from enclave.audit import AuditEntryRefused, AuditError, AuditLog, AuditVerificationError, open_audit
from enclave.audit.heads import SignedHead
from enclave.audit.keys import ensure_signing_key, trusted_public_key
from enclave.audit.proofs import check_proof

from .conftest import db, fill, verify


def test_first_append_is_seq_1_after_the_creation_record(log: AuditLog) -> None:
    assert log.append("auth.success", actor="alice", details={"method": "token"}) == 1
    assert log.append("ask", actor="alice") == 2
    created = log.entry(0)
    assert created is not None and created["action"] == "audit.created"
    assert created["details"]["key_id"] == log.latest_head()["key_id"]


def test_entry_carries_seq_time_actor_clearance_action_details(log: AuditLog) -> None:
    seq = log.append("ask", actor="bob", clearance={"level": "NATO SECRET", "cats": ["ATOMAL"]}, details={"k": "v"})
    entry = log.entry(seq)
    assert entry is not None
    assert entry["seq"] == seq and entry["actor"] == "bob" and entry["action"] == "ask"
    assert entry["clearance"] == {"level": "NATO SECRET", "cats": ["ATOMAL"]}
    assert entry["details"] == {"k": "v"}
    assert entry["time"].endswith("Z") and entry["time"] >= log.entry(0)["time"]


def test_append_is_durable_when_it_returns(home) -> None:
    """A child process appends, prints the seq and dies at once (no close, no atexit): the entry is there."""
    code = (
        "import os, sys\n"
        "from enclave.config import load_settings\n"
        "from enclave.audit import open_audit\n"
        f"log = open_audit(load_settings({str(home.home)!r}))\n"
        "seq = log.append('ask', actor='carol', details={'n': 1})\n"
        "print(seq, flush=True)\n"
        "os._exit(0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    seq = int(out.stdout.strip())
    body = db(home).execute("SELECT body FROM entries WHERE seq = ?", (seq,)).fetchone()
    assert body is not None and json.loads(body[0])["actor"] == "carol"


def test_concurrent_appends_get_unique_contiguous_seqs(home) -> None:
    seqs: list[int] = []
    lock = threading.Lock()
    with open_audit(home) as audit:

        def worker(name: str) -> None:
            for i in range(60):
                seq = audit.append("search", actor=name, details={"i": i})
                with lock:
                    seqs.append(seq)

        threads = [threading.Thread(target=worker, args=(f"user{t}",)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(seqs) == list(range(1, 481))
        for name in ("user0", "user7"):
            assert [e["details"]["i"] for e in audit.entries(user=name)] == list(range(60))
    report = verify(home)
    assert report.ok, report.problems
    assert report.entries == 481


def test_two_writers_on_one_log_interleave_safely(home) -> None:
    first, second = open_audit(home), open_audit(home)
    try:
        for i in range(15):
            first.append("a", actor="one", details={"i": i})
            second.append("b", actor="two", details={"i": i})
    finally:
        first.close()
        second.close()
    report = verify(home)
    assert report.ok, report.problems
    assert report.entries == 31


def test_heads_every_n_entries_and_on_close(home) -> None:
    with open_audit(home) as audit:  # head_every_entries = 10 in the fixture
        fill(audit, 25)
        sizes = [h["tree_size"] for h in audit.heads()]
        assert sizes == [1, 11, 21]
    with open_audit(home, readonly=True) as audit:
        assert audit.latest_head()["tree_size"] == 26  # signed on close


def test_heads_every_t_seconds(home) -> None:
    audit = AuditLog(
        home.in_home(home.audit.path),
        home.in_home(home.audit.key_path),
        head_every_entries=1000,
        head_every_seconds=0.2,
    )
    try:
        audit.append("ask", actor="alice")
        deadline = time.monotonic() + 10
        while audit.latest_head()["tree_size"] < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert audit.latest_head()["tree_size"] == 2
    finally:
        audit.close()


def test_signed_head_signature_checks_with_the_public_key(log: AuditLog, home) -> None:
    fill(log, 3)
    head = SignedHead.from_dict(log.sign_head())
    assert head.tree_size == 4
    from enclave.audit.heads import check_head_signature

    check_head_signature(head, trusted_public_key(home.in_home(home.audit.key_path)))
    forged = SignedHead(**{**head.to_dict(), "tree_size": 3})
    with pytest.raises(AuditVerificationError, match="signature is invalid"):
        check_head_signature(forged, trusted_public_key(home.in_home(home.audit.key_path)))


def test_question_field_follows_hash_questions(home) -> None:
    with open_audit(home) as audit:
        assert audit.question_field("where is the convoy?") == {"question": "where is the convoy?"}
    hashed = home.model_copy(update={"audit": home.audit.model_copy(update={"hash_questions": True})})
    with open_audit(hashed) as audit:
        assert audit.question_field("where is the convoy?") == {
            "question_sha256": hashlib.sha256(b"where is the convoy?").hexdigest()
        }


def test_entries_filters(log: AuditLog) -> None:
    log.append("auth.success", actor="alice")
    log.append("auth.failure", actor="mallory")
    log.append("ask", actor="alice", details={"q": 1})
    log.append("search", actor="bob")
    assert [e["action"] for e in log.entries(user="alice")] == ["auth.success", "ask"]
    assert [e["actor"] for e in log.entries(action="auth.*")] == ["alice", "mallory"]
    assert [e["actor"] for e in log.entries(action="auth.failure")] == ["mallory"]
    assert log.entries(action="auth%") == []  # LIKE wildcards are literal
    assert [e["seq"] for e in log.entries(limit=2, offset=1)] == [1, 2]
    assert log.count(user="alice") == 2
    t = log.entry(3)["time"]
    assert [e["seq"] for e in log.entries(since=t)] == [3, 4]
    assert [e["seq"] for e in log.entries(until=t)] == [0, 1, 2, 3]
    today = t[:10]
    assert len(log.entries(since=today, until=today)) == 5
    assert log.entries(until="2000-01-01") == []
    with pytest.raises(AuditError, match="not a date or time"):
        log.entries(since="last tuesday")


def test_inclusion_proof_checks_offline(log: AuditLog, home) -> None:
    fill(log, 40)
    trusted = trusted_public_key(home.in_home(home.audit.key_path))
    for seq in (0, 1, 17, 40):
        proof = log.inclusion_proof(seq)
        assert check_proof(json.loads(json.dumps(proof)), trusted)["ok"]
    proof = log.inclusion_proof(5)
    tampered = {**proof, "entry": proof["entry"].replace('"n":4', '"n":5')}
    with pytest.raises(AuditVerificationError):
        check_proof(tampered, trusted)
    moved = {**proof, "leaf_index": 6}
    with pytest.raises(AuditVerificationError):
        check_proof(moved, trusted)


def test_inclusion_proof_for_an_unsigned_entry_signs_a_head(log: AuditLog) -> None:
    seq = log.append("ask", actor="alice")
    assert log.latest_head()["tree_size"] <= seq
    proof = log.inclusion_proof(seq)
    assert proof["tree_size"] == seq + 1


def test_inclusion_proof_at_an_older_head(log: AuditLog, home) -> None:
    fill(log, 30)
    proof = log.inclusion_proof(3, tree_size=11)
    assert proof["head"]["tree_size"] == 11
    assert check_proof(proof, trusted_public_key(home.in_home(home.audit.key_path)))["ok"]
    with pytest.raises(AuditError, match="no signed head of size"):
        log.inclusion_proof(3, tree_size=12)


def test_consistency_proof_between_heads(log: AuditLog, home) -> None:
    fill(log, 30)
    trusted = trusted_public_key(home.in_home(home.audit.key_path))
    old = SignedHead.from_dict(log.heads()[1])
    proof = log.consistency_proof(old.tree_size)
    assert check_proof(proof, trusted, pinned=old)["ok"]
    other = SignedHead.from_dict(log.heads()[2])
    with pytest.raises(AuditVerificationError):
        check_proof(proof, trusted, pinned=other)


def test_a_failed_write_fails_the_append_and_stores_nothing(log: AuditLog, home) -> None:
    fill(log, 3)
    raw = db(home)
    raw.execute("CREATE TRIGGER full BEFORE INSERT ON entries BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    with pytest.raises(AuditError, match="disk full"):
        log.append("ask", actor="alice")
    raw.execute("DROP TRIGGER full")
    assert log.append("ask", actor="alice") == 4
    log.close()
    report = verify(home)
    assert report.ok, report.problems


def test_a_refused_entry_is_not_written(log: AuditLog) -> None:
    with pytest.raises(AuditEntryRefused, match="looks like a secret"):
        log.append("auth.success", actor="alice", details={"token": "abc"})
    assert log.size() == 1


def test_readonly_and_closed_logs_refuse_appends(home) -> None:
    with open_audit(home) as audit:
        fill(audit, 1)
    with open_audit(home, readonly=True) as reader, pytest.raises(AuditError, match="read-only"):
        reader.append("ask", actor="alice")
    audit = open_audit(home)
    audit.close()
    with pytest.raises(AuditError, match="closed"):
        audit.append("ask", actor="alice")


def test_a_log_is_never_extended_with_another_key(home, tmp_path) -> None:
    with open_audit(home) as audit:
        fill(audit, 2)
    other = tmp_path / "other.pem"
    ensure_signing_key(other)
    with pytest.raises(AuditVerificationError, match="created with key"):
        AuditLog(home.in_home(home.audit.path), other)


def test_missing_or_unsafe_key_is_a_clear_error(home) -> None:
    key = home.in_home(home.audit.key_path)
    os.chmod(key, 0o644)
    with pytest.raises(AuditError, match="group/others"):
        open_audit(home)
    os.remove(key)
    with pytest.raises(AuditError, match="enclave init"):
        open_audit(home)


def test_close_while_appending_never_hangs_or_loses_an_acknowledged_entry(home) -> None:
    audit = open_audit(home)
    acknowledged: list[int] = []
    refused: list[AuditError] = []

    def worker() -> None:
        for i in range(200):
            try:
                acknowledged.append(audit.append("ask", actor="alice", details={"i": i}))
            except AuditError as exc:
                refused.append(exc)
                return

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    audit.close()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()
    with open_audit(home, readonly=True) as reader:
        stored = {e["seq"] for e in reader.entries(action="ask")}
    assert set(acknowledged) == stored
    report = verify(home)
    assert report.ok and report.unsigned_tail == 0, report.problems
