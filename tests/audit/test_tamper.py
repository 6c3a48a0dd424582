"""Every kind of tampering an administrator with shell access could try is caught by verify."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enclave.audit import AuditLog
from enclave.audit.heads import SignedHead
from enclave.audit.keys import ensure_signing_key, trusted_public_key
from enclave.audit.merkle import Frontier, leaf_hash
from enclave.audit.verify import verify_log

from .conftest import copy_home, db, verify


@pytest.fixture
def home(built_log, tmp_path: Path):
    return copy_home(built_log, tmp_path / "home")


def body_of(conn: sqlite3.Connection, seq: int) -> str:
    return conn.execute("SELECT body FROM entries WHERE seq = ?", (seq,)).fetchone()[0]


def rehash(conn: sqlite3.Connection, seq: int) -> None:
    """What a careful attacker does after editing: recompute the stored leaf hash too."""
    conn.execute("UPDATE entries SET leaf = ? WHERE seq = ?", (leaf_hash(body_of(conn, seq).encode()), seq))


def test_untouched_log_verifies(home) -> None:
    report = verify(home)
    assert report.ok, report.problems
    assert report.entries == 60 and report.heads == 7 and report.unsigned_tail == 0


def test_edit_one_byte(home) -> None:
    conn = db(home)
    conn.execute("UPDATE entries SET body = replace(body, '\"n\":22', '\"n\":23') WHERE seq = 23")
    report = verify(home)
    assert not report.ok and report.first_bad_seq == 23
    assert "entry 23 was modified" in report.problems[0]


def test_edit_with_recomputed_leaf_hash_is_bounded_by_the_signed_heads(home) -> None:
    conn = db(home)
    conn.execute("UPDATE entries SET body = replace(body, '\"n\":22', '\"n\":23') WHERE seq = 23")
    rehash(conn, 23)
    report = verify(home)
    assert not report.ok
    assert report.first_bad_seq == 21  # the last good signed head covers 0..20
    assert "entries 21..30 do not match the signed head of size 31" in report.problems[0]


def test_edit_the_actor_index_column(home) -> None:
    db(home).execute("UPDATE entries SET actor = 'someone-else' WHERE seq = 9")
    report = verify(home)
    assert not report.ok and report.first_bad_seq == 9


def test_delete_one(home) -> None:
    db(home).execute("DELETE FROM entries WHERE seq = 30")
    report = verify(home)
    assert not report.ok and report.first_bad_seq == 30
    assert "entry 30 is missing" in report.problems[0]


def test_delete_one_and_renumber(home) -> None:
    conn = db(home)
    conn.execute("DELETE FROM entries WHERE seq = 30")
    for seq in range(31, 60):
        conn.execute("UPDATE entries SET seq = seq - 1 WHERE seq = ?", (seq,))
    report = verify(home)
    assert not report.ok and report.first_bad_seq == 30


def test_insert_one(home) -> None:
    conn = db(home)
    for seq in range(59, 14, -1):
        conn.execute("UPDATE entries SET seq = seq + 1 WHERE seq = ?", (seq,))
    forged = json.loads(body_of(conn, 14))
    forged.update(seq=15, details={"n": "forged"})
    text = json.dumps(forged, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    conn.execute(
        "INSERT INTO entries (seq, time, actor, action, body, leaf) VALUES (15, ?, ?, ?, ?, ?)",
        (forged["time"], forged["actor"], forged["action"], text, leaf_hash(text.encode())),
    )
    report = verify(home)
    assert not report.ok and report.first_bad_seq == 15


def test_swap_two(home) -> None:
    conn = db(home)
    a, b = body_of(conn, 12), body_of(conn, 44)
    conn.execute("UPDATE entries SET body = ? WHERE seq = 12", (b,))
    conn.execute("UPDATE entries SET body = ? WHERE seq = 44", (a,))
    rehash(conn, 12)
    rehash(conn, 44)
    report = verify(home)
    assert not report.ok and report.first_bad_seq == 12


def test_swap_two_rows_by_renumbering(home) -> None:
    conn = db(home)
    conn.execute("UPDATE entries SET seq = -1 WHERE seq = 12")
    conn.execute("UPDATE entries SET seq = 12 WHERE seq = 13")
    conn.execute("UPDATE entries SET seq = 13 WHERE seq = -1")
    report = verify(home)
    assert not report.ok and report.first_bad_seq == 12


def test_truncate_the_tail(home) -> None:
    db(home).execute("DELETE FROM entries WHERE seq >= 45")
    report = verify(home)
    assert not report.ok and report.first_bad_seq == 45
    assert any("truncated" in p for p in report.problems)


def test_truncate_tail_heads_and_tip_is_caught_by_an_external_head(home, tmp_path: Path) -> None:
    external = SignedHead.from_dict(
        json.loads(db(home).execute("SELECT head FROM heads ORDER BY id DESC").fetchone()[0])
    )
    conn = db(home)
    conn.execute("DELETE FROM entries WHERE seq >= 45")
    conn.execute("DELETE FROM heads WHERE tree_size > 45")
    conn.execute("DELETE FROM nodes")
    frontier = Frontier()
    for (leaf,) in conn.execute("SELECT leaf FROM entries ORDER BY seq"):
        frontier.append(leaf)
    conn.execute("UPDATE tip SET size = ?, frontier = ?", (frontier.size, frontier.to_blob()))
    assert verify(home).ok  # locally it is a valid, shorter log: this is why heads are witnessed
    report = verify(home, against=external)
    assert not report.ok and report.first_bad_seq == 45
    assert "shorter than the external head" in report.problems[0]


def test_external_head_consistency(home) -> None:
    conn = db(home)
    old = SignedHead.from_dict(json.loads(conn.execute("SELECT head FROM heads WHERE tree_size = 21").fetchone()[0]))
    report = verify(home, against=old)
    assert report.ok, report.problems
    assert report.against["ok"] and report.against["consistency_proof"]["ok"]
    conn.execute("UPDATE entries SET body = replace(body, '\"n\":4', '\"n\":5') WHERE seq = 5")
    rehash(conn, 5)
    # The attacker even re-signs nothing: the old external head no longer matches.
    report = verify(home, against=old)
    assert not report.ok


def test_forged_external_head_is_rejected(home) -> None:
    head = json.loads(db(home).execute("SELECT head FROM heads WHERE tree_size = 21").fetchone()[0])
    head["root_hash"] = "00" * 32
    report = verify(home, against=SignedHead.from_dict(head))
    assert not report.ok and "signature is invalid" in report.problems[0]


def test_edit_a_signed_head(home) -> None:
    conn = db(home)
    row_id, text = conn.execute("SELECT id, head FROM heads WHERE tree_size = 31").fetchone()
    head = json.loads(text)
    head["tree_size"] = 30
    conn.execute("UPDATE heads SET head = ?, tree_size = 30 WHERE id = ?", (json.dumps(head), row_id))
    report = verify(home)
    assert not report.ok and "signature is invalid" in report.problems[0]


def test_whole_log_replaced_by_a_rehashed_forgery_without_the_key(home, tmp_path: Path) -> None:
    """The attacker rebuilds a complete, internally consistent log but must sign with their own key."""
    path = home.in_home(home.audit.path)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    attacker_key = tmp_path / "attacker.pem"
    ensure_signing_key(attacker_key)
    with AuditLog(path, attacker_key) as forged:
        for i in range(59):
            forged.append("ask", actor="alice", details={"n": i if i != 23 else "rewritten"})
    report = verify(home)
    assert not report.ok and report.first_bad_seq == 0
    assert any("not the trusted key" in p for p in report.problems)


def test_forgery_keeping_the_genuine_heads(home) -> None:
    """Rewrite every entry and hash, keep the real signed heads: the first head's root no longer matches."""
    conn = db(home)
    for seq in range(1, 60):
        conn.execute("UPDATE entries SET body = replace(body, 'alice', 'alicf') WHERE seq = ?", (seq,))
        conn.execute("UPDATE entries SET actor = 'alicf' WHERE seq = ?", (seq,))
        rehash(conn, seq)
    report = verify(home)
    assert not report.ok and report.first_bad_seq == 1


