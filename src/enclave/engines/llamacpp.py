"""The embedded engine: llama.cpp in-process via ``llama-cpp-python``.

Deterministic by default (temperature 0 is greedy decoding; the seed is fixed per call so a
non-zero temperature is reproducible too). One ``Llama`` holds one KV cache and is not
thread-safe, so every call holds a lock for the whole generation (a stream holds it until it is
exhausted or closed).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from enclave.engines.base import ChatMessage, ChatResult, StreamChunk, Usage
from enclave.engines.models import check_gguf_header
from enclave.errors import EngineError, ModelError


def default_threads() -> int:
    """All cores this process may run on (llama.cpp's own default is half of them)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _counting_llama_class() -> type:
    """A ``Llama`` that remembers how many prompt tokens its last completion had.

    llama-cpp-python's chat handlers tokenize the templated prompt and pass the token list to
    ``create_completion``; streamed chat chunks carry no usage, so this is where the prompt size is
    observable without re-rendering the chat template ourselves.
    """
    import llama_cpp

    class CountingLlama(llama_cpp.Llama):  # type: ignore[misc]
        last_prompt_tokens: int = 0

        def create_completion(self, prompt: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(prompt, list):
                self.last_prompt_tokens = len(prompt)
            else:
                self.last_prompt_tokens = len(self.tokenize(str(prompt).encode("utf-8"), special=True))
            return super().create_completion(prompt, *args, **kwargs)

    return CountingLlama


def _as_dicts(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    if not messages:
        raise EngineError("a chat needs at least one message")
    return [{"role": m.role, "content": m.content} for m in messages]


class LlamaCppEngine:
    """A GGUF model loaded into this process. Build it with ``create_engine`` (which verifies the hash)."""

    def __init__(
        self,
        model_path: Path,
        *,
        model_id: str,
        model_sha256: str | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_batch: int = 512,
        seed: int = 42,
        temperature: float = 0.0,
        max_tokens: int = 384,
        chat_format: str | None = None,
    ) -> None:
        check_gguf_header(model_path)
        try:
            llama_class = _counting_llama_class()
        except ImportError as exc:  # pragma: no cover - the package is a hard dependency
            raise EngineError(
                f"llama-cpp-python is not installed: {exc}", hint="run `make install` to build the embedded engine"
            ) from exc
        threads = n_threads or default_threads()
        try:
            self._llama = llama_class(
                model_path=str(model_path),
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                n_batch=n_batch,
                seed=seed,
                chat_format=chat_format,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(
                f"llama.cpp could not load model file {model_path}: {exc}",
                hint="the file is corrupt, truncated or of an unsupported architecture; restore it from an "
                "approved source",
            ) from exc
        self._model_id = model_id
        self._model_sha256 = model_sha256
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.n_threads = threads
        self.seed = seed
        self.temperature = temperature
        self.max_tokens = max_tokens
        self._lock = threading.Lock()
        self._closed = False

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def model_sha256(self) -> str | None:
        return self._model_sha256

    def _params(self, max_tokens: int | None, temperature: float | None, stop: Sequence[str] | None) -> dict[str, Any]:
        if self._closed:
            raise EngineError("the engine has been closed")
        return {
            "temperature": self.temperature if temperature is None else temperature,
            "seed": self.seed,
            "max_tokens": self.max_tokens if max_tokens is None else max_tokens,
            "stop": list(stop or []),
        }

    def _call(self, messages: Sequence[ChatMessage], stream: bool, params: dict[str, Any]) -> Any:
        try:
            return self._llama.create_chat_completion(messages=_as_dicts(messages), stream=stream, **params)
        except ValueError as exc:  # e.g. "Requested tokens (5000) exceed context window of 4096"
            raise EngineError(
                f"the embedded model rejected the request: {exc}",
                hint="shorten the prompt or raise [engine] n_ctx",
            ) from exc
        except RuntimeError as exc:
            raise EngineError(f"llama.cpp failed during generation: {exc}") from exc

    def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: Sequence[str] | None = None,
    ) -> ChatResult:
        params = self._params(max_tokens, temperature, stop)
        with self._lock:
            response = self._call(messages, False, params)
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        return ChatResult(
            text=choice["message"].get("content") or "",
            usage=Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))),
            model_id=self._model_id,
            finish_reason=choice.get("finish_reason") or "stop",
        )

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: Sequence[str] | None = None,
    ) -> Iterator[StreamChunk]:
        params = self._params(max_tokens, temperature, stop)
        _as_dicts(messages)  # validate before the generator starts
        return self._stream(messages, params)

    def _stream(self, messages: Sequence[ChatMessage], params: dict[str, Any]) -> Iterator[StreamChunk]:
        with self._lock:
            chunks = self._call(messages, True, params)
            completion_tokens = 0
            finish_reason = "stop"
            try:
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    content = choice["delta"].get("content")
                    if choice.get("finish_reason"):
                        finish_reason = choice["finish_reason"]
                    if content is not None:
                        completion_tokens += 1  # llama-cpp-python yields one chunk per generated token
                        if content:
                            yield StreamChunk(text=content)
            except ValueError as exc:  # raised lazily by the stream, e.g. the context window is exceeded
                raise EngineError(
                    f"the embedded model rejected the request: {exc}", hint="shorten the prompt or raise [engine] n_ctx"
                ) from exc
            except RuntimeError as exc:
                raise EngineError(f"llama.cpp failed during generation: {exc}") from exc
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
            usage = Usage(self._llama.last_prompt_tokens, completion_tokens)
        yield StreamChunk(text="", finish_reason=finish_reason, usage=usage)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._llama.close()
