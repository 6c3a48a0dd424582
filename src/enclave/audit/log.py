"""The append-only audit log: entries, Merkle leaves and signed heads in one SQLite database.

One writer thread per open log owns the write connection and commits in groups: appends that
arrive while a commit is being synced go into the next transaction, so many threads share one
fsync while every ``append`` still returns only after its entry is durable (WAL, synchronous=FULL).
Every transaction starts by reading the stored tip, so several processes may append to one log.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import queue
import socket
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from enclave.audit import actions, merkle
from enclave.audit.canonical import canonical_json, normalize
from enclave.audit.errors import AuditEntryRefused, AuditError, AuditVerificationError
from enclave.audit.heads import SignedHead, key_id, raw_public_key, sign_head
from enclave.audit.keys import load_private_key
from enclave.audit.merkle import Frontier
from enclave.audit.schema import (
    ENTRY_VERSION,
    LOG_FORMAT,
    NODE_LEVEL,
    SCHEMA,
    connect,
    parse_time,
    stored_subtree,
    utc_now,
)

if TYPE_CHECKING:
    import datetime as dt

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from enclave.config import Settings

INCLUSION_FORMAT = "enclave-audit-inclusion/1"
CONSISTENCY_FORMAT = "enclave-audit-consistency/1"
GENESIS_ACTION = actions.AUDIT_CREATED
RECOVERY_ACTION = actions.AUDIT_RECOVERED
SYSTEM_ACTOR = "enclave"
_MAX_BATCH = 4096
_OPEN_LOGS: weakref.WeakSet[AuditLog] = weakref.WeakSet()


@dataclass(frozen=True)
class _Record:
    """An entry before its seq and time are known, with its parts already in canonical JSON."""

    action: str
    actor: str | None
    prefix: str  # '{"action":…,"actor":…,"clearance":…,"details":…' — the sorted keys before "seq"


def _locked() -> threading.Lock:
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass
class _Request:
    records: list[_Record] | None  # None: sign a head now
    done: threading.Lock = field(default_factory=_locked)  # released by the writer: cheaper than an Event
    seqs: list[int] = field(default_factory=list)
    error: BaseException | None = None


def make_record(action: str, actor: str | None, clearance: Any, details: Any) -> _Record:
    """Validate and pre-serialise an entry in the caller's thread (secrets refused here)."""
    if not isinstance(action, str) or not action.strip():
        raise AuditEntryRefused("audit entry refused: action must be a non-empty string")
    if actor is not None and not isinstance(actor, str):
        raise AuditEntryRefused(f"audit entry refused: actor must be a string or None, got {type(actor).__name__}")
    clearance_value = None if clearance is None else normalize(clearance, "clearance")
    details_value = normalize({} if details is None else details, "details")
    if not isinstance(details_value, dict):
        raise AuditEntryRefused("audit entry refused: details must be a mapping")
    for text, where in ((action, "action"), (actor or "", "actor")):
        normalize(text, where)
    prefix = (
        f'{{"action":{canonical_json(action)},"actor":{canonical_json(actor)},'
        f'"clearance":{canonical_json(clearance_value)},"details":{canonical_json(details_value)}'
    )
    return _Record(action=action, actor=actor, prefix=prefix)


def entry_body(record: _Record, seq: int, when: str) -> str:
    """The canonical JSON text of an entry (keys in sorted order: action … details, seq, time, v)."""
    return f'{record.prefix},"seq":{seq},"time":"{when}","v":{ENTRY_VERSION}}}'


