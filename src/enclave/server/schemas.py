"""Request and response models: the OpenAPI spec is generated from these, so they are the contract.

Chat completion models follow the OpenAI API closely enough for its official SDK and chat front
ends; unknown OpenAI parameters are accepted and ignored (the engine's settings are pinned), and
Enclave's own data travels in an extra ``enclave`` object.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_QUESTION_CHARS = 8000


class _Open(BaseModel):
    """Accepts fields it does not know (clients send OpenAI parameters Enclave does not use)."""

    model_config = ConfigDict(extra="allow")


class ContentPart(_Open):
    type: str
    text: str | None = None


class ChatMessageIn(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        if isinstance(self.content, list):
            return "\n".join(p.text for p in self.content if p.type == "text" and p.text)
        return ""


class EnclaveOptions(BaseModel):
    """Enclave-specific request options (``extra_body={"enclave": {...}}`` with the OpenAI SDK)."""

    model_config = ConfigDict(extra="forbid")

    ceiling: str | None = Field(
        default=None, max_length=500, description="Session ceiling, e.g. 'NATO RESTRICTED': answer at or below it."
    )
    k: int | None = Field(default=None, ge=1, le=50, description="How many passages to retrieve.")


class StreamOptions(_Open):
    include_usage: bool | None = None


class ChatCompletionRequest(_Open):
    model: str = Field(max_length=200)
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=256)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = None
    n: int | None = Field(default=1, ge=1, le=1, description="Only one choice is generated.")
    stop: str | list[str] | None = None
    user: str | None = None
    seed: int | None = None
    enclave: EnclaveOptions | None = None


class ChatMessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: str | None = None


class Choice(BaseModel):
    index: int = 0
    message: ChatMessageOut
    finish_reason: Literal["stop", "length", "content_filter"]
    logprobs: None = None


class UsageOut(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ClassificationOut(_Open):
    banner: str
    portion_mark: str
    colour: str
    label: dict[str, Any]


class EnclaveAnswer(_Open):
    """The answer's marking, citations, checks and audit id (see docs/server.md)."""

    answer: str
    marked_answer: str
    classification: ClassificationOut
    citations: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    unsupported_sentences: list[str]
    refused: bool
    reason: str | None = None
    model: str | None = None
    audit_id: int | None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: UsageOut
    system_fingerprint: str | None = None
    enclave: EnclaveAnswer


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "enclave"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# -- search ------------------------------------------------------------------------------------------
class SearchFiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(default=None, max_length=2000, description="Exact source, or a prefix ending in *.")
    doc_types: list[str] = Field(default_factory=list, max_length=20)
    since: date | None = None
    until: date | None = None


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=4000)
    k: int = Field(default=10, ge=1, le=100)
    mode: Literal["hybrid", "bm25", "dense"] = "hybrid"
    ceiling: str | None = Field(default=None, max_length=500)
    filters: SearchFiltersIn | None = None


class SearchHitOut(BaseModel):
    chunk_id: int
    document_id: int
    title: str
    source: str | None
    doc_type: str
    portion: str
    label: dict[str, Any]
    text: str
    start: int
    end: int
    page: int | None
    heading: str | None
    score: float
    bm25_rank: int | None
    dense_rank: int | None


class SearchResponse(BaseModel):
    object: Literal["list"] = "list"
    banner: str | None = Field(description="Join of the results' labels; null when there are no results.")
    effective_clearance: dict[str, Any]
    data: list[SearchHitOut]
    audit_id: int


# -- documents ---------------------------------------------------------------------------------------
class ChunkOut(BaseModel):
    id: int
    ordinal: int
    portion: str
    start: int
    end: int
    page: int | None
    heading: str | None
    flags: list[str]
    text: str


class DocumentOut(BaseModel):
    id: int
    title: str
    source: str
    doc_type: str
    banner: str
    label: dict[str, Any]
    label_source: str
    content_hash: str
    date: str | None
    metadata: dict[str, Any]
    ingested_by: str
    ingested_at: str
    chunks: list[ChunkOut] | None = None


class DocumentList(BaseModel):
    object: Literal["list"] = "list"
    data: list[DocumentOut]


class IngestItemOut(BaseModel):
    status: Literal["ingested", "replaced", "duplicate", "refused"]
    source: str
    document_id: int | None = None
    label: str | None = None
    chunks: int = 0
    reason: str | None = None


class IngestResponse(BaseModel):
    counts: dict[str, int]
    items: list[IngestItemOut]


# -- audit -------------------------------------------------------------------------------------------
class AuditEntries(BaseModel):
    object: Literal["list"] = "list"
    total: int
    data: list[dict[str, Any]]


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    model: str
    queue: dict[str, int]
