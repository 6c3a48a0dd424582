"""What a search returns: a chunk with its citation data, label, portion mark and ranks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from enclave.labels import Label, label_to_dict, render_portion


@dataclass(frozen=True)
class SearchHit:
    chunk_id: int
    document_id: int
    title: str  # the document's title, or a neutral "[document N]" when the title's label is above the reader
    source: str | None  # None when the document's own label is above the reader (a readable portion of it)
    doc_type: str
    text: str
    start: int
    end: int
    page: int | None
    heading: str | None
    label: Label  # the chunk's (portion's) label: what decided access
    score: float  # the fused reciprocal-rank score (or the single retriever's, in bm25/dense mode)
    bm25_rank: int | None = None
    dense_rank: int | None = None
    bm25_score: float | None = None
    dense_score: float | None = None

    @property
    def portion(self) -> str:
        """The chunk's portion mark, rendered by Enclave from the label, e.g. ``(NS)``."""
        return render_portion(self.label)

    def to_dict(self) -> dict[str, Any]:
        return {
            "chunk_id": self.chunk_id,
            "document_id": self.document_id,
            "title": self.title,
            "source": self.source,
            "doc_type": self.doc_type,
            "portion": self.portion,
            "label": label_to_dict(self.label),
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "page": self.page,
            "heading": self.heading,
            "score": self.score,
            "bm25_rank": self.bm25_rank,
            "dense_rank": self.dense_rank,
            "bm25_score": self.bm25_score,
            "dense_score": self.dense_score,
        }
