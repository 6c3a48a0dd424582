"""The ``Store`` Protocol: what services need from a document store, whatever the database.

The embedded default is SQLite (``enclave.store.sqlite``); a PostgreSQL implementation (pgvector,
full-text search, row-level security mirroring the access decision) can follow behind the same
Protocol. Access control is *not* a caller's post-processing step: both search methods take the set
of interned label ids the effective clearance may read and restrict their candidate sets to them
inside the query, before anything is ranked.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

from enclave.errors import EnclaveError
from enclave.labels import Label

if TYPE_CHECKING:  # the ingest data contract; typing only, so the store never imports a service
    from enclave.ingest.model import ParsedDocument

PutStatus = Literal["ingested", "duplicate", "replaced"]


class StoreError(EnclaveError):
    """The store is unreadable, of an unknown schema, or was asked something impossible."""


@dataclass(frozen=True)
class SearchFilters:
    """Optional metadata restrictions, applied inside the query like the label filter.

    ``source`` matches a document's source exactly, or as a prefix when it ends with ``*``.
    Dates compare against the document's own date (``metadata["date"]``) when it has one, else the
    day it was ingested; both bounds are inclusive.
    """

    source: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    doc_types: frozenset[str] = frozenset()

    def is_empty(self) -> bool:
        return self.source is None and self.date_from is None and self.date_to is None and not self.doc_types


@dataclass(frozen=True)
class PutResult:
    status: PutStatus
    document_id: int
    replaced_id: int | None = None  # the old version's id when status == "replaced"
    duplicate_of: int | None = None  # the stored document's id when status == "duplicate"


@dataclass(frozen=True)
class DocumentRecord:
    id: int
    source: str
    title: str
    doc_type: str
    content_hash: str
    label_id: int
    label: Label
    label_source: str
    metadata: dict[str, Any]
    doc_date: str | None
    ingested_by: str
    ingested_at: str
    n_chunks: int
    title_label: Label | None = None  # the title's own label (portion-marked titles); None = ``label``


@dataclass(frozen=True)
class ChunkRecord:
    id: int
    document_id: int
    ordinal: int
    text: str
    start: int
    end: int
    page: int | None
    heading: str | None
    label_id: int
    label: Label
    flags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RankedChunk:
    """One candidate from one retriever: its id, 1-based rank and raw score."""

    chunk_id: int
    rank: int
    score: float


@dataclass(frozen=True)
class UserRecord:
    name: str
    clearance: dict[str, Any]  # clearance_to_dict(...)
    roles: tuple[str, ...]
    disabled: bool
    token_hash: str
    created_at: str
    updated_at: str
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Store(Protocol):
    """Documents, chunks, interned labels, a BM25 index, a dense vector index, and users."""

    # -- labels ------------------------------------------------------------------------------
    def labels(self) -> Mapping[int, Label]:
        """Every interned label by id (small: one row per distinct label)."""
        ...

    # -- documents -----------------------------------------------------------------------------
    def find_duplicate(self, content_hash: str, label: Label) -> int | None:
        """The id of a stored document with this content and label, if any."""
        ...

    def put_document(
        self, doc: ParsedDocument, vectors: np.ndarray | None, *, ingested_by: str, on_commit: Any = None
    ) -> PutResult:
        """Store one document, its chunks and their vectors in one transaction.

        ``on_commit(result)`` runs inside the transaction just before it commits (the audit append);
        if it raises, nothing is written.
        """
        ...

    def get_document(self, document_id: int) -> DocumentRecord | None: ...

    def list_documents(self, label_ids: Collection[int], *, limit: int = 100, offset: int = 0) -> list[DocumentRecord]:
        """Documents whose own label id is in ``label_ids`` (the caller's accessible set)."""
        ...

    def document_chunks(self, document_id: int, label_ids: Collection[int]) -> list[ChunkRecord]: ...

    def delete_document(self, document_id: int, *, on_commit: Any = None) -> bool: ...

    def get_chunks(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRecord]: ...

    def get_documents(self, document_ids: Collection[int]) -> dict[int, DocumentRecord]: ...

    def document_text(self, document_id: int) -> str | None: ...

    def counts(self) -> dict[str, int]: ...

    # -- search --------------------------------------------------------------------------------
    def bm25_search(
        self, query: str, label_ids: Collection[int], *, limit: int, filters: SearchFilters | None = None
    ) -> list[RankedChunk]:
        """BM25 over the chunks under ``label_ids``, with every statistic (chunk count, average length,
        document frequencies) counted over those chunks only: nothing else may move a score or the order."""
        ...

    def dense_search(
        self, vector: np.ndarray, label_ids: Collection[int], *, limit: int, filters: SearchFilters | None = None
    ) -> list[RankedChunk]: ...

    # -- users -----------------------------------------------------------------------------------
    def put_user(self, user: UserRecord, *, on_commit: Any = None) -> None: ...

    def get_user(self, name: str) -> UserRecord | None: ...

    def user_by_token_hash(self, token_hash: str) -> UserRecord | None: ...

    def list_users(self) -> list[UserRecord]: ...

    def close(self) -> None: ...