class AuditLog:
    """An open audit log. Thread-safe; use ``open_audit(settings)``; ``close()`` signs a final head."""

    def __init__(
        self,
        path: Path,
        key_path: Path,
        *,
        head_every_entries: int = 1000,
        head_every_seconds: float = 60.0,
        hash_questions: bool = False,
        readonly: bool = False,
    ) -> None:
        self.path = Path(path)
        self.key_path = Path(key_path)
        self.head_every_entries = head_every_entries
        self.head_every_seconds = head_every_seconds
        self.hash_questions = hash_questions
        self.readonly = readonly
        self._read_lock = threading.Lock()
        self._submit_lock = threading.Lock()
        self._closed = False
        self._key: Ed25519PrivateKey | None = None
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._write_conn: sqlite3.Connection | None = None
        self._session_id: int | None = None
        if readonly:
            self._read = connect(self.path, readonly=True)
        else:
            self._key = load_private_key(self.key_path)
            self._write_conn = connect(self.path)
            self._initialise()
            self._read = connect(self.path)
            self._writer = threading.Thread(target=self._run_writer, name=f"audit-writer:{self.path.name}", daemon=True)
            self._writer.start()
        _OPEN_LOGS.add(self)

    # ----------------------------------------------------------------- writing

    def append(
        self, action: str, *, actor: str | None = None, clearance: Any = None, details: Mapping[str, Any] | None = None
    ) -> int:
        """Record one entry; returns its sequence number once it is durable. Raises ``AuditError``."""
        return self.append_many([(action, actor, clearance, details)])[0]

    def append_many(self, items: Iterable[tuple[str, str | None, Any, Mapping[str, Any] | None]]) -> list[int]:
        """Record several entries in one transaction (bulk ingest); returns their sequence numbers."""
        records = [make_record(action, actor, clearance, details) for action, actor, clearance, details in items]
        if not records:
            return []
        return self._submit(_Request(records)).seqs

    def sign_head(self) -> dict[str, Any] | None:
        """Sign a head for everything appended so far (no-op when the latest head is current)."""
        self._submit(_Request(None))
        return self.latest_head()

    def question_field(self, text: str) -> dict[str, str]:
        """How a question is recorded: the text, or only its SHA-256 when ``[audit] hash_questions``."""
        if self.hash_questions:
            return {"question_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
        return {"question": text}

    def _submit(self, request: _Request) -> _Request:
        if self.readonly:
            raise AuditError(f"the audit log {self.path} is open read-only")
        with self._submit_lock:  # no request can slip in behind the stop marker and wait forever
            if self._closed or self._writer is None or not self._writer.is_alive():
                raise AuditError(f"the audit log {self.path} is closed", hint="the request was not recorded; retry it")
            self._queue.put(request)
        request.done.acquire()
        if request.error is not None:
            if isinstance(request.error, AuditError):
                raise request.error
            raise AuditError(
                f"cannot write to the audit log {self.path}: {request.error}",
                hint="the request was refused because it could not be audited; check disk space and permissions",
            ) from request.error
        return request

    def _run_writer(self) -> None:
        """Drain the queue in groups: one transaction and one fsync per group."""
        try:
            self._write_loop()
        finally:
            # Anything still queued after the stop marker (or a crash of this loop) is refused, never dropped.
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item.error = AuditError(f"the audit log {self.path} was closed before the entry was written")
                    item.done.release()

    def _write_loop(self) -> None:
        last_head_at = time.monotonic()
        stopping = False
        while not stopping:
            timeout = max(0.01, self.head_every_seconds - (time.monotonic() - last_head_at))
            try:
                first = self._queue.get(timeout=timeout)
            except queue.Empty:
                self._commit([], force_head=False, timed=True)
                last_head_at = time.monotonic()
                continue
            batch: list[_Request] = []
            if first is None:
                stopping = True
            else:
                batch.append(first)
            count = 0
            while not stopping and count < _MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
                count += len(item.records or ())
            if batch:
                force = any(req.records is None for req in batch)
                if self._commit(batch, force_head=force, timed=False):
                    last_head_at = time.monotonic()

    def _commit(self, batch: list[_Request], *, force_head: bool, timed: bool) -> bool:
        """Write a group of requests in one transaction. Returns True if a head was signed."""
        conn = self._write_conn
        assert conn is not None
        signed = False
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                _, frontier, last_time = self._load_tip(conn)
                rows: list[tuple[int, str, str | None, str, str, bytes]] = []
                nodes: list[tuple[int, int, bytes]] = []

                def keep(level: int, index: int, digest: bytes) -> None:
                    if level >= NODE_LEVEL:
                        nodes.append((level, index, digest))

                for request in batch:
                    for record in request.records or ():
                        seq = frontier.size
                        now = utc_now()
                        when = now if now > last_time else last_time
                        body = entry_body(record, seq, when)
                        leaf = merkle.leaf_hash(body.encode("utf-8"))
                        frontier.append(leaf, keep)
                        rows.append((seq, when, record.actor, record.action, body, leaf))
                        request.seqs.append(seq)
                        last_time = when
                if rows:
                    conn.executemany(
                        "INSERT INTO entries (seq, time, actor, action, body, leaf) VALUES (?, ?, ?, ?, ?, ?)", rows
                    )
                    if nodes:
                        conn.executemany("INSERT OR REPLACE INTO nodes (level, idx, hash) VALUES (?, ?, ?)", nodes)
                    conn.execute(
                        "UPDATE tip SET size = ?, frontier = ?, last_time = ? WHERE id = 1",
                        (frontier.size, frontier.to_blob(), last_time),
                    )
                head_size = self._latest_head_size(conn)
                due = frontier.size - head_size >= self.head_every_entries
                if frontier.size > head_size and (due or force_head or timed):
                    self._write_head(conn, frontier, last_time)
                    signed = True
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except BaseException as exc:  # every failure is reported to every waiting caller
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            for request in batch:
                request.seqs.clear()
                request.error = exc
                request.done.release()
            return False
        for request in batch:
            request.done.release()
        return signed

    def _write_head(self, conn: sqlite3.Connection, frontier: Frontier, last_time: str) -> SignedHead:
        assert self._key is not None
        now = utc_now()
        head = sign_head(self._key, self._log_id, frontier.size, frontier.root(), now if now > last_time else last_time)
        conn.execute(
            "INSERT INTO heads (tree_size, timestamp, head, frontier) VALUES (?, ?, ?, ?)",
            (head.tree_size, head.timestamp, canonical_json(head.to_dict()), frontier.to_blob()),
        )
        return head

    @staticmethod
    def _load_tip(conn: sqlite3.Connection) -> tuple[int, Frontier, str]:
        row = conn.execute("SELECT size, frontier, last_time FROM tip WHERE id = 1").fetchone()
        if row is None:
            raise AuditError("the audit log has no tip record (not initialised)")
        return row[0], Frontier.from_blob(row[0], row[1]), row[2]

    @staticmethod
    def _latest_head_size(conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT tree_size FROM heads ORDER BY id DESC LIMIT 1").fetchone()
        return 0 if row is None else row[0]

    def _initialise(self) -> None:
        """Create the schema and genesis entry on first use; detect and record a crashed writer."""
        conn = self._write_conn
        assert conn is not None and self._key is not None
        try:
            conn.executescript(SCHEMA)
            conn.execute("BEGIN IMMEDIATE")
            try:
                if conn.execute("SELECT 1 FROM tip WHERE id = 1").fetchone() is None:
                    self._create_genesis(conn)
                self._log_id = self._read_log_id(conn)
                self._check_key(conn)
                crashed = self._crashed_sessions(conn)
                if crashed:
                    self._recover(conn, crashed)
                cur = conn.execute(
                    "INSERT INTO sessions (pid, host, started) VALUES (?, ?, ?)",
                    (os.getpid(), socket.gethostname(), utc_now()),
                )
                self._session_id = cur.lastrowid
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            conn.close()
            raise AuditError(f"cannot initialise the audit log {self.path}: {exc}") from exc
        except BaseException:
            conn.close()
            raise

    def _create_genesis(self, conn: sqlite3.Connection) -> None:
        assert self._key is not None
        public = self._key.public_key()
        import base64

        record = make_record(
            GENESIS_ACTION,
            SYSTEM_ACTOR,
            None,
            {
                "format": LOG_FORMAT,
                "key_id": key_id(public),
                "public_key": base64.b64encode(raw_public_key(public)).decode(),
            },
        )
        when = utc_now()
        body = entry_body(record, 0, when)
        leaf = merkle.leaf_hash(body.encode("utf-8"))
        frontier = Frontier()
        frontier.append(leaf)
        conn.execute(
            "INSERT INTO entries (seq, time, actor, action, body, leaf) VALUES (0, ?, ?, ?, ?, ?)",
            (when, SYSTEM_ACTOR, GENESIS_ACTION, body, leaf),
        )
        conn.execute("INSERT INTO tip (id, size, frontier, last_time) VALUES (1, 1, ?, ?)", (frontier.to_blob(), when))
        self._log_id = leaf.hex()
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("format", LOG_FORMAT), ("log_id", self._log_id), ("created", when)],
        )
        self._write_head(conn, frontier, when)

    @staticmethod
    def _read_log_id(conn: sqlite3.Connection) -> str:
        row = conn.execute("SELECT leaf FROM entries WHERE seq = 0").fetchone()
        if row is None:
            raise AuditVerificationError("the audit log has lost its first entry (seq 0)")
        return bytes(row[0]).hex()

    def _check_key(self, conn: sqlite3.Connection) -> None:
        """Refuse to extend a log that was created with another key (fail closed)."""
        assert self._key is not None
        row = conn.execute("SELECT body FROM entries WHERE seq = 0").fetchone()
        try:
            created_with = json.loads(row[0])["details"]["key_id"]
        except (ValueError, KeyError, TypeError):
            raise AuditVerificationError(
                f"the first entry of {self.path} is damaged", hint="run `enclave audit verify`"
            ) from None
        mine = key_id(self._key.public_key())
        if created_with != mine:
            raise AuditVerificationError(
                f"the audit log {self.path} was created with key {created_with[:16]}…, "
                f"but the signing key {self.key_path} is {mine[:16]}…",
                hint="restore the original key, or move the old log aside to start a new one",
            )

    @staticmethod
    def _crashed_sessions(conn: sqlite3.Connection) -> list[tuple[int, int, str]]:
        host = socket.gethostname()
        crashed = []
        for session_id, pid, session_host, started in conn.execute(
            "SELECT id, pid, host, started FROM sessions WHERE closed IS NULL"
        ).fetchall():
            if session_host == host and pid != os.getpid() and not _pid_alive(pid):
                crashed.append((session_id, pid, started))
        return crashed

    def _recover(self, conn: sqlite3.Connection, crashed: list[tuple[int, int, str]]) -> None:
        """A writer died without closing: check the unsigned tail, record the event, sign a head.

        SQLite rolled back any half-written transaction, so committed entries are whole; the tail
        since the latest head is re-hashed from that head's stored frontier to prove it.
        """
        size, tip_frontier, last_time = self._load_tip(conn)
        head_row = conn.execute("SELECT tree_size, frontier, head FROM heads ORDER BY id DESC LIMIT 1").fetchone()
        head_size = head_row[0] if head_row else 0
        frontier = Frontier.from_blob(head_row[0], head_row[1]) if head_row else Frontier()
        if head_row and frontier.root().hex() != json.loads(head_row[2])["root_hash"]:
            raise AuditVerificationError(
                f"the latest signed head of {self.path} does not match its stored frontier",
                hint="run `enclave audit verify`",
            )
        for seq, body, leaf in conn.execute(
            "SELECT seq, body, leaf FROM entries WHERE seq >= ? ORDER BY seq", (head_size,)
        ):
            computed = merkle.leaf_hash(body.encode("utf-8"))
            if seq != frontier.size or computed != bytes(leaf):
                raise AuditVerificationError(
                    f"after an unclean shutdown, entry {seq} of {self.path} does not check out",
                    hint="run `enclave audit verify` for details; the log was not extended",
                )
            frontier.append(computed)
        if frontier.size != size or frontier.hashes != tip_frontier.hashes:
            raise AuditVerificationError(
                f"after an unclean shutdown, the tip of {self.path} disagrees with its entries",
                hint="run `enclave audit verify` for details; the log was not extended",
            )
        now = utc_now()
        conn.executemany(
            "UPDATE sessions SET closed = ? WHERE id = ?", [(f"crashed (found {now})", c[0]) for c in crashed]
        )
        record = make_record(
            RECOVERY_ACTION,
            SYSTEM_ACTOR,
            None,
            {
                "crashed_sessions": [{"pid": pid, "started": started} for _, pid, started in crashed],
                "entries_after_last_head": size - head_size,
                "last_head_size": head_size,
                "tail_check": "ok",
            },
        )
        when = now if now > last_time else last_time
        body = entry_body(record, size, when)
        leaf = merkle.leaf_hash(body.encode("utf-8"))
        nodes: list[tuple[int, int, bytes]] = []
        frontier.append(leaf, lambda lvl, idx, h: nodes.append((lvl, idx, h)) if lvl >= NODE_LEVEL else None)
        conn.execute(
            "INSERT INTO entries (seq, time, actor, action, body, leaf) VALUES (?, ?, ?, ?, ?, ?)",
            (size, when, SYSTEM_ACTOR, RECOVERY_ACTION, body, leaf),
        )
        conn.executemany("INSERT OR REPLACE INTO nodes (level, idx, hash) VALUES (?, ?, ?)", nodes)
        conn.execute(
            "UPDATE tip SET size = ?, frontier = ?, last_time = ? WHERE id = 1",
            (frontier.size, frontier.to_blob(), when),
        )
        self._write_head(conn, frontier, when)

    def close(self) -> None:
        """Stop the writer, sign a final head for any new entries and mark the session closed."""
        with self._submit_lock:
            if self._closed:
                return
            self._closed = True
            if self._writer is not None:
                self._queue.put(_Request(None))  # the final head
                self._queue.put(None)
        _OPEN_LOGS.discard(self)
        if self._writer is not None:
            self._writer.join()
        if self._write_conn is not None:
            try:
                if self._session_id is not None:
                    self._write_conn.execute(
                        "UPDATE sessions SET closed = ? WHERE id = ?", (utc_now(), self._session_id)
                    )
            except sqlite3.Error:
                pass  # the next open records an unclean shutdown instead
            self._write_conn.close()
        with self._read_lock:
            self._read.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- reading

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._read_lock:
            if self._closed:
                raise AuditError(f"the audit log {self.path} is closed")
            try:
                return self._read.execute(sql, tuple(params)).fetchall()
            except sqlite3.Error as exc:
                raise AuditError(f"cannot read the audit log {self.path}: {exc}") from exc

    def size(self) -> int:
        row = self._query("SELECT size FROM tip WHERE id = 1")
        return row[0][0] if row else 0

    def entry(self, seq: int) -> dict[str, Any] | None:
        rows = self._query("SELECT body FROM entries WHERE seq = ?", (seq,))
        return json.loads(rows[0][0]) if rows else None

    def entries(
        self,
        user: str | None = None,
        action: str | None = None,
        since: str | dt.datetime | dt.date | None = None,
        until: str | dt.datetime | dt.date | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Entries in sequence order. ``action`` is exact, or a prefix when it ends in ``*``
        (``auth.*``); ``since``/``until`` are inclusive ISO 8601 bounds (a bare date covers its day)."""
        sql, params = self._filter_sql(user, action, since, until)
        sql += " ORDER BY seq"
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            params += [-1 if limit is None else max(0, int(limit)), max(0, int(offset))]
        return [json.loads(body) for (body,) in self._query(sql, params)]

    def iter_bodies(
        self,
        user: str | None = None,
        action: str | None = None,
        since: str | dt.datetime | dt.date | None = None,
        until: str | dt.datetime | dt.date | None = None,
    ) -> Iterator[str]:
        """The stored canonical text of matching entries, streamed on a private connection (exports)."""
        sql, params = self._filter_sql(user, action, since, until)
        conn = connect(self.path, readonly=True)
        try:
            cursor = conn.execute(sql + " ORDER BY seq", params)
            while rows := cursor.fetchmany(2048):
                for (body,) in rows:
                    yield body
        except sqlite3.Error as exc:
            raise AuditError(f"cannot read the audit log {self.path}: {exc}") from exc
        finally:
            conn.close()

    def count(
        self,
        user: str | None = None,
        action: str | None = None,
        since: str | dt.datetime | dt.date | None = None,
        until: str | dt.datetime | dt.date | None = None,
    ) -> int:
        sql, params = self._filter_sql(user, action, since, until)
        return self._query(sql.replace("SELECT body", "SELECT count(*)", 1), params)[0][0]

    @staticmethod
    def _filter_sql(user: Any, action: Any, since: Any, until: Any) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if user is not None:
            clauses.append("actor = ?")
            params.append(user)
        if action is not None:
            if action.endswith("*"):
                prefix = action[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                clauses.append("action LIKE ? ESCAPE '\\'")
                params.append(prefix + "%")
            else:
                clauses.append("action = ?")
                params.append(action)
        if since is not None:
            clauses.append("time >= ?")
            params.append(parse_time(since))
        if until is not None:
            clauses.append("time <= ?")
            params.append(parse_time(until, end_of_day=True))
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        return f"SELECT body FROM entries{where}", params

    def heads(self) -> list[dict[str, Any]]:
        return [json.loads(head) for (head,) in self._query("SELECT head FROM heads ORDER BY id")]

    def latest_head(self) -> dict[str, Any] | None:
        rows = self._query("SELECT head FROM heads ORDER BY id DESC LIMIT 1")
        return json.loads(rows[0][0]) if rows else None

    def _head_covering(self, seq: int, tree_size: int | None) -> SignedHead:
        if tree_size is not None:
            rows = self._query("SELECT head FROM heads WHERE tree_size = ? ORDER BY id DESC LIMIT 1", (tree_size,))
            if not rows:
                raise AuditError(f"no signed head of size {tree_size}", hint="`enclave audit head` shows the latest")
        else:
            rows = self._query("SELECT head FROM heads ORDER BY id DESC LIMIT 1")
            if rows and json.loads(rows[0][0])["tree_size"] <= seq and not self.readonly:
                self.sign_head()
                rows = self._query("SELECT head FROM heads ORDER BY id DESC LIMIT 1")
        head = SignedHead.from_dict(json.loads(rows[0][0]), "stored head") if rows else None
        if head is None or head.tree_size <= seq:
            raise AuditError(
                f"entry {seq} is not yet covered by a signed head",
                hint="heads are signed every few entries/seconds and on shutdown; retry shortly",
            )
        return head

    def inclusion_proof(self, seq: int, tree_size: int | None = None) -> dict[str, Any]:
        """Proof that entry ``seq`` is in the tree of the latest signed head (or the one of ``tree_size``)."""
        head = self._head_covering(seq, tree_size)
        rows = self._query("SELECT body, leaf FROM entries WHERE seq = ?", (seq,))
        if not rows:
            raise AuditError(f"no audit entry with seq {seq}")
        body, leaf = rows[0]
        if merkle.leaf_hash(body.encode("utf-8")) != bytes(leaf):
            raise AuditVerificationError(
                f"entry {seq} does not match its stored leaf hash", hint="run `enclave audit verify`"
            )
        path = merkle.inclusion_path(seq, head.tree_size, self._subtree)
        return {
            "format": INCLUSION_FORMAT,
            "leaf_index": seq,
            "tree_size": head.tree_size,
            "entry": body,
            "leaf_hash": bytes(leaf).hex(),
            "audit_path": [p.hex() for p in path],
            "head": head.to_dict(),
        }

    def consistency_proof(self, first: int, second: int | None = None) -> dict[str, Any]:
        """RFC 9162 consistency proof between the tree of size ``first`` and a signed head's tree."""
        head = self._head_covering(max(first - 1, 0), second)
        if not 0 < first <= head.tree_size:
            raise AuditError(f"no consistency proof from size {first} to size {head.tree_size}")
        path = merkle.consistency_path(first, head.tree_size, self._subtree)
        return {
            "format": CONSISTENCY_FORMAT,
            "first_size": first,
            "first_root": self._subtree(0, first).hex(),
            "tree_size": head.tree_size,
            "consistency_path": [p.hex() for p in path],
            "head": head.to_dict(),
        }

    def _subtree(self, start: int, end: int) -> bytes:
        return stored_subtree(self._query, start, end)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def open_audit(settings: Settings, *, readonly: bool = False) -> AuditLog:
    """The home's audit log (``[audit] path``), signing with ``[audit] key_path``."""
    cfg = settings.audit
    return AuditLog(
        settings.in_home(cfg.path),
        settings.in_home(cfg.key_path),
        head_every_entries=cfg.head_every_entries,
        head_every_seconds=cfg.head_every_seconds,
        hash_questions=cfg.hash_questions,
        readonly=readonly,
    )


@atexit.register
def _close_open_logs() -> None:
    """Sign the final head of logs the program forgot to close (a clean exit is not a crash)."""
    for log in list(_OPEN_LOGS):
        try:
            log.close()
        except Exception:  # noqa: S112 - best effort at interpreter exit
            continue
