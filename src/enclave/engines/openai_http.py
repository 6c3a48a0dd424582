"""Any OpenAI-compatible chat server (vLLM, llama.cpp server, Ollama) over HTTP with httpx.

Failure handling is what an operator needs to act on: connection errors, timeouts, HTTP 429 and
5xx are retried a bounded number of times with exponential backoff (honouring ``Retry-After``) and
then become ``EngineUnavailable``; a 4xx is not retried and becomes ``EngineError`` carrying the
server's own message; a body that is not the expected JSON is ``EngineError`` naming what is
missing. A stream is retried only before its first byte: once text has been handed to the caller a
retry would duplicate it.

Proxy variables in the environment are ignored (``trust_env=False``): Enclave talks to the
configured host directly, and the egress guard decides whether it may.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from enclave.engines.base import ChatMessage, ChatResult, StreamChunk, Usage
from enclave.engines.sse import iter_sse_data
from enclave.errors import EngineError, EngineUnavailable

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 60.0
MAX_BACKOFF_S = 30.0


def _clip(text: str, limit: int = 400) -> str:
    text = " ".join(text.split())
    return text[:limit] + ("..." if len(text) > limit else "")


def _server_message(response: httpx.Response) -> str:
    """The human part of an error body, clipped: OpenAI ``error.message``, Ollama ``error``, FastAPI ``detail``."""
    return _clip(_raw_server_message(response)) or "(empty body)"


def _raw_server_message(response: httpx.Response) -> str:
    text = response.text
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str) and error:
            return error
        detail = body.get("detail")
        if isinstance(detail, list):  # FastAPI validation errors
            return "; ".join(
                f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg', '')}" if isinstance(d, dict) else str(d)
                for d in detail
            )
        if detail:
            return str(detail)
    return text


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_S)
    except ValueError:
        return None


def _describe_transport_error(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within the timeout ({type(exc).__name__})"
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, ConnectionRefusedError) or "refused" in str(exc).lower():
        return "connection refused"
    return str(exc) or type(exc).__name__


def _usage(data: Any) -> Usage | None:
    if not isinstance(data, dict):
        return None
    try:
        return Usage(int(data.get("prompt_tokens") or 0), int(data.get("completion_tokens") or 0))
    except (TypeError, ValueError):
        return None


class OpenAIEngine:
    """Chat with a model served behind ``POST {base_url}/chat/completions``."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        connect_timeout_s: float = 5.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        temperature: float = 0.0,
        max_tokens: int = 384,
        seed: int | None = 42,
        model_sha256: str | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise EngineError(
                f"engine base_url {base_url!r} is not an http(s) URL",
                hint='set [engine] base_url to e.g. "http://127.0.0.1:8000/v1"',
            )
        self.base_url = base_url.rstrip("/")
        self._model = model
        self._model_sha256 = model_sha256
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self._sleep = sleep
        headers = {"Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.Client(
            base_url=self.base_url + "/",
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            transport=transport,
            trust_env=False,
            follow_redirects=False,
        )

    @property
    def model_id(self) -> str:
        return self._model

    @property
    def model_sha256(self) -> str | None:
        return self._model_sha256

    # -- requests ---------------------------------------------------------------------------
    def _payload(
        self,
        messages: Sequence[ChatMessage],
        max_tokens: int | None,
        temperature: float | None,
        stop: Sequence[str] | None,
        stream: bool,
    ) -> dict[str, Any]:
        if not messages:
            raise EngineError("a chat needs at least one message")
        payload: dict[str, Any] = {
            "model": self._model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": self.max_tokens if max_tokens is None else max_tokens,
            "temperature": self.temperature if temperature is None else temperature,
            "stream": stream,
        }
        if self.seed is not None:
            payload["seed"] = self.seed
        if stop:
            payload["stop"] = list(stop)
        if stream:
            payload["stream_options"] = {"include_usage": True}
        return payload

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        return min(self.backoff_s * (2 ** (attempt - 1)), MAX_BACKOFF_S)

    def _open(self, payload: dict[str, Any], *, read_body: bool) -> httpx.Response:
        """POST with bounded retries; returns a response with a 2xx status (body read if ``read_body``)."""
        url = f"{self.base_url}/chat/completions"
        attempts = self.max_retries + 1
        problem = ""
        answered = False  # the server answered (5xx/429) rather than being unreachable
        retry_after: float | None = None
        for attempt in range(attempts):
            if attempt:
                self._sleep(self._backoff(attempt, retry_after))
            retry_after = None
            try:
                request = self._client.build_request("POST", "chat/completions", json=payload)
                response = self._client.send(request, stream=True)
            except httpx.TransportError as exc:
                problem, answered = _describe_transport_error(exc), False
                continue
            if response.status_code in RETRY_STATUSES or response.status_code >= 500:
                answered = True
                try:
                    response.read()
                    problem = f"HTTP {response.status_code}: {_server_message(response)}"
                except httpx.TransportError as exc:
                    problem = f"HTTP {response.status_code} ({_describe_transport_error(exc)})"
                finally:
                    response.close()
                retry_after = _retry_after(response)
                continue
            if response.status_code >= 400:
                try:
                    response.read()
                    message = _server_message(response)
                except httpx.TransportError as exc:
                    message = _describe_transport_error(exc)
                finally:
                    response.close()
                raise EngineError(
                    f"the engine at {url} rejected the request: HTTP {response.status_code}: {message}",
                    hint=self._hint_for(response.status_code),
                )
            if response.status_code >= 300:
                response.close()
                raise EngineError(
                    f"the engine at {url} answered with a redirect (HTTP {response.status_code}) to "
                    f"{response.headers.get('location', '?')}",
                    hint="set [engine] base_url to the final address (redirects are not followed)",
                )
            if not read_body:
                return response
            try:
                response.read()
            except httpx.TransportError as exc:
                problem, answered = f"the answer was cut off ({_describe_transport_error(exc)})", True
                continue
            finally:
                response.close()
            return response
        tries = f"after {attempts} attempt{'s' if attempts > 1 else ''}"
        if answered:
            raise EngineUnavailable(
                f"the engine at {url} keeps failing: {problem} ({tries})",
                hint="the model server is overloaded or broken: check its logs, or retry later",
            )
        raise EngineUnavailable(
            f"cannot reach the engine at {url}: {problem} ({tries})",
            hint="start the model server or correct [engine] base_url in enclave.toml; `enclave doctor` checks it",
        )

    @staticmethod
    def _hint_for(status: int) -> str:
        if status in (401, 403):
            return "the server refused the credentials: put the API key in the variable named by [engine] api_key_env"
        if status == 404:
            return "check [engine] base_url (it usually ends in /v1) and [engine] remote_model"
        return "check [engine] remote_model and the request parameters against the server's documentation"

    def _malformed(self, what: str) -> EngineError:
        return EngineError(
            f"the engine at {self.base_url} sent a malformed answer: {what}",
            hint="check that [engine] base_url points at an OpenAI-compatible /v1 endpoint",
        )

    # -- Engine protocol ---------------------------------------------------------------------
    def chat(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: Sequence[str] | None = None,
    ) -> ChatResult:
        response = self._open(self._payload(messages, max_tokens, temperature, stop, False), read_body=True)
        try:
            data = response.json()
        except ValueError:
            raise self._malformed(f"not JSON: {response.text[:200]!r}") from None
        try:
            choice = data["choices"][0]
            message = choice["message"]
            content = message.get("content")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise self._malformed("no choices[0].message in the response") from None
        if content is not None and not isinstance(content, str):
            raise self._malformed("choices[0].message.content is not a string")
        usage = _usage(data.get("usage"))
        if usage is None:
            raise self._malformed("no usage (prompt_tokens, completion_tokens) in the response")
        return ChatResult(
            text=content or "",
            usage=usage,
            model_id=self._model,
            finish_reason=str(choice.get("finish_reason") or "stop"),
        )

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: Sequence[str] | None = None,
    ) -> Iterator[StreamChunk]:
        payload = self._payload(messages, max_tokens, temperature, stop, True)
        return self._stream(payload)

    def _stream(self, payload: dict[str, Any]) -> Iterator[StreamChunk]:
        response = self._open(payload, read_body=False)
        finish_reason: str | None = None
        usage: Usage | None = None
        pieces = 0
        done = False
        try:
            for data in iter_sse_data(response.iter_lines()):
                if data.strip() == "[DONE]":
                    done = True
                    break
                try:
                    event = json.loads(data)
                except ValueError:
                    raise self._malformed(f"a stream event is not JSON: {data[:200]!r}") from None
                if not isinstance(event, dict):
                    raise self._malformed("a stream event is not a JSON object")
                if event.get("error"):
                    error = event["error"]
                    message = error.get("message") if isinstance(error, dict) else error
                    raise EngineError(f"the engine at {self.base_url} failed while streaming: {message}")
                usage = _usage(event.get("usage")) or usage
                choices = event.get("choices")
                if not isinstance(choices, list):
                    raise self._malformed("a stream event has no choices list")
                if not choices:
                    continue  # the usage-only chunk of stream_options.include_usage
                choice = choices[0]
                delta = choice.get("delta") if isinstance(choice, dict) else None
                if not isinstance(delta, dict):
                    raise self._malformed("a stream event has no choices[0].delta")
                text = delta.get("content")
                if text:
                    pieces += 1
                    yield StreamChunk(text=str(text))
                if choice.get("finish_reason"):
                    finish_reason = str(choice["finish_reason"])
        except httpx.TransportError as exc:
            raise EngineUnavailable(
                f"the stream from the engine at {self.base_url} broke off: {_describe_transport_error(exc)}"
            ) from exc
        finally:
            response.close()
        if not done and finish_reason is None:
            raise self._malformed("the stream ended without a finish_reason or [DONE]")
        # Servers that report no usage while streaming (llama.cpp's Python server) get the
        # completion counted from content chunks (one per token there) and 0 prompt tokens.
        yield StreamChunk(text="", finish_reason=finish_reason or "stop", usage=usage or Usage(0, pieces))

    def list_models(self) -> list[str]:
        """Model ids the server offers (``GET /models``), for ``enclave doctor``; one attempt, no retries."""
        try:
            response = self._client.get("models")
        except httpx.TransportError as exc:
            raise EngineUnavailable(
                f"cannot reach the engine at {self.base_url}: {_describe_transport_error(exc)}",
                hint="start the model server or correct [engine] base_url in enclave.toml",
            ) from exc
        if response.status_code >= 400:
            raise EngineError(
                f"the engine at {self.base_url}/models answered HTTP {response.status_code}: "
                f"{_server_message(response)}",
                hint=self._hint_for(response.status_code),
            )
        try:
            data = response.json()["data"]
            return [str(m["id"]) for m in data]
        except (ValueError, KeyError, TypeError):
            raise self._malformed("GET /models did not return a data list of models") from None

    def close(self) -> None:
        self._client.close()
