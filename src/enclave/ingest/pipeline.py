"""Extract -> embed -> store, one transaction per document, with an audit entry for each change.

Why per document: a batch of thousands of files must survive a bad file, a full disk or a kill -9
with every committed document intact and none half-written. Embedding happens before the
transaction opens, so the write lock is held only for the inserts. The audit append runs inside the
transaction: if it fails, the document is not stored and the batch stops (an unaudited ingest must
not happen).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from enclave.errors import EnclaveError
from enclave.ingest.model import ParsedDocument, RefusedDocument
from enclave.labels import Label, label_to_dict, parse_label, render_banner
from enclave.store.base import PutResult, Store

if TYPE_CHECKING:
    from enclave.config import Settings
    from enclave.embed import Embedder


class AuditSink(Protocol):
    def append(self, action: str, *, actor: str, clearance: Any = None, details: Any = None) -> Any: ...


class AuditFailed(EnclaveError):
    """The audit log refused an entry: the change it describes was rolled back and the batch stops."""

    exit_code = 4


def _append(audit: AuditSink | None, action: str, actor: str, details: dict[str, Any]) -> None:
    if audit is None:
        return
    try:
        audit.append(action, actor=actor, details=details)
    except Exception as exc:
        message = getattr(exc, "message", None) or str(exc)
        raise AuditFailed(
            f"audit append failed ({message}); the ingest was stopped and the current document not stored",
            hint="check the audit log with `enclave audit verify` and its file's permissions and free space",
        ) from exc


@dataclass
class IngestItem:
    """What happened to one document (or one refused file)."""

    status: str  # "ingested" | "replaced" | "duplicate" | "refused"
    source: str
    document_id: int | None = None
    label: str | None = None  # rendered banner
    chunks: int = 0
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class IngestSummary:
    items: list[IngestItem] = field(default_factory=list)

    def _with(self, status: str) -> list[IngestItem]:
        return [i for i in self.items if i.status == status]

    @property
    def ingested(self) -> list[IngestItem]:
        return self._with("ingested")

    @property
    def replaced(self) -> list[IngestItem]:
        return self._with("replaced")

    @property
    def duplicates(self) -> list[IngestItem]:
        return self._with("duplicate")

    @property
    def refused(self) -> list[IngestItem]:
        return self._with("refused")

    def counts(self) -> dict[str, int]:
        return {
            "ingested": len(self.ingested),
            "replaced": len(self.replaced),
            "duplicates": len(self.duplicates),
            "refused": len(self.refused),
            "chunks": sum(i.chunks for i in self.items if i.status in ("ingested", "replaced")),
        }

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts(), "items": [i.to_dict() for i in self.items]}


def _embed(embedder: Embedder | None, doc: ParsedDocument) -> np.ndarray | None:
    if embedder is None:
        return None
    return embedder.embed([c.text for c in doc.chunks])


class Ingestor:
    """Stores parsed documents one transaction at a time and keeps the summary."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder | None,
        *,
        ingested_by: str,
        audit: AuditSink | None = None,
        on_item: Callable[[IngestItem], None] | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.ingested_by = ingested_by
        self.audit = audit
        self.on_item = on_item
        self.summary = IngestSummary()

    def _emit(self, item: IngestItem) -> None:
        self.summary.items.append(item)
        if self.on_item is not None:
            self.on_item(item)

    def refuse(self, source: str, reason: str) -> None:
        _append(self.audit, "ingest.refused", self.ingested_by, {"source": source, "reason": reason})
        self._emit(IngestItem("refused", source, reason=reason))

    def add(self, doc: ParsedDocument) -> None:
        """Store one parsed document (duplicate, new, or replacing the old version at its source)."""
        if not doc.chunks:
            self.refuse(doc.source, "no extractable text")
            return
        banner = render_banner(doc.label)
        dup = self.store.find_duplicate(doc.content_hash, doc.label)
        if dup is not None:
            self._emit(IngestItem("duplicate", doc.source, dup, banner, len(doc.chunks)))
            return
        try:
            vectors = _embed(self.embedder, doc)
        except EnclaveError as exc:
            self.refuse(doc.source, f"embedding failed: {exc.message}")
            return

        def record(result: PutResult) -> None:
            _append(
                self.audit,
                "ingest",
                self.ingested_by,
                {
                    "document_id": result.document_id,
                    "replaced_id": result.replaced_id,
                    "status": result.status,
                    "source": doc.source,
                    "title": doc.title,
                    "doc_type": doc.doc_type,
                    "content_sha256": doc.content_hash,
                    "label": label_to_dict(doc.label),
                    "label_source": doc.label_source,
                    "chunk_count": len(doc.chunks),
                },
            )

        try:
            result = self.store.put_document(doc, vectors, ingested_by=self.ingested_by, on_commit=record)
        except AuditFailed:
            raise  # an unaudited ingest must not happen: stop the batch
        except EnclaveError as exc:
            self.refuse(doc.source, exc.message)
            return
        self._emit(IngestItem(result.status, doc.source, result.document_id, banner, len(doc.chunks)))

    def feed(self, items: Iterable[ParsedDocument | RefusedDocument]) -> IngestSummary:
        for item in items:
            if isinstance(item, RefusedDocument):
                self.refuse(item.source, item.reason)
            else:
                self.add(item)
        return self.summary


def injection_scanner(settings: Settings) -> Callable[[str], frozenset[str]] | None:
    """The guard's indirect-injection scanner (flags chunks at ingest), unless guards are disabled."""
    if not settings.guard.enabled:
        return None
    from enclave.guard import scanner_for

    return scanner_for(settings)


def ingest_paths(
    paths: Sequence[str | os.PathLike[str]],
    *,
    store: Store,
    embedder: Embedder | None,
    settings: Settings,
    explicit_label: Label | str | None = None,
    ingested_by: str,
    audit: AuditSink | None = None,
    on_item: Callable[[IngestItem], None] | None = None,
) -> IngestSummary:
    """Ingest files and directory trees. A file that fails is refused with its reason; the rest go on."""
    from enclave.ingest.extract import extract_path

    label = parse_label(explicit_label) if isinstance(explicit_label, str) else explicit_label
    ingestor = Ingestor(store, embedder, ingested_by=ingested_by, audit=audit, on_item=on_item)
    scan = injection_scanner(settings)
    for raw in paths:
        path = Path(raw).absolute()  # one spelling per file, whatever the working directory
        if not path.exists():
            ingestor.refuse(str(path), "no such file or directory")
            continue
        try:
            for item in extract_path(path, explicit_label=label, settings=settings, scan=scan):
                if isinstance(item, RefusedDocument):
                    ingestor.refuse(item.source, item.reason)
                else:
                    ingestor.add(item)
        except AuditFailed:
            raise
        except EnclaveError as exc:
            ingestor.refuse(str(path), exc.message)
        except (OSError, ValueError, MemoryError) as exc:
            ingestor.refuse(str(path), f"{type(exc).__name__}: {exc}")
    return ingestor.summary


def count_files(paths: Sequence[str | os.PathLike[str]]) -> int:
    """How many files the paths name (for a progress bar's total)."""
    total = 0
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            total += sum(1 for p in path.rglob("*") if p.is_file())
        else:
            total += 1
    return total
