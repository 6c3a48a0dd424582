"""The normalised event store: one SQLite table ``logs``, one row per event, one column per field.

This is the layout SigmaHQ's SQLite backend (and Zircolite) compiles rules against: every field a
rule names is a column, declared ``COLLATE NOCASE`` because Sigma string matching is
case-insensitive. A scan uses its own database (in memory by default, or a file), so rules run
against exactly the logs of that scan. Each row keeps its source file and record id/offset
(``_src``, ``_rec``) for evidence, and the database records the logs' label, which everything
derived from it inherits.
"""

from __future__ import annotations

import json
import re
import sqlite3
from array import array
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from enclave.cyber.model import EvidenceRef
from enclave.cyber.parsers.base import META_COLUMNS

MAX_COLUMNS = 1900  # SQLite's default limit is 2000; fields beyond this go to the _extra JSON column
BATCH = 5000
INDEXES = {"ix_chan_eid": ("Channel", "EventID"), "ix_prod": ("_product", "_service"), "ix_host_ts": ("_host", "_ts")}


# A batch of events grouped by their keys: ([(keys, [values, ...]), ...], group index of each
# event in order). Compact to send between processes (each key tuple once), ready for executemany,
# and the order lets the store replay the batch event by event when it has to.
RowGroups = list[tuple[tuple[str, ...], list[tuple[Any, ...]]]]
GroupedBatch = tuple[RowGroups, array]


def group_events(events: Iterable[dict[str, Any]]) -> GroupedBatch:
    """Group events by their keys with a value (a None value is no field: it stays NULL)."""
    groups: dict[tuple[str, ...], tuple[int, list[tuple[Any, ...]]]] = {}
    order = array("I")
    for event in events:
        keys = tuple(k for k, v in event.items() if v is not None)
        values = tuple(event.values()) if len(keys) == len(event) else tuple(event[k] for k in keys)
        entry = groups.get(keys)
        if entry is None:
            entry = groups[keys] = (len(groups), [])
        entry[1].append(values)
        order.append(entry[0])
    return [(keys, rows) for keys, (_, rows) in groups.items()], order


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _regexp(pattern: str | None, value: Any) -> bool:
    """SQLite's REGEXP operator (``value REGEXP pattern`` calls ``regexp(pattern, value)``)."""
    if pattern is None or value is None:
        return False
    compiled = _compile(pattern)
    return bool(compiled and compiled.search(str(value)))


