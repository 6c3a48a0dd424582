"""Full verification of an audit log: every entry re-hashed, every signed head checked.

Works on one read snapshot of the database, so it can run while the server keeps appending.
Names the first bad entry where the evidence allows: a modified entry (content vs stored leaf
hash), a deleted, inserted or reordered one (its position vs the seq inside it), or a truncated
tail (a signed head covering more entries than remain). When an attacker also recomputed the
stored hashes, the first signed head whose root no longer matches bounds the damage to the
entries since the previous good head.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from enclave.audit import merkle
from enclave.audit.canonical import canonical_json
from enclave.audit.errors import AuditError, AuditVerificationError
from enclave.audit.heads import SignedHead, check_head_signature, key_id
from enclave.audit.log import GENESIS_ACTION
from enclave.audit.merkle import Frontier
from enclave.audit.schema import ENTRY_VERSION, NODE_LEVEL, connect, stored_subtree

_ENTRY_KEYS = frozenset({"action", "actor", "clearance", "details", "seq", "time", "v"})
_MAX_PROBLEMS = 50


@dataclass
class VerifyReport:
    """What ``verify_log`` found. ``ok`` is False on any problem; ``first_bad_seq`` names the earliest."""

    path: str
    entries: int = 0
    heads: int = 0
    latest_head: dict[str, Any] | None = None
    unsigned_tail: int = 0
    problems: list[str] = field(default_factory=list)
    first_bad_seq: int | None = None
    against: dict[str, Any] | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def bad(self, message: str, seq: int | None = None) -> None:
        if seq is not None and (self.first_bad_seq is None or seq < self.first_bad_seq):
            self.first_bad_seq = seq
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(message)
        elif len(self.problems) == _MAX_PROBLEMS:
            self.problems.append("… further problems not listed")

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "path": self.path,
            "entries": self.entries,
            "heads": self.heads,
            "latest_head": self.latest_head,
            "unsigned_tail": self.unsigned_tail,
            "first_bad_seq": self.first_bad_seq,
            "problems": self.problems,
            "against": self.against,
            "seconds": round(self.seconds, 3),
        }


def verify_log(path: Path, trusted: Ed25519PublicKey, against: SignedHead | None = None) -> VerifyReport:
    """Recompute the whole log and check it against its signed heads (and an external head)."""
    started = time.perf_counter()
    report = VerifyReport(path=str(path))
    conn = connect(path, readonly=True)
    try:
        conn.execute("BEGIN")  # one snapshot for the whole run
        _verify(conn, trusted, against, report)
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        report.bad(f"the audit database cannot be read: {exc}")
    finally:
        conn.close()
    report.seconds = time.perf_counter() - started
    return report


def _load_heads(conn: sqlite3.Connection, trusted: Ed25519PublicKey, report: VerifyReport) -> list[SignedHead]:
    """Signed, well-formed heads in the order written; each bad one is a problem."""
    good: list[SignedHead] = []
    previous: SignedHead | None = None
    for row_id, size_col, time_col, text in conn.execute(
        "SELECT id, tree_size, timestamp, head FROM heads ORDER BY id"
    ):
        what = f"signed head #{row_id}"
        try:
            data = json.loads(text)
            head = SignedHead.from_dict(data, what)
            check_head_signature(head, trusted, what)
        except (AuditError, ValueError) as exc:
            report.bad(str(getattr(exc, "message", exc)))
            continue
        if canonical_json(data) != text:
            report.bad(f"{what} is not stored in canonical JSON form (edited)")
        if head.tree_size != size_col or head.timestamp != time_col:
            report.bad(f"{what}: its index columns disagree with the signed head")
        if previous is not None:
            if head.tree_size < previous.tree_size:
                report.bad(f"{what} (size {head.tree_size}) is smaller than the head before it ({previous.tree_size})")
            if head.timestamp < previous.timestamp:
                report.bad(f"{what} is dated {head.timestamp}, before the head before it ({previous.timestamp})")
            if head.log_id != previous.log_id:
                report.bad(f"{what} belongs to another log ({head.log_id[:16]}…)")
        previous = head
        good.append(head)
    return good


def _verify(
    conn: sqlite3.Connection, trusted: Ed25519PublicKey, against: SignedHead | None, report: VerifyReport
) -> None:
    heads = _load_heads(conn, trusted, report)
    report.heads = len(heads)
    report.latest_head = heads[-1].to_dict() if heads else None
    if not heads:
        report.bad("no validly signed head: the log cannot be authenticated (forged, or not an Enclave audit log)", 0)
    if against is not None:
        try:
            check_head_signature(against, trusted, "the external head")
        except AuditVerificationError as exc:
            report.bad(exc.message)
            against = None
    by_size: dict[int, list[SignedHead]] = {}
    for head in heads:
        by_size.setdefault(head.tree_size, []).append(head)
    stored_nodes = {(lvl, idx): bytes(h) for lvl, idx, h in conn.execute("SELECT level, idx, hash FROM nodes")}
    bad_nodes: list[tuple[int, int]] = []
    stored_frontiers: dict[int, list[bytes]] = {}
    for size_col, blob in conn.execute("SELECT tree_size, frontier FROM heads"):
        stored_frontiers.setdefault(size_col, []).append(blob)
    bad_frontiers: list[int] = []

    def check_node(level: int, index: int, digest: bytes) -> None:
        if level >= NODE_LEVEL:
            stored = stored_nodes.pop((level, index), None)
            if stored is not None and stored != digest:
                bad_nodes.append((level, index))

    frontier = Frontier()
    last_good_size = 0  # entries [0, last_good_size) match a signed root
    root_failed = False
    prev_time = ""
    expected = 0
    sha256 = hashlib.sha256
    loads = json.loads
    cursor = conn.execute("SELECT seq, time, actor, action, body, leaf FROM entries ORDER BY seq")
    while rows := cursor.fetchmany(4096):
        for seq, time_col, actor_col, action_col, body, leaf in rows:
            if seq != expected:
                if seq > expected:
                    what = (
                        f"entry {expected} is missing"
                        if seq == expected + 1
                        else f"entries {expected}..{seq - 1} are missing"
                    )
                    report.bad(f"{what} (deleted): the next stored entry is {seq}", expected)
                expected = seq
            raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
            computed = sha256(b"\x00" + raw).digest()
            if computed != leaf:
                report.bad(f"entry {seq} was modified: its content does not match its stored leaf hash", seq)
            _check_entry(seq, raw, time_col, actor_col, action_col, prev_time, report, loads)
            prev_time = time_col if isinstance(time_col, str) and time_col > prev_time else prev_time
            frontier.append(computed, check_node)
            expected += 1
            size = frontier.size
            if size in by_size and not root_failed:
                root = frontier.root()
                for head in by_size[size]:
                    if head.root != root:
                        root_failed = True
                        if report.first_bad_seq is not None and report.first_bad_seq < size:
                            break  # explained by the entry problems already named
                        report.bad(
                            f"entries {last_good_size}..{size - 1} do not match the signed head of size {size} "
                            f"({head.timestamp}): an entry in that range was modified, inserted, deleted or "
                            "reordered and its hashes recomputed",
                            last_good_size,
                        )
                        break
                else:
                    last_good_size = size
                    if any(bytes(blob) != frontier.to_blob() for blob in stored_frontiers.get(size, ())):
                        bad_frontiers.append(size)
            if against is not None and size == against.tree_size:
                report.against = _against_result(against, frontier.root(), report)
    count = frontier.size
    report.entries = count
    if count == 0:
        report.bad("the log has no entries (its first entry, seq 0, is missing)", 0)
    for head in heads:
        if head.tree_size > count:
            report.bad(
                f"the log is truncated: the signed head of size {head.tree_size} ({head.timestamp}) covers entries "
                f"up to {head.tree_size - 1}, but the log ends at {count - 1}",
                count,
            )
            break
    if heads:
        report.unsigned_tail = max(0, count - heads[-1].tree_size)
        if any(h.log_id != heads[0].log_id for h in heads):
            pass  # already reported per head
    _check_genesis(conn, trusted, heads, report)
    if report.ok:  # otherwise the tip and the stored nodes differ as a consequence of the problems named
        _check_tip(conn, frontier, report)
        for size in bad_frontiers[:5]:
            report.bad(f"the stored frontier of the head of size {size} is corrupt: crash recovery would refuse it")
        for level, index in bad_nodes[:5]:
            report.bad(f"stored tree node (level {level}, index {index}) is corrupt: inclusion proofs through it fail")
    if against is not None:
        if against.tree_size > count:
            report.bad(
                f"the log is shorter than the external head: it signed {against.tree_size} entries, the log holds "
                f"{count} (truncated or rolled back)",
                count,
            )
            report.against = {"ok": False, "tree_size": against.tree_size, "reason": "log shorter than head"}
        elif against.tree_size == 0:
            report.against = {"ok": True, "tree_size": 0, "reason": "empty head"}
        elif report.against is not None and report.against.get("ok") and heads and report.ok:
            _prove_consistency(conn, against, heads[-1], report)


def _check_entry(
    seq: int,
    raw: bytes,
    time_col: Any,
    actor_col: Any,
    action_col: Any,
    prev_time: str,
    report: VerifyReport,
    loads: Any,
) -> None:
    try:
        entry = loads(raw)
    except ValueError:
        report.bad(f"entry {seq} is not valid JSON", seq)
        return
    if not isinstance(entry, dict) or entry.keys() != _ENTRY_KEYS:
        report.bad(f"entry {seq} does not have the entry fields {sorted(_ENTRY_KEYS)}", seq)
        return
    if canonical_json(entry).encode("utf-8") != raw:
        report.bad(f"entry {seq} is not in canonical JSON form", seq)
    claimed = entry["seq"]
    if claimed != seq:
        # A lower claimed seq means a forged entry was slipped in at or before that position.
        first = (
            min(seq, claimed) if isinstance(claimed, int) and not isinstance(claimed, bool) and claimed >= 0 else seq
        )
        report.bad(
            f"entry at position {seq} carries seq {claimed!r}: entries were inserted, deleted or reordered", first
        )
    if entry["v"] != ENTRY_VERSION:
        report.bad(f"entry {seq} has unknown version {entry['v']!r}", seq)
    if entry["time"] != time_col or entry["actor"] != actor_col or entry["action"] != action_col:
        report.bad(f"entry {seq}: the time/actor/action index columns disagree with the entry (edited)", seq)
    if not isinstance(entry["time"], str) or entry["time"] < prev_time:
        report.bad(f"entry {seq} is dated {entry['time']}, before the entry before it ({prev_time}): reordered?", seq)


def _check_genesis(
    conn: sqlite3.Connection, trusted: Ed25519PublicKey, heads: list[SignedHead], report: VerifyReport
) -> None:
    row = conn.execute("SELECT body, leaf FROM entries WHERE seq = 0").fetchone()
    if row is None:
        return  # reported as missing
    try:
        entry = json.loads(row[0])
        created_key = entry["details"]["key_id"]
        action = entry["action"]
    except (ValueError, KeyError, TypeError):
        report.bad("entry 0 (the log's creation record) is damaged", 0)
        return
    if action != GENESIS_ACTION:
        report.bad(f"entry 0 is {action!r}, not the log's creation record {GENESIS_ACTION!r}", 0)
    if created_key != key_id(trusted):
        report.bad(f"entry 0 says the log was created with key {str(created_key)[:16]}…, not the trusted key", 0)
    log_id = hashlib.sha256(b"\x00" + row[0].encode("utf-8")).hexdigest()
    for head in heads:
        if head.log_id != log_id:
            report.bad(f"the signed head of size {head.tree_size} names log {head.log_id[:16]}…, not this log", 0)
            break


def _check_tip(conn: sqlite3.Connection, frontier: Frontier, report: VerifyReport) -> None:
    row = conn.execute("SELECT size, frontier FROM tip WHERE id = 1").fetchone()
    if row is None:
        report.bad("the log's tip record is missing")
    elif row[0] != frontier.size:
        report.bad(
            f"the tip record says the log holds {row[0]} entries, but it holds {frontier.size}"
            + (" (truncated)" if row[0] > frontier.size else " (entries added behind the writer's back)"),
            min(row[0], frontier.size),
        )
    elif bytes(row[1]) != frontier.to_blob():
        report.bad("the tip record's hashes disagree with the entries (recomputed or edited)")


def _against_result(against: SignedHead, root: bytes, report: VerifyReport) -> dict[str, Any]:
    if against.root != root:
        report.bad(
            f"the log is not an extension of the external head of size {against.tree_size} ({against.timestamp}): "
            f"entries 0..{against.tree_size - 1} hash to a different root",
        )
        return {"ok": False, "tree_size": against.tree_size, "reason": "root differs"}
    return {"ok": True, "tree_size": against.tree_size, "reason": "same root at that size"}


def _prove_consistency(conn: sqlite3.Connection, against: SignedHead, latest: SignedHead, report: VerifyReport) -> None:
    """Also check the RFC 9162 consistency proof from the external head to the latest signed head."""
    if against.tree_size > latest.tree_size:
        assert report.against is not None
        report.against["consistency_proof"] = "external head is newer than the latest local head; roots compared"
        return

    def query(sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        return conn.execute(sql, tuple(params)).fetchall()

    path = merkle.consistency_path(against.tree_size, latest.tree_size, lambda a, b: stored_subtree(query, a, b))
    ok = merkle.verify_consistency(against.tree_size, latest.tree_size, against.root, latest.root, path)
    assert report.against is not None
    report.against["consistency_proof"] = {"to_size": latest.tree_size, "hashes": len(path), "ok": ok}
    if not ok:
        report.bad(f"the RFC 9162 consistency proof from size {against.tree_size} to {latest.tree_size} fails")
