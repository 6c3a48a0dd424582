"""The OpenAI-compatible API: ``POST /v1/chat/completions`` (JSON and SSE) and ``GET /v1/models``.

The last user message is the question; earlier turns and client system prompts are not used (the
answer is grounded only in the sources Enclave retrieves for the caller). The message content is the
marked answer (banner, portion-marked paragraphs, banner); the ``enclave`` object carries the
classification, citations, sources, unsupported sentences, refusal and audit id. When streaming,
the first event carries the classification (known before generation: the join of the context
labels), then token deltas, then a final event with the ``enclave`` object, then ``[DONE]``.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from enclave.assist.model import Answer
from enclave.assist.pipeline import Prepared
from enclave.errors import EnclaveError
from enclave.identity import Principal
from enclave.labels import clearance_to_dict
from enclave.server.auth import current_principal, require
from enclave.server.errors import ApiError, busy_error, enclave_error_status, error_responses
from enclave.server.gate import EngineBusy, Ticket
from enclave.server.routes._common import CEILING_HEADER, parse_ceiling, pick_ceiling
from enclave.server.schemas import MAX_QUESTION_CHARS, ChatCompletion, ChatCompletionRequest, ModelCard, ModelList
from enclave.server.state import Services, services
from enclave.server.streaming import DeltaBatcher, PortionMarker, run_in_thread, sse

router = APIRouter(tags=["OpenAI-compatible"])
MODEL_ALIAS = "enclave"
_STARTED = int(time.time())
log = logging.getLogger("enclave.server")


def _question(body: ChatCompletionRequest) -> str:
    for message in reversed(body.messages):
        if message.role == "user":
            text = message.text().strip()
            if not text:
                raise ApiError(400, "the last user message is empty", param="messages")
            if len(text) > MAX_QUESTION_CHARS:
                raise ApiError(400, f"the question is longer than {MAX_QUESTION_CHARS} characters", param="messages")
            return text
    raise ApiError(400, "no user message: the last user message is the question", param="messages")


def _check_model(svc: Services, model: str) -> str:
    served = svc.engine.model_id
    if model not in (served, MODEL_ALIAS):
        raise ApiError(
            404, f"the model {model!r} does not exist; this server serves {served!r} (alias {MODEL_ALIAS!r})",
            code="model_not_found", param="model",
        )  # fmt: skip
    return served


def _finish_reason(answer: Answer, engine_reason: str | None) -> str:
    if answer.refused:
        return "content_filter"
    return "length" if engine_reason == "length" else "stop"


def _usage(answer: Answer) -> dict[str, int]:
    usage = answer.usage or {}
    prompt, completion = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _enclave(answer: Answer) -> dict[str, Any]:
    data = answer.to_dict()
    data.pop("question", None)
    return data


class _ClientGone(Exception):
    """The streaming client disconnected before its turn at the engine."""


def _generate(
    svc: Services, prepared: Prepared, on_text: Any = None, cancelled: Any = None, on_generated: Any = None
) -> tuple[Answer, str]:
    """Generate (holding the engine), then check, mark and audit. Runs in a worker thread."""
    if not prepared.needs_model:
        return svc.assistant.finish(prepared, None, None), "stop"
    parts: list[str] = []
    usage = None
    reason: str | None = None
    with svc.gate.generating():
        if cancelled is not None and cancelled.is_set():
            # the client left while waiting for the engine: nothing is generated; the audit trail
            # keeps the ask.start entry without a matching ask
            raise _ClientGone
        stream = svc.assistant.stream(prepared)
        try:
            for chunk in stream:
                if chunk.text:
                    parts.append(chunk.text)
                    if on_text is not None:
                        on_text(chunk.text)
                if chunk.finish_reason:
                    reason = chunk.finish_reason
                if chunk.usage is not None:
                    usage = chunk.usage
                if cancelled is not None and cancelled.is_set():
                    reason = "cancelled"
                    break
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
    if on_generated is not None:  # e.g. send the last batched tokens before the checks run
        on_generated()
    return svc.assistant.finish(prepared, "".join(parts), usage), reason or "stop"


@router.get("/v1/models", response_model=ModelList, responses=error_responses(401, 503))
def list_models(_: Principal = Depends(current_principal), svc: Services = Depends(services)) -> ModelList:
    """The model this server answers with (``enclave`` is accepted as an alias)."""
    return ModelList(data=[ModelCard(id=svc.engine.model_id, created=_STARTED)])


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    responses={
        200: {
            "description": "A chat completion; with `stream: true`, server-sent `chat.completion.chunk` events.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **error_responses(400, 401, 403, 404, 413, 500, 502, 503),
    },
)
async def chat_completions(
    body: ChatCompletionRequest,
    principal: Principal = Depends(require("read")),
    svc: Services = Depends(services),
    x_enclave_ceiling: str | None = Header(default=None, alias=CEILING_HEADER, max_length=500),
) -> Any:
    """Answer the last user message from the sources the caller may read, cited and marked."""
    question = _question(body)
    model = _check_model(svc, body.model)
    options = body.enclave
    ceiling = parse_ceiling(pick_ceiling(options.ceiling if options else None, x_enclave_ceiling))
    k = options.k if options else None
    try:
        ticket = svc.gate.enter()
    except EngineBusy as exc:
        raise busy_error(exc) from None
    try:
        prepared = await run_in_threadpool(svc.assistant.prepare, principal, question, ceiling=ceiling, k=k)
    except BaseException:
        ticket.release()
        raise
    if body.stream:
        started = threading.Event()
        return _TicketedStream(
            _events(svc, prepared, ticket, model, started),
            ticket=ticket,
            started=started,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    answer, reason = await run_in_threadpool(_complete, svc, prepared, ticket)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.marked_text(), "refusal": None},
                "finish_reason": _finish_reason(answer, reason),
                "logprobs": None,
            }
        ],
        "usage": _usage(answer),
        "system_fingerprint": None,
        "enclave": _enclave(answer),
    }


def _complete(svc: Services, prepared: Prepared, ticket: Ticket) -> tuple[Answer, str]:
    try:
        return _generate(svc, prepared)
    finally:
        ticket.release()


class _TicketedStream(StreamingResponse):
    """Gives the queue ticket back if the response dies before its generating thread started."""

    def __init__(self, content: Any, *, ticket: Ticket, started: threading.Event, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._ticket = ticket
        self._started = started

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if not self._started.is_set():
                self._ticket.release()


async def _events(
    svc: Services, prepared: Prepared, ticket: Ticket, model: str, started: threading.Event
) -> AsyncIterator[bytes]:
    cid = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    classification = prepared.classification
    marker = PortionMarker(classification.portion_mark)

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        return {
            "id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra,
        }  # fmt: skip

    def work(emit: Any, cancelled: Any) -> None:
        batch = DeltaBatcher(lambda text: emit(("delta", text)))
        try:
            answer, reason = _generate(svc, prepared, batch.add, cancelled, batch.flush)
            emit(("final", (answer, reason)))
        except _ClientGone:
            pass
        finally:
            ticket.release()

    first = {
        "classification": classification.to_dict(),
        "sources": [s.to_dict() for s in prepared.sources],
        "effective_clearance": clearance_to_dict(prepared.clearance),
    }
    yield sse(chunk({"role": "assistant", "content": f"{classification.banner}\n\n"}, enclave=first))
    streamed = False
    started.set()
    async for kind, value in run_in_thread(work):
        if kind == "delta":
            text = marker.feed(value)
            if text:
                streamed = True
                yield sse(chunk({"content": text}))
        elif kind == "final":
            answer, reason = value
            if not streamed:
                yield sse(chunk({"content": marker.feed(answer.text)}))
            elif answer.refused:  # withheld after streaming: say so where a chat UI shows it
                yield sse(chunk({"content": f"\n\n{classification.portion_mark} {answer.text}"}))
            yield sse(
                chunk(
                    {"content": f"\n\n{answer.classification.banner}"},
                    _finish_reason(answer, reason),
                    usage=_usage(answer),
                    enclave=_enclave(answer),
                )
            )
            yield sse("[DONE]")
        elif kind == "error":
            yield sse({"error": _stream_error(value)})
            return


def _stream_error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, EnclaveError):
        status, type_, code, message = enclave_error_status(exc)
    else:
        status, type_, code, message = 500, "server_error", "internal_error", "internal server error"
    log.error("streamed request failed: %s: %s", type(exc).__name__, exc)
    return {"message": message, "type": type_, "code": code, "param": None, "status": status}