class EventStore:
    """An SQLite database of events; the connection is owned by the store (close it when done)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.conn = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=OFF" if path is None else "PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=OFF")
        self.conn.execute("PRAGMA temp_store=MEMORY")
        self.conn.execute("PRAGMA cache_size=-262144")
        self.conn.create_function("regexp", 2, _regexp, deterministic=True)
        cols = ", ".join(f"{quote_ident(c)} TEXT COLLATE NOCASE" for c in (*META_COLUMNS, "_extra"))
        self.conn.execute(f"CREATE TABLE IF NOT EXISTS logs ({cols})")
        self.conn.execute("CREATE TABLE IF NOT EXISTS scan_meta (key TEXT PRIMARY KEY, value TEXT)")
        self.columns: dict[str, str] = {}
        for row in self.conn.execute("PRAGMA table_info(logs)"):
            self.columns[row[1].lower()] = row[1]
        self._exact: set[str] = set(self.columns.values())
        self._insert_sql: dict[tuple[str, ...], str] = {}
        self.count = 0

    # -- writing ---------------------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        self.conn.execute("INSERT OR REPLACE INTO scan_meta VALUES (?, ?)", (key, json.dumps(value)))

    def meta(self, key: str) -> Any:
        row = self.conn.execute("SELECT value FROM scan_meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def _column_for(self, key: str) -> str | None:
        known = self.columns.get(key.lower())
        if known is not None:
            return known
        if len(self.columns) >= MAX_COLUMNS or not key:
            return None
        self.conn.execute(f"ALTER TABLE logs ADD COLUMN {quote_ident(key)} TEXT COLLATE NOCASE")
        self.columns[key.lower()] = key
        self._exact.add(key)
        return key

    def _normalise_keys(self, event: dict[str, Any]) -> dict[str, Any]:
        """Map keys onto existing columns (case-insensitively); overflow goes to ``_extra``."""
        out: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in event.items():
            if value is None:
                continue
            column = self._column_for(key)
            if column is None:
                extra[key] = value
            else:
                out[column] = value
        if extra:
            out["_extra"] = json.dumps(extra, default=str)
        return out

    def add(self, events: Iterable[dict[str, Any]]) -> int:
        """Insert events in batches; returns how many were stored."""
        added = 0
        batch: list[dict[str, Any]] = []
        for event in events:
            batch.append(event)
            if len(batch) >= BATCH:
                added += self.add_groups(group_events(batch))
                batch = []
        if batch:
            added += self.add_groups(group_events(batch))
        return added

    def add_groups(self, batch: GroupedBatch) -> int:
        """Insert a batch of events grouped by ``group_events``; returns how many were stored.

        When every group's keys are existing column names (the usual case once the first events
        created them), each group goes straight to ``executemany``. Otherwise the batch is replayed
        in event order and keys are mapped one by one (a new field, another case, the column
        limit), so that columns are created and rows inserted exactly as event-by-event would.
        """
        groups, order = batch
        exact = self._exact
        ready: dict[tuple[str, ...], list[tuple[Any, ...]]]
        if all(exact.issuperset(keys) for keys, _ in groups):
            ready = dict(groups)
        else:
            ready = {}
            rows_of = [iter(rows) for _, rows in groups]
            for index in order:
                keys = groups[index][0]
                row = next(rows_of[index])
                if not exact.issuperset(keys):
                    event = self._normalise_keys(dict(zip(keys, row, strict=True)))
                    keys, row = tuple(event), tuple(event.values())
                ready.setdefault(keys, []).append(row)
        for keys, rows in ready.items():
            sql = self._insert_sql.get(keys)
            if sql is None:
                names = ", ".join(quote_ident(k) for k in keys)
                values = ", ".join("?" * len(keys))
                sql = f"INSERT INTO logs ({names}) VALUES ({values})" if keys else "INSERT INTO logs DEFAULT VALUES"
                self._insert_sql[keys] = sql
            self.conn.executemany(sql, rows)
        self.count += len(order)
        return len(order)

    def finish_loading(self) -> None:
        """Index the hot fields the rules and analytics filter on."""
        for name, cols in INDEXES.items():
            self._index(name, cols)
        # Sampled statistics: the planner only needs their shape, and a full ANALYZE reads every index
        self.conn.execute("PRAGMA analysis_limit=2000")
        self.conn.execute("ANALYZE")
        self.conn.commit()

    def index_channels(self) -> None:
        """The (Channel, EventID) index already while loading, for rules matched span by span.

        Its implicit trailing rowid lets a rule read just its channel's rows of one span.
        """
        self._index("ix_chan_eid", INDEXES["ix_chan_eid"])

    def _index(self, name: str, cols: tuple[str, ...]) -> None:
        if all(c.lower() in self.columns for c in cols):
            names = ", ".join(quote_ident(self.columns[c.lower()]) for c in cols)
            self.conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON logs ({names})")

    def ensure_column(self, name: str) -> bool:
        """Add an (all-NULL) column a rule names; False when the table is full."""
        return self._column_for(name) is not None

    # -- reading ---------------------------------------------------------------------------
    def has_column(self, name: str) -> bool:
        return name.lower() in self.columns

    def has_all(self, names: Iterable[str]) -> bool:
        return all(n.lower() in self.columns for n in names)

    def column_name(self, name: str) -> str:
        return self.columns.get(name.lower(), name)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        cur = self.conn.cursor()
        cur.row_factory = sqlite3.Row
        return list(cur.execute(sql, params))

    def rows(self, rowids: Sequence[int]) -> Iterator[dict[str, Any]]:
        """Full events (non-null fields only) for ``rowids``, in rowid order."""
        for start in range(0, len(rowids), 500):
            part = rowids[start : start + 500]
            cur = self.conn.execute(
                f"SELECT rowid AS _rowid, * FROM logs WHERE rowid IN ({','.join('?' * len(part))}) ORDER BY rowid", part
            )
            names = [d[0] for d in cur.description]
            for row in cur:
                yield {k: v for k, v in zip(names, row, strict=True) if v is not None}

    def evidence(self, rowids: Sequence[int]) -> list[EvidenceRef]:
        """Evidence references, reading only the columns a reference shows (fast for many hits)."""
        wanted = [
            c
            for c in (
                "_src",
                "_rec",
                "_ts",
                "_host",
                "_user",
                "_src_ip",
                "_dst_ip",
                "_dst_port",
                "EventID",
                *_SUMMARY_FIELDS,
            )
            if c.lower() in self.columns
        ]
        cols = ", ".join(quote_ident(self.columns[c.lower()]) for c in wanted)
        out: list[EvidenceRef] = []
        for start in range(0, len(rowids), 500):
            part = list(rowids[start : start + 500])
            cur = self.conn.execute(
                f"SELECT rowid, {cols} FROM logs WHERE rowid IN ({','.join('?' * len(part))}) ORDER BY rowid", part
            )
            for row in cur:
                event = {k: v for k, v in zip(wanted, row[1:], strict=True) if v is not None}
                event["_rowid"] = row[0]
                out.append(evidence_ref(event))
        return out

    def close(self) -> None:
        self.conn.close()


_SUMMARY_FIELDS = (
    "CommandLine",
    "Image",
    "TargetFilename",
    "TargetObject",
    "ImageLoaded",
    "PipeName",
    "QueryName",
    "message",
    "alert.signature",
    "query",
    "host",
    "uri",
    "server_name",
)


def evidence_ref(event: dict[str, Any]) -> EvidenceRef:
    """A compact, citable reference to a stored event."""
    bits: list[str] = []
    if event.get("EventID") is not None:
        bits.append(f"EventID {event['EventID']}")
    for name in _SUMMARY_FIELDS:
        if event.get(name):
            bits.append(f"{name}={str(event[name])[:160]}")
            if len(bits) >= 3:
                break
    if event.get("_src_ip") and event.get("_dst_ip"):
        bits.append(f"{event['_src_ip']} -> {event['_dst_ip']}:{event.get('_dst_port', '')}")
    return EvidenceRef(
        event=int(event["_rowid"]),
        source=str(event.get("_src", "")),
        record=str(event.get("_rec", "")),
        time=event.get("_ts"),
        host=event.get("_host"),
        user=event.get("_user"),
        summary="; ".join(bits)[:400],
    )
