"""Server-sent events for streamed answers, generated in a worker thread.

The generation runs in its own thread (holding the engine) and hands events to the event loop
through a queue, so the loop never blocks on the model. If the client goes away, the thread is
told to stop after the current token; it still records the (partial) answer in the audit trail and
only then gives its queue ticket back.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

_END = object()


def sse(data: dict[str, Any] | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"data: {payload}\n\n".encode()


class PortionMarker:
    """Inserts the answer's portion mark at the start of every paragraph of streamed text."""

    def __init__(self, mark: str) -> None:
        self.mark = mark
        self.newlines = 0
        self.started = False

    def feed(self, text: str) -> str:
        out: list[str] = []
        for ch in text:
            if ch == "\n":
                self.newlines += 1
            elif not ch.isspace():
                if not self.started or self.newlines >= 2:
                    out.append(f"{self.mark} ")
                    self.started = True
                self.newlines = 0
            elif not self.started:
                continue  # leading blanks before the first paragraph
            out.append(ch)
        return "".join(out)


class DeltaBatcher:
    """Hands tokens to the event loop at most every ``interval_s`` (the first one at once).

    Waking the loop once per token costs a thread hand-off, a syscall and an SSE event; on a small
    machine that competes with generation itself. Batching keeps time to first token unchanged and
    adds at most ``interval_s`` of latency to later tokens.
    """

    def __init__(self, send: Callable[[str], None], interval_s: float = 0.025) -> None:
        self.send = send
        self.interval_s = interval_s
        self.pending: list[str] = []
        self.last = 0.0

    def add(self, text: str) -> None:
        self.pending.append(text)
        now = time.monotonic()
        if now - self.last >= self.interval_s:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        if self.pending:
            self.send("".join(self.pending))
            self.pending.clear()
        self.last = time.monotonic() if now is None else now


Emit = Callable[[tuple[str, Any]], None]


async def run_in_thread(work: Callable[[Emit, threading.Event], None]) -> AsyncIterator[tuple[str, Any]]:
    """Run ``work(emit, cancelled)`` in a daemon thread and yield what it emits, in order.

    ``work`` must return on its own; when this iterator is closed early, ``cancelled`` is set.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    cancelled = threading.Event()

    def emit(item: tuple[str, Any]) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is gone (shutdown): nobody is listening
            cancelled.set()

    def target() -> None:
        try:
            work(emit, cancelled)
        except BaseException as exc:
            emit(("error", exc))
        finally:
            emit(("end", _END))

    thread = threading.Thread(target=target, name="enclave-generate", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = await queue.get()
            if kind == "delta":  # under load, send the tokens that piled up as one event
                while not queue.empty() and queue._queue[0][0] == "delta":  # type: ignore[attr-defined]
                    value += queue.get_nowait()[1]
            if kind == "end":
                return
            yield kind, value
    finally:
        cancelled.set()
