"""The audit database schema (SQLite, WAL) and small helpers shared by the log and the verifier."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from enclave.audit import merkle
from enclave.audit.errors import AuditError, AuditVerificationError

LOG_FORMAT = "enclave-audit/1"
ENTRY_VERSION = 1
# Perfect subtrees of 2**NODE_LEVEL leaves and more are stored, so a proof at 1M entries reads a few
# dozen rows instead of hashing a million leaves; smaller subtrees are recomputed from stored leaves.
NODE_LEVEL = 8

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    actor TEXT,
    action TEXT NOT NULL,
    body TEXT NOT NULL,
    leaf BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_actor ON entries (actor, seq);
CREATE INDEX IF NOT EXISTS entries_action ON entries (action, seq);
CREATE INDEX IF NOT EXISTS entries_time ON entries (time);
CREATE TABLE IF NOT EXISTS nodes (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS heads (
    id INTEGER PRIMARY KEY,
    tree_size INTEGER NOT NULL,
    timestamp TEXT NOT NULL,
    head TEXT NOT NULL,
    frontier BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS heads_size ON heads (tree_size);
CREATE TABLE IF NOT EXISTS tip (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size INTEGER NOT NULL,
    frontier BLOB NOT NULL,
    last_time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    started TEXT NOT NULL,
    closed TEXT
);
"""


def utc_now() -> str:
    """Fixed-width UTC time with microseconds, so text order is time order."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str | dt.datetime | dt.date, *, end_of_day: bool = False) -> str:
    """Normalise a filter bound to the stored time format; a bare date means its start (or end)."""
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time.max if end_of_day else dt.time.min, dt.UTC)
    else:
        text = value.strip()
        try:
            if len(text) == 10:
                day = dt.date.fromisoformat(text)
                moment = dt.datetime.combine(day, dt.time.max if end_of_day else dt.time.min, dt.UTC)
            else:
                moment = dt.datetime.fromisoformat(text)
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=dt.UTC)
        except ValueError:
            raise AuditError(
                f"not a date or time: {value!r}", hint="use ISO 8601, e.g. 2026-11-22 or 2026-11-22T14:05:00Z"
            ) from None
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, synchronous=FULL."""
    try:
        if readonly:
            if not path.exists():
                raise AuditError(
                    f"no audit log at {path}", hint="the log is created when Enclave first records an event"
                )
            conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
        else:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn
    except sqlite3.Error as exc:
        raise AuditError(f"cannot open the audit log {path}: {exc}") from exc


Query = Callable[..., list[tuple[Any, ...]]]


def stored_subtree(query: Query, start: int, end: int) -> bytes:
    """MTH of leaves [start, end) from the stored leaf hashes and perfect-subtree nodes.

    A missing node is recomputed from the level below, so proofs still work on a log whose nodes
    table was lost; wrong stored hashes make the proof fail verification, never pass.
    """
    n = end - start
    if n == 1:
        rows = query("SELECT leaf FROM entries WHERE seq = ?", (start,))
        if not rows:
            raise AuditVerificationError(f"entry {start} is missing", hint="run `enclave audit verify`")
        return bytes(rows[0][0])
    if n & (n - 1) == 0 and start % n == 0:
        level = n.bit_length() - 1
        if level >= NODE_LEVEL:
            rows = query("SELECT hash FROM nodes WHERE level = ? AND idx = ?", (level, start >> level))
            if rows:
                return bytes(rows[0][0])
        else:
            leaves = [
                bytes(r[0])
                for r in query("SELECT leaf FROM entries WHERE seq >= ? AND seq < ? ORDER BY seq", (start, end))
            ]
            if len(leaves) != n:
                raise AuditVerificationError(
                    f"entries {start}..{end - 1} are incomplete", hint="run `enclave audit verify`"
                )
            return merkle.root_of(leaves)
    k = merkle.split_point(n)
    return merkle.node_hash(stored_subtree(query, start, start + k), stored_subtree(query, start + k, end))
