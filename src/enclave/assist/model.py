"""What an answer is: text, its classification, citations, and the checks that were run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from enclave.labels import Label, banner_colour, label_to_dict, render_banner, render_portion


@dataclass(frozen=True)
class Classification:
    """The answer's marking, always rendered by Enclave from a Label (never from model output)."""

    label: Label

    @property
    def banner(self) -> str:
        return render_banner(self.label)

    @property
    def portion_mark(self) -> str:
        return render_portion(self.label)

    @property
    def colour(self) -> str:
        return banner_colour(self.label)

    def to_dict(self) -> dict[str, Any]:
        return {
            "banner": self.banner,
            "portion_mark": self.portion_mark,
            "colour": banner_colour(self.label, "css"),
            "label": label_to_dict(self.label),
        }


@dataclass(frozen=True)
class Source:
    """One passage given to the model, numbered as the model saw it."""

    n: int
    chunk_id: int
    document_id: int
    title: str
    text: str
    label: Label
    start: int
    end: int
    page: int | None = None
    flags: frozenset[str] = frozenset()

    @property
    def portion_mark(self) -> str:
        return render_portion(self.label)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "chunk_id": self.chunk_id,
            "document_id": self.document_id,
            "title": self.title,
            "portion_mark": self.portion_mark,
            "page": self.page,
            "start": self.start,
            "end": self.end,
            "flags": sorted(self.flags),
        }


@dataclass(frozen=True)
class Citation:
    """A source the answer cites, with the passage quoted and how well it supports the answer."""

    source: Source
    quote: str
    support: float
    attributed: bool  # True when Enclave attached it to an uncited sentence (the model did not write it)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.source.n,
            "document_id": self.source.document_id,
            "title": self.source.title,
            "chunk_id": self.source.chunk_id,
            "portion_mark": self.source.portion_mark,
            "page": self.source.page,
            "quote": self.quote,
            "support": round(self.support, 4),
            "attributed": self.attributed,
        }


@dataclass(frozen=True)
class SentenceCheck:
    text: str
    cited: tuple[int, ...]
    support: float
    supported: bool


@dataclass(frozen=True)
class Answer:
    question: str
    text: str  # answer text without markings, with [n] citations
    classification: Classification
    sources: tuple[Source, ...] = ()
    citations: tuple[Citation, ...] = ()
    sentences: tuple[SentenceCheck, ...] = ()
    refused: bool = False
    refusal_reason: str | None = None
    model_id: str | None = None
    usage: dict[str, int] | None = None
    guard: dict[str, Any] = field(default_factory=dict)
    audit_id: int | None = None
    effective_clearance: dict[str, Any] | None = None

    @property
    def paragraphs(self) -> list[str]:
        return [p.strip() for p in self.text.split("\n\n") if p.strip()]

    @property
    def unsupported_sentences(self) -> list[str]:
        return [s.text for s in self.sentences if not s.supported]

    def marked_text(self) -> str:
        """Banner, each paragraph with its portion mark, banner: the form an analyst can pass on."""
        mark = self.classification.portion_mark
        body = "\n\n".join(f"{mark} {p}" for p in self.paragraphs)
        return f"{self.classification.banner}\n\n{body}\n\n{self.classification.banner}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "marked_answer": self.marked_text(),
            "classification": self.classification.to_dict(),
            "citations": [c.to_dict() for c in self.citations],
            "sources": [s.to_dict() for s in self.sources],
            "unsupported_sentences": self.unsupported_sentences,
            "refused": self.refused,
            "reason": self.refusal_reason,
            "model": self.model_id,
            "usage": self.usage,
            "guard": self.guard,
            "audit_id": self.audit_id,
        }
