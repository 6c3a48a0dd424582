"""The embedded store: one SQLite file in the Enclave home (WAL), label-aware BM25, exact dense search.

Why this shape:

* One transaction per document (``BEGIN IMMEDIATE`` ... ``COMMIT``) with ``synchronous=FULL``: a
  crash or ``kill -9`` leaves every committed document intact and no half-written one.
* Labels are interned (``label_key`` -> integer id). Both searches take the ids the effective
  clearance may read and restrict candidates to them in the query itself (SQL ``WHERE`` before
  ``ORDER BY``/``LIMIT``; label-partitioned slices of the vector matrix), never by post-filtering.
* Ids are ``AUTOINCREMENT``: a deleted chunk's id is never reused, so audit records that name chunk
  ids stay unambiguous.
* ``chunk_labels`` is a narrow copy of (chunk id, label id, token count) kept by triggers: the BM25
  statistics (readable chunk count and total length) come from it through a covering index.
* BM25 is computed from statistics over the reader's readable chunks only (``enclave.store.lexical``):
  ``chunk_terms`` holds one posting (term, label, chunk, tf, chunk length) per term and chunk,
  clustered by (term, label), so a query reads only the postings under readable labels. FTS5's own
  ``bm25()`` would use corpus-wide statistics that include chunks the reader may not read.
  ``chunks_fts`` stays as the tokenizer's reference: ``check_integrity`` cross-checks the postings
  against it term by term.
* Vectors live as float32 blobs next to the chunks; the in-memory ``LabelPartitionedIndex`` is a
  cache rebuilt when the store's generation counter moves (any committed write, from any process).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from enclave.labels import Label, dominates, label_from_dict, label_key, label_to_dict
from enclave.store import lexical
from enclave.store.base import (
    ChunkRecord,
    DocumentRecord,
    PutResult,
    RankedChunk,
    SearchFilters,
    StoreError,
    UserRecord,
)
from enclave.store.lexical import TOKENIZE, FTS5Tokenizer
from enclave.store.vectors import LabelPartitionedIndex

if TYPE_CHECKING:
    from enclave.ingest.model import ParsedDocument

MIGRATABLE = frozenset({1})  # older schema versions upgraded in place on open
SCHEMA_VERSION = 2  # 2: chunk_terms/terms postings and chunk_labels.n_tokens (migrated from 1 on open)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS labels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    label_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    doc_type TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    label_id INTEGER NOT NULL REFERENCES labels(id),
    title_label_id INTEGER NOT NULL REFERENCES labels(id),
    label_source TEXT NOT NULL,
    metadata_json TEXT NOT NULL DEFAULT '{}',
    doc_date TEXT,
    ingested_by TEXT NOT NULL,
    ingested_at TEXT NOT NULL,
    n_chunks INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_hash ON documents(content_hash, label_id);
CREATE INDEX IF NOT EXISTS documents_label ON documents(label_id);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id INTEGER NOT NULL REFERENCES documents(id),
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    start_offset INTEGER NOT NULL,
    end_offset INTEGER NOT NULL,
    page INTEGER,
    heading TEXT,
    label_id INTEGER NOT NULL REFERENCES labels(id),
    flags TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS chunks_document ON chunks(document_id, ordinal);
CREATE INDEX IF NOT EXISTS chunks_label ON chunks(label_id);
CREATE TABLE IF NOT EXISTS chunk_labels (
    chunk_id INTEGER PRIMARY KEY,
    label_id INTEGER NOT NULL,
    n_tokens INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS chunk_labels_label ON chunk_labels(label_id, n_tokens);
CREATE TABLE IF NOT EXISTS terms (
    id INTEGER PRIMARY KEY,
    term TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS chunk_terms (
    term_id INTEGER NOT NULL,
    label_id INTEGER NOT NULL,
    chunk_id INTEGER NOT NULL,
    tf INTEGER NOT NULL,
    dl INTEGER NOT NULL,
    PRIMARY KEY (term_id, label_id, chunk_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chunk_vectors (
    chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id),
    label_id INTEGER NOT NULL,
    vector BLOB NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, content='chunks', content_rowid='id', tokenize='@TOKENIZE@'
);
CREATE TRIGGER IF NOT EXISTS chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
    INSERT INTO chunk_labels(chunk_id, label_id) VALUES (new.id, new.label_id);
END;
CREATE TRIGGER IF NOT EXISTS chunks_fts_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
    DELETE FROM chunk_labels WHERE chunk_id = old.id;
END;
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    clearance_json TEXT NOT NULL,
    roles_json TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    extra_json TEXT NOT NULL DEFAULT '{}'
);
""".replace("@TOKENIZE@", TOKENIZE)

