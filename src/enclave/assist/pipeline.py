"""The answer pipeline: Enclave's main job.

principal -> effective clearance (meet with the session ceiling) -> input guard -> label-filtered
hybrid retrieval -> prompt with numbered, delimited sources -> engine -> citation check -> output
guard -> marking (join of the labels of *every* source the model saw) -> audit -> Answer.

Two audit entries bracket every ask that reaches the model: ``ask.start`` before generation (so a
broken audit trail stops the request before anything is generated or streamed) and ``ask`` after,
whose sequence number is the answer's ``audit_id``. If either append fails the request fails.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from enclave.assist.model import Answer, Citation, Classification, SentenceCheck, Source
from enclave.assist.prompt import build_messages
from enclave.assist.support import (
    NO_ANSWER,
    SUPPORT_THRESHOLD,
    SupportScorer,
    is_claim,
    parse_citations,
    split_sentences,
)
from enclave.embed import Embedder
from enclave.engines.base import Engine, StreamChunk, Usage
from enclave.errors import EnclaveError
from enclave.labels import Clearance, Label, clearance_to_dict, join, label_to_dict, registry
from enclave.retrieval.hits import SearchHit
from enclave.retrieval.search import effective_clearance, search
from enclave.store.base import Store

DEFAULT_K = 5
MIN_DENSE_RELEVANCE = 0.30  # cosine below which a passage is not about the question at all
MIN_DENSE_WITH_KEYWORDS = 0.15  # lower bar when BM25 also matched the passage
QUOTE_CHARS = 300


class AskError(EnclaveError):
    """The question could not be answered (bad input, not allowed)."""


class AuditSink(Protocol):
    def append(self, action: str, *, actor: str, clearance: dict[str, Any] | None, details: dict[str, Any]) -> int: ...

    def question_field(self, text: str) -> dict[str, Any]: ...


class PrincipalLike(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def clearance(self) -> Clearance: ...


@dataclass
class Prepared:
    """Everything decided before generation: sources, marking, guard verdict, prompt."""

    principal: PrincipalLike
    question: str
    clearance: Clearance
    sources: list[Source]
    classification: Classification
    refused: bool = False
    refusal_reason: str | None = None
    guard: dict[str, Any] = field(default_factory=dict)
    start_audit_id: int | None = None

    @property
    def needs_model(self) -> bool:
        return not self.refused and bool(self.sources)


@dataclass(frozen=True)
class _Verdict:
    """The output guard's result: what may be shown, why not (when blocked), and what to record."""

    text: str
    blocked_reason: str | None
    record: dict[str, Any] | None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def floor_label(clearance: Clearance) -> Label:
    """The mark of an answer built from no source: the policy's lowest level, releasable to the reader.

    It depends only on the reader's own clearance, never on what exists, so "nothing accessible" and
    "nothing at all" are marked identically.
    """
    policy = registry().policy(clearance.policy)
    releasable = policy.default_releasable_to | {clearance.nationality} | clearance.must_release_to
    return Label.create(policy.levels[0].name, policy=policy.id, releasable_to=releasable)


def is_relevant(hit: SearchHit) -> bool:
    """Keep only passages that are actually about the question (judged among accessible ones only)."""
    dense = hit.dense_score if hit.dense_score is not None else 0.0
    if hit.bm25_rank is not None and dense >= MIN_DENSE_WITH_KEYWORDS:
        return True
    return dense >= MIN_DENSE_RELEVANCE


