"""The engine Protocol every inference backend implements, and its value types.

Services (assist, guard, cyber triage) depend only on this module, never on a concrete engine, so
a site can move from the embedded llama.cpp model to a vLLM cluster by configuration alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class ChatResult:
    text: str
    usage: Usage
    model_id: str
    finish_reason: str


@dataclass(frozen=True)
class StreamChunk:
    """One piece of a streamed answer. The last chunk has ``finish_reason`` and ``usage`` set."""

    text: str
    finish_reason: str | None = None
    usage: Usage | None = None


@runtime_checkable
class Engine(Protocol):
    """A chat model. Implementations are deterministic by default (temperature 0, fixed seed)."""

    @property
    def model_id(self) -> str: ...

    @property
    def model_sha256(self) -> str | None:
        """SHA-256 of the model weights where known (recorded in the audit trail)."""
        ...

    def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: Sequence[str] | None = None,
    ) -> ChatResult: ...

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: Sequence[str] | None = None,
    ) -> Iterator[StreamChunk]: ...

    def close(self) -> None: ...
