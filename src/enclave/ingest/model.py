"""What a reader hands to the store: a parsed, labelled document and its chunks.

The contract between ingest (readers, marking extraction, chunking) and the store. Offsets refer to
``ParsedDocument.text`` so a citation can quote the exact passage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from enclave.labels import Label


@dataclass(frozen=True)
class Chunk:
    text: str
    label: Label
    start: int  # character offset of the chunk in ParsedDocument.text
    end: int
    page: int | None = None  # 1-based page for paged formats (PDF)
    heading: str | None = None  # nearest heading above the chunk
    flags: frozenset[str] = frozenset()  # guard findings, e.g. {"injection", "hidden-text"}


@dataclass(frozen=True)
class ParsedDocument:
    source: str  # file path; nested parts as "mail.eml!attachment.pdf"
    title: str
    doc_type: str  # "txt", "md", "html", "pdf", "docx", "eml", "json", "jsonl"
    content_hash: str  # SHA-256 of the raw bytes (idempotent re-ingest)
    label: Label  # the document's label (sidecar, banner, or --label)
    label_source: str  # "sidecar", "banner", "explicit", "parent" (attachment), "portions" (join of marks)
    text: str
    chunks: tuple[Chunk, ...]
    metadata: dict[str, Any] = field(default_factory=dict)  # e.g. date, author, subject
    # The label of the title text. A title is only shown to users who may read this label: in a
    # portion-marked document the title may be higher than some of its chunks. None = ``label``.
    title_label: Label | None = None


@dataclass(frozen=True)
class RefusedDocument:
    source: str
    reason: str  # says what is wrong and where (line/page/paragraph)