class Assistant:
    """Answers questions for principals; one instance serves many requests.

    Engine calls are serialised by the engine itself (the llama.cpp engine holds a lock) and, in
    the server, by its bounded generation queue.
    """

    def __init__(
        self,
        *,
        store: Store,
        embedder: Embedder,
        engine: Engine,
        audit: AuditSink,
        input_guard: Any = None,
        output_guard: Any = None,
        default_k: int = DEFAULT_K,
        max_tokens: int | None = None,
        screen: Callable[[str], frozenset[str]] | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.engine = engine
        self.audit = audit
        self.input_guard = input_guard
        self.output_guard = output_guard
        self.default_k = default_k
        self.max_tokens = max_tokens
        self.scorer = SupportScorer(embedder)
        if screen is None:
            from enclave.guard import scan_text

            screen = scan_text
        self.screen = screen  # indirect-injection screen of retrieved text (the site's guard policy)

    def close(self) -> None:
        """Release the store, audit log (writes a signed head) and engine."""
        _close_all(self.audit, self.store, self.engine)

    # -- stage 1: everything up to the prompt ------------------------------------------------------
    def prepare(
        self, principal: PrincipalLike, question: str, *, ceiling: str | Label | None = None, k: int | None = None
    ) -> Prepared:
        question = (question or "").strip()
        if not question:
            raise AskError("the question is empty", hint='ask something, e.g. enclave ask "What is the exercise?"')
        eff = effective_clearance(principal.clearance, ceiling)
        prepared = Prepared(principal, question, eff, [], Classification(floor_label(eff)))
        if self.input_guard is not None:
            decision = self.input_guard.check(question)
            prepared.guard["input"] = decision.to_dict()
            if decision.action != "allow":
                prepared.refused = True
                prepared.refusal_reason = decision.reason
        if not prepared.refused:
            hits = [
                h for h in search(self.store, self.embedder, eff, question, k=k or self.default_k) if is_relevant(h)
            ]
            prepared.sources = self._sources(hits)
            if prepared.sources:
                prepared.classification = Classification(join([s.label for s in prepared.sources]))
        if prepared.needs_model:
            prepared.start_audit_id = self.audit.append(
                "ask.start",
                actor=principal.name,
                clearance=clearance_to_dict(eff),
                details=self._start_details(prepared),
            )
        return prepared

    def _sources(self, hits: Sequence[SearchHit]) -> list[Source]:
        flags = self._chunk_flags(hits)
        return [
            Source(
                n=i,
                chunk_id=h.chunk_id,
                document_id=h.document_id,
                title=h.title,
                text=h.text,
                label=h.label,
                start=h.start,
                end=h.end,
                page=h.page,
                flags=flags.get(h.chunk_id, frozenset()),
            )
            for i, h in enumerate(hits, start=1)
        ]

    def _chunk_flags(self, hits: Sequence[SearchHit]) -> dict[int, frozenset[str]]:
        """Injection flags: those found at ingest plus a fresh screen with today's policy."""
        records = self.store.get_chunks([h.chunk_id for h in hits]) if hits else {}
        return {h.chunk_id: records[h.chunk_id].flags | self.screen(h.text) for h in hits if h.chunk_id in records}

    def _start_details(self, prepared: Prepared) -> dict[str, Any]:
        return {
            **self.audit.question_field(prepared.question),
            "sources": [
                {"n": s.n, "chunk_id": s.chunk_id, "document_id": s.document_id, "label": label_to_dict(s.label)}
                for s in prepared.sources
            ],
            "label": label_to_dict(prepared.classification.label),
            "model": self.engine.model_id,
            "model_sha256": self.engine.model_sha256,
            "guard": prepared.guard,
        }

    # -- stage 2: generation -----------------------------------------------------------------------
    def ask(
        self, principal: PrincipalLike, question: str, *, ceiling: str | Label | None = None, k: int | None = None
    ) -> Answer:
        prepared = self.prepare(principal, question, ceiling=ceiling, k=k)
        if not prepared.needs_model:
            return self.finish(prepared, None, None)
        result = self.engine.chat(build_messages(prepared.question, prepared.sources), max_tokens=self.max_tokens)
        return self.finish(prepared, result.text, result.usage)

    def stream(self, prepared: Prepared) -> Iterator[StreamChunk]:
        """Model tokens for a prepared ask (nothing when refused or when no source is relevant)."""
        if not prepared.needs_model:
            return iter(())
        return self.engine.stream(build_messages(prepared.question, prepared.sources), max_tokens=self.max_tokens)

    # -- stage 3: checks, marking, audit -------------------------------------------------------------
    def finish(self, prepared: Prepared, raw_text: str | None, usage: Usage | None) -> Answer:
        if prepared.refused:
            answer = Answer(
                question=prepared.question,
                text=f"Request refused: {prepared.refusal_reason}",
                classification=prepared.classification,
                refused=True,
                refusal_reason=prepared.refusal_reason,
                guard=prepared.guard,
            )
        elif raw_text is None:
            answer = Answer(
                question=prepared.question, text=NO_ANSWER, classification=prepared.classification, guard=prepared.guard
            )
        else:
            answer = self._checked(prepared, raw_text, usage)
        answer = replace(answer, effective_clearance=clearance_to_dict(prepared.clearance))
        audit_id = self.audit.append(
            "ask",
            actor=prepared.principal.name,
            clearance=clearance_to_dict(prepared.clearance),
            details=self._final_details(prepared, answer),
        )
        return replace(answer, audit_id=audit_id)

    def _checked(self, prepared: Prepared, raw_text: str, usage: Usage | None) -> Answer:
        answer = Answer(
            question=prepared.question,
            text=raw_text,
            classification=prepared.classification,
            sources=tuple(prepared.sources),
            model_id=self.engine.model_id,
            usage={"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens}
            if usage
            else None,
            guard=dict(prepared.guard),
        )
        # the output guard sees the model's raw text (markings included), before anything is shown
        verdict = self._output_guard(prepared, raw_text)
        if verdict.record is not None:
            answer = replace(answer, guard={**answer.guard, "output": verdict.record})
        if verdict.blocked_reason is not None:
            return self._blocked(answer, verdict.blocked_reason)
        text = verdict.text.strip() or NO_ANSWER
        sentences, citations = self._support(prepared, text)
        return replace(answer, text=text, sentences=sentences, citations=citations)

    def _support(self, prepared: Prepared, text: str) -> tuple[tuple[SentenceCheck, ...], tuple[Citation, ...]]:
        """Score every sentence against its citations; attribute uncited claims; flag unsupported ones."""
        by_n = {s.n: s for s in prepared.sources}
        sentences = split_sentences(text)
        scores = self.scorer.score_matrix([s.text for s in sentences], [s.text for s in prepared.sources])
        checks: list[SentenceCheck] = []
        citations: dict[int, Citation] = {}
        for i, sentence in enumerate(sentences):
            cited = [n for n in sentence.cited if n in by_n]
            attributed = False
            if not cited and is_claim(sentence.text) and prepared.sources:
                best = int(scores[i].argmax())
                if scores[i][best] >= SUPPORT_THRESHOLD:
                    cited, attributed = [prepared.sources[best].n], True
            support = max((float(scores[i][n - 1]) for n in cited), default=0.0)
            supported = not is_claim(sentence.text) or support >= SUPPORT_THRESHOLD
            checks.append(SentenceCheck(sentence.text, tuple(cited), support, supported))
            for n in cited:
                score = float(scores[i][n - 1])
                if n not in citations or citations[n].support < score:
                    citations[n] = Citation(by_n[n], by_n[n].text[:QUOTE_CHARS], score, attributed)
        return tuple(checks), tuple(citations[n] for n in sorted(citations))

    def _output_guard(self, prepared: Prepared, raw_text: str) -> _Verdict:
        """The text that may be shown, or why nothing may be shown."""
        provided = {s.n for s in prepared.sources}
        cited = set(parse_citations(raw_text))
        if self.output_guard is None:
            invalid = sorted(cited - provided)
            if invalid:
                return _Verdict("", f"the answer cites sources that were not provided: {invalid}", None)
            return _Verdict(raw_text, None, None)
        decision = self.output_guard.check(
            raw_text,
            cited=cited,
            provided=provided,
            effective_clearance=prepared.clearance,
            context_labels=[s.label for s in prepared.sources],
            refused_request=prepared.refused,
        )
        if decision.action != "allow":
            return _Verdict("", decision.reason, decision.to_dict())
        return _Verdict(decision.text, None, decision.to_dict())

    @staticmethod
    def _blocked(answer: Answer, reason: str) -> Answer:
        return replace(
            answer,
            text=f"Answer withheld by the output guard: {reason}",
            citations=(),
            sentences=(),
            refused=True,
            refusal_reason=reason,
        )

    def _final_details(self, prepared: Prepared, answer: Answer) -> dict[str, Any]:
        return {
            **self.audit.question_field(prepared.question),
            "start_audit_id": prepared.start_audit_id,
            "retrieved": [{"chunk_id": s.chunk_id, "label": label_to_dict(s.label)} for s in prepared.sources],
            "answer_sha256": _sha256(answer.text),
            "label": label_to_dict(answer.classification.label),
            "model": answer.model_id,
            "model_sha256": self.engine.model_sha256 if answer.model_id else None,
            "citations": [c.source.n for c in answer.citations],
            "unsupported_sentences": len(answer.unsupported_sentences),
            "refused": answer.refused,
            "reason": answer.refusal_reason,
            "guard": answer.guard,
        }


def _close_all(*parts: Any) -> None:
    for part in parts:
        close = getattr(part, "close", None)
        if callable(close):
            close()
