"""The embedded engine serves one generation at a time: a bounded queue in front of it.

A request takes a *ticket* on arrival (non-blocking). There are ``max_queue + 1`` tickets: one for
the generation running now, ``max_queue`` for requests waiting their turn. With none left the
request is refused at once with 503 and ``Retry-After`` — nothing piles up without bound, nothing
crashes. A ticket is given back only when the request's work is really over (the generating
thread has finished), not merely when a client disconnects, so the bound holds for engine work.
Every chat request takes a ticket, whatever its sources, so queue state never depends on what a
caller may or may not read.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class EngineBusy(Exception):
    """No ticket left: the caller should answer 503 with ``Retry-After``."""

    def __init__(self, capacity: int, retry_after: int) -> None:
        super().__init__(f"the engine queue is full ({capacity} requests in progress or waiting)")
        self.capacity = capacity
        self.retry_after = retry_after


class Ticket:
    """A place in the queue; ``release`` is idempotent and thread-safe."""

    def __init__(self, gate: EngineGate) -> None:
        self._gate = gate
        self._released = False
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        self._gate._leave()


class EngineGate:
    def __init__(self, max_queue: int, *, retry_after: int = 5) -> None:
        if max_queue < 0:
            raise ValueError("max_queue must be >= 0")
        self.capacity = max_queue + 1
        self.retry_after = retry_after
        self._in_flight = 0
        self._lock = threading.Lock()
        self._engine = threading.Lock()
        self.refused = 0  # how many requests got 503 (reported by /healthz)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def enter(self) -> Ticket:
        with self._lock:
            if self._in_flight >= self.capacity:
                self.refused += 1
                raise EngineBusy(self.capacity, self.retry_after)
            self._in_flight += 1
        return Ticket(self)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    @contextmanager
    def generating(self) -> Iterator[None]:
        """Hold the engine for one generation (called from a worker thread, never the event loop)."""
        with self._engine:
            yield