# Words that match nearly every chunk: dropping them keeps BM25 queries selective (and fast).
_STOPWORDS = frozenset(
    """a about above after again all am an and any are as at be been before being below between both but by
    can could did do does doing down during each few for from further had has have having he her here hers
    him his how i if in into is it its itself just me more most my no nor not now of off on once only or
    other our ours out over own same she should so some such than that the their theirs them then there
    these they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours""".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_TERMS = 32


def query_words(text: str) -> list[str]:
    """The query's distinct words in order, English stop words dropped (unless nothing else is left)."""
    seen: list[str] = []
    for word in _WORD.findall(text.lower()):
        if word not in seen:
            seen.append(word)
    return ([w for w in seen if w not in _STOPWORDS] or seen)[:MAX_QUERY_TERMS]


def fts_query(text: str) -> str | None:
    """A safe FTS5 MATCH expression: the query's distinct words, quoted, OR-ed (None when empty).

    User text never reaches FTS5 syntax: every term is a quoted string, so operators, quotes and
    column filters in a question are just words.
    """
    terms = query_words(text)
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _doc_date(metadata: Mapping[str, Any]) -> str | None:
    """The document's own date as ``YYYY-MM-DD`` when its metadata has a parseable one."""
    raw = metadata.get("date")
    if isinstance(raw, datetime):
        return raw.date().isoformat()
    if isinstance(raw, date):
        return raw.isoformat()
    if isinstance(raw, str) and raw.strip():
        text = raw.strip()
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
        except ValueError:
            pass
        from email.utils import parsedate_to_datetime

        try:
            return parsedate_to_datetime(text).date().isoformat()
        except (TypeError, ValueError, IndexError):
            return None
    return None


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


class SQLiteStore:
    """The ``Store`` Protocol over one SQLite file. Thread-safe (one connection, one lock)."""

    def __init__(self, path: str | os.PathLike[str], *, embed_dim: int = 384) -> None:
        self.path = Path(path)
        self.embed_dim = embed_dim
        self._lock = threading.RLock()
        self._labels: dict[int, Label] = {}
        self._index: LabelPartitionedIndex | None = None
        self._readable_stats: dict[tuple[int, str], tuple[int, int]] = {}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute("PRAGMA busy_timeout=30000")
            self._tokenizer = FTS5Tokenizer(self._conn)
            self._init_schema()
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"cannot open the document store {self.path}: {exc}",
                hint="check the file is an Enclave store and not damaged; restore it from a backup if it is",
            ) from exc

    # -- plumbing ----------------------------------------------------------------------------
    def _schema_version(self) -> int | None:
        row = self._conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
        if row is None:
            return None
        found = self._conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = None if found is None else int(found[0])
        if version is not None and version not in MIGRATABLE and version != SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has store schema version {version}, this Enclave expects {SCHEMA_VERSION}",
                hint="use the Enclave version that created the store, or re-ingest into a new home",
            )
        return version

    def _init_schema(self) -> None:
        with self._lock:
            self._schema_version()  # refuse an unknown version before taking the write lock
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                version = self._schema_version()  # again under the lock: another process may have migrated
                if version == 1:
                    self._conn.execute("ALTER TABLE chunk_labels ADD COLUMN n_tokens INTEGER NOT NULL DEFAULT 0")
                for statement in _split_sql(_SCHEMA):
                    self._conn.execute(statement)
                if version == 1:
                    self._migrate_from_1()
                self._conn.execute(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                )
                self._conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', '0')")
                self._conn.execute(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES ('embed_dim', ?)", (str(self.embed_dim),)
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            dim = self._conn.execute("SELECT value FROM meta WHERE key='embed_dim'").fetchone()
            if dim is not None and int(dim[0]) != self.embed_dim:
                raise StoreError(
                    f"{self.path} holds {dim[0]}-dimensional vectors, the configured embedder makes {self.embed_dim}",
                    hint="use the embedding model the store was built with, or re-ingest into a new home",
                )

    def _migrate_from_1(self) -> None:
        """Schema 1 -> 2: build the BM25 postings and chunk lengths of every stored chunk (one transaction)."""
        last = 0
        while True:
            rows = self._conn.execute(
                "SELECT id, label_id, text FROM chunks WHERE id > ? ORDER BY id LIMIT 2000", (last,)
            ).fetchall()
            if not rows:
                break
            self._index_terms(self._conn, [(int(r[0]), int(r[1]), str(r[2])) for r in rows])
            last = int(rows[-1][0])
        self._conn.execute("UPDATE meta SET value = ? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
        self._conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'")

    def _index_terms(self, conn: sqlite3.Connection, rows: Sequence[tuple[int, int, str]]) -> None:
        """Postings and lengths for freshly inserted chunks ``(chunk id, label id, text)``."""
        counts = self._tokenizer.term_counts((cid, text) for cid, _, text in rows)
        if not counts:
            return
        terms = sorted({t for c in counts.values() for t in c})
        ids = _term_ids(conn, terms)
        new = [t for t in terms if t not in ids]
        if new:
            conn.executemany("INSERT INTO terms(term) VALUES (?)", ((t,) for t in new))
            ids.update(_term_ids(conn, new))
        postings: list[tuple[int, int, int, int, int]] = []
        lengths: list[tuple[int, int]] = []
        for chunk_id, label_id, _ in rows:
            found = counts.get(chunk_id)
            if not found:
                continue
            dl = sum(found.values())
            lengths.append((dl, chunk_id))
            postings += [(ids[t], label_id, chunk_id, n, dl) for t, n in found.items()]
        postings.sort()  # in key order: each insert lands next to the previous one's B-tree path
        conn.executemany("INSERT INTO chunk_terms(term_id, label_id, chunk_id, tf, dl) VALUES (?,?,?,?,?)", postings)
        conn.executemany("UPDATE chunk_labels SET n_tokens = ? WHERE chunk_id = ?", lengths)

    def _unindex_terms(self, conn: sqlite3.Connection, document_id: int) -> None:
        """Remove a document's postings (its chunk texts re-tokenized, as FTS5's 'delete' does)."""
        rows = conn.execute("SELECT id, label_id, text FROM chunks WHERE document_id = ?", (document_id,)).fetchall()
        counts = self._tokenizer.term_counts((int(r[0]), str(r[2])) for r in rows)
        terms = sorted({t for c in counts.values() for t in c})
        if not terms:
            return
        ids = _term_ids(conn, terms)
        conn.executemany(
            "DELETE FROM chunk_terms WHERE term_id = ? AND label_id = ? AND chunk_id = ?",
            [(ids[t], int(r[1]), int(r[0])) for r in rows for t in counts.get(int(r[0]), ()) if t in ids],
        )
        # a deleted document's vocabulary does not linger in the store once nothing else uses it
        conn.execute(
            "DELETE FROM terms WHERE id IN (SELECT value FROM json_each(?))"
            " AND NOT EXISTS (SELECT 1 FROM chunk_terms p WHERE p.term_id = terms.id)",
            (json.dumps(sorted(ids.values())),),
        )

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; bumps the generation so other readers refresh their caches."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'")
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def generation(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])

    # -- labels ------------------------------------------------------------------------------
    def labels(self) -> Mapping[int, Label]:
        with self._lock:
            last = max(self._labels, default=0)
            for label_id, raw in self._conn.execute("SELECT id, label_json FROM labels WHERE id > ?", (last,)):
                self._labels[int(label_id)] = label_from_dict(json.loads(raw))
            return dict(self._labels)

    def _label(self, label_id: int) -> Label:
        found = self._labels.get(label_id)
        if found is None:
            found = self.labels()[label_id]
        return found

    def _intern(self, conn: sqlite3.Connection, label: Label) -> int:
        key = label_key(label)
        row = conn.execute("SELECT id FROM labels WHERE key = ?", (key,)).fetchone()
        if row is not None:
            return int(row[0])
        cur = conn.execute(
            "INSERT INTO labels(key, label_json) VALUES (?, ?)", (key, json.dumps(label_to_dict(label), sort_keys=True))
        )
        return int(cur.lastrowid or 0)

    def label_id(self, label: Label) -> int | None:
        with self._lock:
            row = self._conn.execute("SELECT id FROM labels WHERE key = ?", (label_key(label),)).fetchone()
            return None if row is None else int(row[0])

    # -- documents -----------------------------------------------------------------------------
    def find_duplicate(self, content_hash: str, label: Label) -> int | None:
        label_id = self.label_id(label)
        if label_id is None:
            return None
        with self._lock:
            row = self._conn.execute(
                "SELECT id FROM documents WHERE content_hash = ? AND label_id = ? ORDER BY id LIMIT 1",
                (content_hash, label_id),
            ).fetchone()
        return None if row is None else int(row[0])

    def _check_document(self, doc: ParsedDocument, vectors: np.ndarray | None) -> np.ndarray | None:
        """Refuse malformed input before the transaction starts: nothing stored is touched."""
        for i, chunk in enumerate(doc.chunks):
            if not (0 <= chunk.start <= chunk.end <= len(doc.text)):
                raise StoreError(
                    f"{doc.source}: chunk {i} has offsets {chunk.start}..{chunk.end} outside the text "
                    f"(length {len(doc.text)})"
                )
            if not dominates(doc.label, chunk.label):
                raise StoreError(
                    f"{doc.source}: chunk {i} is labelled above its document's label",
                    hint="the document label must dominate every portion; re-check the document's markings",
                )
        title_label = getattr(doc, "title_label", None)
        if title_label is not None and not dominates(doc.label, title_label):
            raise StoreError(f"{doc.source}: the title is labelled above its document's label")
        if vectors is None:
            return None
        arr = np.asarray(vectors, dtype=np.float32)
        if arr.shape != (len(doc.chunks), self.embed_dim):
            raise StoreError(
                f"{doc.source}: got vectors of shape {arr.shape}, expected ({len(doc.chunks)}, {self.embed_dim})"
            )
        if not np.isfinite(arr).all():
            raise StoreError(f"{doc.source}: embedding vectors contain NaN or infinity")
        return np.ascontiguousarray(arr)

    def put_document(
        self,
        doc: ParsedDocument,
        vectors: np.ndarray | None,
        *,
        ingested_by: str,
        on_commit: Callable[[PutResult], Any] | None = None,
    ) -> PutResult:
        arr = self._check_document(doc, vectors)
        try:
            with self._write() as conn:
                dup = conn.execute(
                    "SELECT d.id FROM documents d JOIN labels l ON l.id = d.label_id"
                    " WHERE d.content_hash = ? AND l.key = ? ORDER BY d.id LIMIT 1",
                    (doc.content_hash, label_key(doc.label)),
                ).fetchone()
                if dup is not None:  # checked inside the write lock: two ingesters cannot both insert it
                    raise _Unchanged(PutResult("duplicate", int(dup[0]), duplicate_of=int(dup[0])))
                label_id = self._intern(conn, doc.label)
                old = conn.execute("SELECT id FROM documents WHERE source = ?", (doc.source,)).fetchone()
                replaced_id = None
                if old is not None:
                    replaced_id = int(old[0])
                    self._delete_rows(conn, replaced_id)
                metadata = dict(doc.metadata)
                title_label = getattr(doc, "title_label", None) or doc.label
                cur = conn.execute(
                    "INSERT INTO documents(source, title, doc_type, content_hash, label_id, title_label_id,"
                    " label_source, metadata_json, doc_date, ingested_by, ingested_at, n_chunks, text)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        doc.source,
                        doc.title,
                        doc.doc_type,
                        doc.content_hash,
                        label_id,
                        self._intern(conn, title_label),
                        doc.label_source,
                        json.dumps(metadata, default=_json_default, sort_keys=True),
                        _doc_date(metadata),
                        ingested_by,
                        _now(),
                        len(doc.chunks),
                        doc.text,
                    ),
                )
                document_id = int(cur.lastrowid or 0)
                indexed: list[tuple[int, int, str]] = []
                for ordinal, chunk in enumerate(doc.chunks):
                    chunk_label_id = self._intern(conn, chunk.label)
                    cur = conn.execute(
                        "INSERT INTO chunks(document_id, ordinal, text, start_offset, end_offset, page, heading,"
                        " label_id, flags) VALUES (?,?,?,?,?,?,?,?,?)",
                        (
                            document_id,
                            ordinal,
                            chunk.text,
                            chunk.start,
                            chunk.end,
                            chunk.page,
                            chunk.heading,
                            chunk_label_id,
                            json.dumps(sorted(chunk.flags)),
                        ),
                    )
                    chunk_id = int(cur.lastrowid or 0)
                    indexed.append((chunk_id, chunk_label_id, chunk.text))
                    if arr is not None:
                        conn.execute(
                            "INSERT INTO chunk_vectors(chunk_id, label_id, vector) VALUES (?,?,?)",
                            (chunk_id, chunk_label_id, arr[ordinal].tobytes()),
                        )
                self._index_terms(conn, indexed)
                result = PutResult("replaced" if replaced_id else "ingested", document_id, replaced_id=replaced_id)
                if on_commit is not None:
                    on_commit(result)
        except _Unchanged as unchanged:
            return unchanged.result
        return result

    def _delete_rows(self, conn: sqlite3.Connection, document_id: int) -> None:
        self._unindex_terms(conn, document_id)
        conn.execute(
            "DELETE FROM chunk_vectors WHERE chunk_id IN (SELECT id FROM chunks WHERE document_id = ?)", (document_id,)
        )
        conn.execute("DELETE FROM chunks WHERE document_id = ?", (document_id,))
        conn.execute("DELETE FROM documents WHERE id = ?", (document_id,))

    def delete_document(self, document_id: int, *, on_commit: Callable[[int], Any] | None = None) -> bool:
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM documents WHERE id = ?", (document_id,)).fetchone() is None:
                return False
            self._delete_rows(conn, document_id)
            if on_commit is not None:
                on_commit(document_id)
        return True

    _DOC_COLUMNS = (
        "id, source, title, doc_type, content_hash, label_id, label_source, metadata_json, doc_date, ingested_by,"
        " ingested_at, n_chunks, title_label_id"
    )

    def _doc_record(self, row: Sequence[Any]) -> DocumentRecord:
        return DocumentRecord(
            id=int(row[0]),
            source=row[1],
            title=row[2],
            doc_type=row[3],
            content_hash=row[4],
            label_id=int(row[5]),
            label=self._label(int(row[5])),
            label_source=row[6],
            metadata=json.loads(row[7]),
            doc_date=row[8],
            ingested_by=row[9],
            ingested_at=row[10],
            n_chunks=int(row[11]),
            title_label=self._label(int(row[12])),
        )

    def get_document(self, document_id: int) -> DocumentRecord | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {self._DOC_COLUMNS} FROM documents WHERE id = ?", (document_id,)
            ).fetchone()
            return None if row is None else self._doc_record(row)

    def document_text(self, document_id: int) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT text FROM documents WHERE id = ?", (document_id,)).fetchone()
            return None if row is None else str(row[0])

    def list_documents(self, label_ids: Collection[int], *, limit: int = 100, offset: int = 0) -> list[DocumentRecord]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {self._DOC_COLUMNS} FROM documents WHERE label_id IN (SELECT value FROM json_each(?))"
                " ORDER BY id LIMIT ? OFFSET ?",
                (json.dumps(sorted(label_ids)), limit, offset),
            ).fetchall()
            return [self._doc_record(r) for r in rows]

    _CHUNK_COLUMNS = "id, document_id, ordinal, text, start_offset, end_offset, page, heading, label_id, flags"

    def _chunk_record(self, row: Sequence[Any]) -> ChunkRecord:
        return ChunkRecord(
            id=int(row[0]),
            document_id=int(row[1]),
            ordinal=int(row[2]),
            text=row[3],
            start=int(row[4]),
            end=int(row[5]),
            page=row[6],
            heading=row[7],
            label_id=int(row[8]),
            label=self._label(int(row[8])),
            flags=frozenset(json.loads(row[9])),
        )

    def document_chunks(self, document_id: int, label_ids: Collection[int]) -> list[ChunkRecord]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {self._CHUNK_COLUMNS} FROM chunks WHERE document_id = ?"
                " AND label_id IN (SELECT value FROM json_each(?)) ORDER BY ordinal",
                (document_id, json.dumps(sorted(label_ids))),
            ).fetchall()
            return [self._chunk_record(r) for r in rows]

    def get_chunks(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRecord]:
        if not chunk_ids:
            return {}
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {self._CHUNK_COLUMNS} FROM chunks WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps([int(c) for c in chunk_ids]),),
            ).fetchall()
            return {int(r[0]): self._chunk_record(r) for r in rows}

    def get_documents(self, document_ids: Collection[int]) -> dict[int, DocumentRecord]:
        if not document_ids:
            return {}
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {self._DOC_COLUMNS} FROM documents WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(sorted(int(d) for d in document_ids)),),
            ).fetchall()
            return {int(r[0]): self._doc_record(r) for r in rows}

    def counts(self) -> dict[str, int]:
        with self._lock:
            one = self._conn.execute
            return {
                "documents": int(one("SELECT count(*) FROM documents").fetchone()[0]),
                "chunks": int(one("SELECT count(*) FROM chunks").fetchone()[0]),
                "vectors": int(one("SELECT count(*) FROM chunk_vectors").fetchone()[0]),
                "labels": int(one("SELECT count(*) FROM labels").fetchone()[0]),
                "users": int(one("SELECT count(*) FROM users").fetchone()[0]),
            }

    def check_integrity(self) -> list[str]:
        """Problems found by SQLite's and FTS5's integrity checks plus cross-table consistency."""
        problems: list[str] = []
        with self._lock:
            result = self._conn.execute("PRAGMA integrity_check").fetchone()[0]
            if result != "ok":
                problems.append(f"integrity_check: {result}")
            try:
                self._conn.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)")
            except sqlite3.DatabaseError as exc:
                problems.append(f"fts5: {exc}")
            bad = self._conn.execute(
                "SELECT d.id, d.n_chunks, count(c.id) FROM documents d LEFT JOIN chunks c ON c.document_id = d.id"
                " GROUP BY d.id HAVING d.n_chunks != count(c.id)"
            ).fetchall()
            problems += [f"document {r[0]} expects {r[1]} chunks, has {r[2]}" for r in bad]
            mirror = self._conn.execute(
                "SELECT count(*) FROM chunks c LEFT JOIN chunk_labels l ON l.chunk_id = c.id"
                " WHERE l.label_id IS NOT c.label_id"
            ).fetchone()[0]
            extra = self._conn.execute(
                "SELECT count(*) FROM chunk_labels WHERE chunk_id NOT IN (SELECT id FROM chunks)"
            ).fetchone()[0]
            if mirror or extra:
                problems.append(f"chunk_labels out of step with chunks ({mirror} missing/wrong, {extra} extra)")
            orphans = self._conn.execute(
                "SELECT count(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)"
            ).fetchone()[0]
            if orphans:
                problems.append(f"{orphans} chunks without a document")
            problems += self._check_postings()
        return problems

    def _check_postings(self) -> list[str]:
        """The BM25 postings against FTS5's own index: same terms, document counts and occurrences."""
        problems: list[str] = []
        self._conn.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.enclave_fts_rows USING fts5vocab(main, chunks_fts, row)"
        )
        rows = self._conn.execute("SELECT term, doc, cnt FROM temp.enclave_fts_rows")
        fts = {t: (int(d), int(c)) for t, d, c in rows}
        ours = {
            t: (int(d), int(c))
            for t, d, c in self._conn.execute(
                "SELECT t.term, count(*), sum(p.tf) FROM chunk_terms p JOIN terms t ON t.id = p.term_id"
                " GROUP BY p.term_id"
            )
        }
        differ = sorted(t for t in fts.keys() | ours.keys() if fts.get(t) != ours.get(t))
        if differ:
            problems.append(f"BM25 postings differ from chunks_fts for {len(differ)} terms (e.g. {differ[:3]})")
        bad = self._conn.execute(
            "SELECT count(*) FROM (SELECT chunk_id, label_id, sum(tf) AS n, min(dl) AS lo, max(dl) AS hi"
            " FROM chunk_terms GROUP BY chunk_id, label_id) x LEFT JOIN chunk_labels l ON l.chunk_id = x.chunk_id"
            " WHERE l.label_id IS NOT x.label_id OR l.n_tokens != x.n OR x.lo != x.n OR x.hi != x.n"
        ).fetchone()[0]
        listed = self._conn.execute("SELECT coalesce(sum(n_tokens), 0) FROM chunk_labels").fetchone()[0]
        counted = self._conn.execute("SELECT coalesce(sum(tf), 0) FROM chunk_terms").fetchone()[0]
        if bad or listed != counted:
            problems.append(f"BM25 chunk lengths out of step ({bad} chunks; {listed} tokens listed, {counted} posted)")
        return problems

    # -- search --------------------------------------------------------------------------------
    def _filter_sql(self, filters: SearchFilters | None) -> tuple[str, list[Any]]:
        """SQL restricting ``d`` (documents) by the metadata filters."""
        if filters is None or filters.is_empty():
            return "", []
        clauses: list[str] = []
        params: list[Any] = []
        if filters.source is not None:
            if filters.source.endswith("*"):
                prefix = filters.source[:-1]
                clauses.append("substr(d.source, 1, ?) = ?")
                params += [len(prefix), prefix]
            else:
                clauses.append("d.source = ?")
                params.append(filters.source)
        day = "COALESCE(d.doc_date, substr(d.ingested_at, 1, 10))"
        if filters.date_from is not None:
            clauses.append(f"{day} >= ?")
            params.append(filters.date_from.isoformat())
        if filters.date_to is not None:
            clauses.append(f"{day} <= ?")
            params.append(filters.date_to.isoformat())
        if filters.doc_types:
            clauses.append("d.doc_type IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(sorted(filters.doc_types)))
        return " AND " + " AND ".join(clauses), params

    def bm25_search(
        self, query: str, label_ids: Collection[int], *, limit: int, filters: SearchFilters | None = None
    ) -> list[RankedChunk]:
        """Okapi BM25 over the readable chunks, with statistics from the readable chunks alone.

        Candidates are the chunks under ``label_ids`` (and the filters) holding a query term. The
        number of chunks, their average length and each term's document frequency are counted over
        the chunks under ``label_ids`` only, so nothing the reader cannot read moves a score or the
        order (the metadata filters narrow the candidates, not the statistics).
        """
        words = query_words(query)
        if not words or not label_ids or limit <= 0:
            return []
        labels_json = json.dumps(sorted(int(i) for i in label_ids))
        where, params = self._filter_sql(filters)
        join = " JOIN chunks c ON c.id = p.chunk_id JOIN documents d ON d.id = c.document_id" if where else ""
        postings_sql = (
            f"SELECT p.chunk_id, p.tf, p.dl FROM chunk_terms p{join}"
            f" WHERE p.term_id = ? AND p.label_id IN (SELECT value FROM json_each(?)){where}"
        )
        df_sql = "SELECT count(*) FROM chunk_terms WHERE term_id = ? AND label_id IN (SELECT value FROM json_each(?))"
        postings: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        n_hits: list[int] = []
        with self._lock:
            terms = self._tokenizer.query_terms(" ".join(words))[:MAX_QUERY_TERMS]
            if not terms:
                return []
            self._conn.execute("BEGIN")  # one snapshot for the statistics and the postings
            try:
                found = _term_ids(self._conn, terms)
                n_rows, n_tokens = self._readable_totals(labels_json)
                for term in terms:
                    term_id = found.get(term)
                    if term_id is None:
                        continue
                    rows = self._conn.execute(postings_sql, [term_id, labels_json, *params]).fetchall()
                    n_hit = len(rows)
                    if where:  # the filters narrow the candidates, not the readable statistics
                        n_hit = int(self._conn.execute(df_sql, (term_id, labels_json)).fetchone()[0])
                    flat = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=3 * len(rows)).reshape(-1, 3)
                    postings.append((flat[:, 0], flat[:, 1].astype(np.float64), flat[:, 2].astype(np.float64)))
                    n_hits.append(n_hit)
            finally:
                self._conn.execute("COMMIT")
        ranked = lexical.rank(postings, n_hits, n_rows, n_tokens, limit)
        return [RankedChunk(cid, rank, score) for rank, (cid, score) in enumerate(ranked, start=1)]

    def _readable_totals(self, labels_json: str) -> tuple[int, int]:
        """(number of chunks, total tokens) under the given labels; cached per store generation."""
        gen = int(self._conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])
        key = (gen, labels_json)
        found = self._readable_stats.get(key)
        if found is None:
            row = self._conn.execute(
                "SELECT count(*), coalesce(sum(n_tokens), 0) FROM chunk_labels"
                " WHERE label_id IN (SELECT value FROM json_each(?))",
                (labels_json,),
            ).fetchone()
            found = (int(row[0]), int(row[1]))
            if len(self._readable_stats) >= 256 or any(g != gen for g, _ in self._readable_stats):
                self._readable_stats.clear()
            self._readable_stats[key] = found
        return found

    def dense_index(self) -> LabelPartitionedIndex:
        """The in-memory vector index, rebuilt when any process has committed a write since."""
        with self._lock:
            current = self.generation()
            if self._index is None or self._index.generation != current:
                self._conn.execute("BEGIN")
                try:
                    gen = int(self._conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])
                    rows = self._conn.execute(
                        "SELECT chunk_id, label_id, vector FROM chunk_vectors ORDER BY label_id, chunk_id"
                    )
                    self._index = LabelPartitionedIndex.from_rows(rows, self.embed_dim, gen)
                finally:
                    self._conn.execute("COMMIT")
            return self._index

    def dense_search(
        self, vector: np.ndarray, label_ids: Collection[int], *, limit: int, filters: SearchFilters | None = None
    ) -> list[RankedChunk]:
        if not label_ids or limit <= 0:
            return []
        index = self.dense_index()
        allowed = None
        if filters is not None and not filters.is_empty():
            where, params = self._filter_sql(filters)
            with self._lock:
                ids = self._conn.execute(
                    f"SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id WHERE 1{where}", params
                ).fetchall()
            allowed = np.sort(np.fromiter((r[0] for r in ids), dtype=np.int64, count=len(ids)))
        hits = index.search(vector, label_ids, limit, allowed)
        return [RankedChunk(cid, rank, score) for rank, (cid, score) in enumerate(hits, start=1)]

    # -- users ---------------------------------------------------------------------------------
    def _user_record(self, row: Sequence[Any]) -> UserRecord:
        return UserRecord(
            name=row[0],
            clearance=json.loads(row[1]),
            roles=tuple(json.loads(row[2])),
            disabled=bool(row[3]),
            token_hash=row[4],
            created_at=row[5],
            updated_at=row[6],
            extra=json.loads(row[7]),
        )

    _USER_COLUMNS = "name, clearance_json, roles_json, disabled, token_hash, created_at, updated_at, extra_json"

    def put_user(self, user: UserRecord, *, on_commit: Callable[[UserRecord], Any] | None = None) -> None:
        with self._write() as conn:
            conn.execute(
                f"INSERT INTO users({self._USER_COLUMNS}) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET"
                " clearance_json=excluded.clearance_json, roles_json=excluded.roles_json, disabled=excluded.disabled,"
                " token_hash=excluded.token_hash, updated_at=excluded.updated_at, extra_json=excluded.extra_json",
                (
                    user.name,
                    json.dumps(user.clearance, sort_keys=True),
                    json.dumps(list(user.roles)),
                    int(user.disabled),
                    user.token_hash,
                    user.created_at,
                    user.updated_at,
                    json.dumps(user.extra, sort_keys=True),
                ),
            )
            if on_commit is not None:
                on_commit(user)

    def get_user(self, name: str) -> UserRecord | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {self._USER_COLUMNS} FROM users WHERE name = ?", (name,)).fetchone()
            return None if row is None else self._user_record(row)

    def user_by_token_hash(self, token_hash: str) -> UserRecord | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {self._USER_COLUMNS} FROM users WHERE token_hash = ?", (token_hash,)
            ).fetchone()
            return None if row is None else self._user_record(row)

    def list_users(self) -> list[UserRecord]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {self._USER_COLUMNS} FROM users ORDER BY name").fetchall()
            return [self._user_record(r) for r in rows]


class _Unchanged(Exception):  # control flow only, never escapes put_document
    """Rolls back a write that turned out to change nothing (a duplicate)."""

    def __init__(self, result: PutResult) -> None:
        super().__init__(result.status)
        self.result = result


def _term_ids(conn: sqlite3.Connection, terms: Sequence[str]) -> dict[str, int]:
    """The interned ids of those ``terms`` that are known."""
    sql = "SELECT term, id FROM terms WHERE term IN (SELECT value FROM json_each(?))"
    rows = conn.execute(sql, (json.dumps(list(terms)),))
    return {str(t): int(i) for t, i in rows}


def _split_sql(script: str) -> list[str]:
    """Split the schema into statements (trigger bodies contain ';', so split on 'END;' too)."""
    statements: list[str] = []
    buf: list[str] = []
    in_trigger = False
    for line in script.strip().splitlines():
        buf.append(line)
        stripped = line.strip()
        if stripped.startswith("CREATE TRIGGER"):
            in_trigger = True
        if (in_trigger and stripped == "END;") or (not in_trigger and stripped.endswith(";")):
            statements.append("\n".join(buf))
            buf = []
            in_trigger = False
    return statements