def test_heads_deleted_entirely(home) -> None:
    db(home).execute("DELETE FROM heads")
    report = verify(home)
    assert not report.ok and "no validly signed head" in report.problems[0]


def test_not_a_database(home) -> None:
    path = home.in_home(home.audit.path)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"garbage" * 100)
    report = verify(home)
    assert not report.ok and "cannot be read" in report.problems[0]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seq=st.integers(min_value=0, max_value=59),
    where=st.floats(min_value=0, max_value=1, exclude_max=True),
    new_byte=st.integers(min_value=0, max_value=255),
    column=st.sampled_from(["body", "leaf"]),
)
def test_any_random_edit_is_caught(built_log, tmp_path_factory, seq, where, new_byte, column) -> None:
    settings_, source = built_log
    target = tmp_path_factory.mktemp("edit") / "audit.db"
    shutil.copy(source, target)
    conn = sqlite3.connect(target, isolation_level=None)
    value = conn.execute(f"SELECT {column} FROM entries WHERE seq = ?", (seq,)).fetchone()[0]
    data = bytearray(value.encode("utf-8") if isinstance(value, str) else value)
    pos = int(where * len(data))
    if data[pos] == new_byte:
        new_byte ^= 0x01
    data[pos] = new_byte
    edited = bytes(data)
    if column == "body":
        try:
            stored: object = edited.decode("utf-8")
        except UnicodeDecodeError:
            stored = edited  # stored as a BLOB: still an edit
    else:
        stored = edited
    conn.execute(f"UPDATE entries SET {column} = ? WHERE seq = ?", (stored, seq))
    conn.close()
    key = trusted_public_key(settings_.in_home(settings_.audit.key_path))
    report = verify_log(target, key)
    assert not report.ok
    assert report.first_bad_seq == seq


def test_corrupt_caches_are_reported(home) -> None:
    """Stored nodes and head frontiers are caches, but a corrupt one would break proofs or recovery."""
    db(home).execute("UPDATE heads SET frontier = zeroblob(length(frontier)) WHERE tree_size = 31")
    report = verify(home)
    assert not report.ok and "stored frontier of the head of size 31" in report.problems[0]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    head_index=st.integers(min_value=0, max_value=6),
    where=st.floats(min_value=0, max_value=1, exclude_max=True),
    new_char=st.characters(min_codepoint=32, max_codepoint=126),
)
def test_any_random_edit_of_a_signed_head_is_caught(built_log, tmp_path_factory, head_index, where, new_char) -> None:
    settings_, source = built_log
    target = tmp_path_factory.mktemp("head-edit") / "audit.db"
    shutil.copy(source, target)
    conn = sqlite3.connect(target, isolation_level=None)
    row_id, text = conn.execute("SELECT id, head FROM heads ORDER BY id LIMIT 1 OFFSET ?", (head_index,)).fetchone()
    pos = int(where * len(text))
    if text[pos] == new_char:
        new_char = "0" if new_char != "0" else "1"
    conn.execute("UPDATE heads SET head = ? WHERE id = ?", (text[:pos] + new_char + text[pos + 1 :], row_id))
    conn.close()
    report = verify_log(target, trusted_public_key(settings_.in_home(settings_.audit.key_path)))
    assert not report.ok
