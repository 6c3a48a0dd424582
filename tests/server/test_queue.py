"""The bounded engine queue: one generation at a time, 503 + Retry-After when full, never a pile-up."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from enclave.server.gate import EngineBusy, EngineGate

from .helpers import EchoEngine, LiveServer


def test_gate_tickets_are_bounded_and_released_once():
    gate = EngineGate(2, retry_after=7)
    tickets = [gate.enter() for _ in range(3)]
    with pytest.raises(EngineBusy) as busy:
        gate.enter()
    assert busy.value.retry_after == 7 and gate.refused == 1
    tickets[0].release()
    tickets[0].release()  # idempotent: a double release must not free a second place
    assert gate.in_flight == 2
    gate.enter()
    with pytest.raises(EngineBusy):
        gate.enter()


def test_twenty_simultaneous_clients_get_an_answer_or_a_clean_503(full, tmp_path):
    engine = EchoEngine(delay_s=0.004)  # ~0.8 s per answer: the queue fills up
    app = full.app(engine)
    max_queue = full.settings.server.max_queue
    with LiveServer(app) as server:
        barrier = threading.Barrier(20)

        def call(i: int) -> httpx.Response:
            with httpx.Client(timeout=120) as http:
                barrier.wait()
                return http.post(
                    f"{server.url}/v1/chat/completions",
                    headers=full.headers("bob"),
                    json={"model": "enclave", "stream": i % 2 == 1,
                          "messages": [{"role": "user", "content": "Where is the fuel depot for HARBOR LANTERN?"}]},
                )  # fmt: skip

        with ThreadPoolExecutor(20) as pool:
            responses = list(pool.map(call, range(20)))
        statuses = [r.status_code for r in responses]
        assert set(statuses) <= {200, 503}, statuses
        ok = [r for r in responses if r.status_code == 200]
        busy = [r for r in responses if r.status_code == 503]
        assert busy, "20 clients against a queue of 8 must see some 503s"
        assert len(ok) >= 1 and len(ok) <= max_queue + 1 + 1  # +1: a slot may free up while others arrive
        for r in busy:
            assert int(r.headers["Retry-After"]) > 0
            assert r.json()["error"]["code"] == "engine_overloaded"
        for r in ok:
            assert "Kestrel Ridge" in r.text
        assert engine.max_active == 1, "the engine must serve one generation at a time"
        # nothing leaks a place in the queue: afterwards the server is idle and answers again
        deadline = time.monotonic() + 30
        while app.state.services.gate.in_flight and time.monotonic() < deadline:
            time.sleep(0.05)
        assert app.state.services.gate.in_flight == 0
        health = httpx.get(f"{server.url}/healthz").json()
        assert health["queue"]["refused"] == len(busy)


def test_client_disconnect_mid_stream_frees_the_engine(full):
    engine = EchoEngine(delay_s=0.01)
    app = full.app(engine)
    with LiveServer(app) as server:
        with httpx.stream(
            "POST", f"{server.url}/v1/chat/completions", headers=full.headers("bob"), timeout=60,
            json={"model": "enclave", "stream": True, "messages": [{"role": "user", "content": "HARBOR LANTERN fuel"}]},
        ) as r:  # fmt: skip
            for _ in zip(range(3), r.iter_lines(), strict=False):
                pass  # read a little, then hang up
        deadline = time.monotonic() + 30
        while app.state.services.gate.in_flight and time.monotonic() < deadline:
            time.sleep(0.05)
        assert app.state.services.gate.in_flight == 0
        assert engine.active == 0
        # the partial answer was still recorded in the audit trail
        last = full.audit.entries(action="ask")[-1]
        assert last["actor"] == "bob"
