"""The OpenAI-compatible engine against a fake transport: retries, backoff, and every failure shape."""

from __future__ import annotations

import json
import socket

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enclave.engines import ChatMessage, Usage
from enclave.engines.openai_http import OpenAIEngine
from enclave.engines.sse import iter_sse_data
from enclave.errors import EngineError, EngineUnavailable

HI = [ChatMessage("user", "hi")]
OK_BODY = {
    "id": "x",
    "object": "chat.completion",
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
}


class Server:
    """Scripted responses for MockTransport, recording every request and every backoff sleep."""

    def __init__(self, *responses) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        item = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(item, Exception):
            raise item
        return item

    def engine(self, **kwargs) -> OpenAIEngine:
        kwargs.setdefault("max_retries", 3)
        kwargs.setdefault("backoff_s", 0.5)
        return OpenAIEngine(
            "http://engine.test:8000/v1",
            "m",
            transport=httpx.MockTransport(self.handler),
            sleep=self.sleeps.append,
            **kwargs,
        )


def sse(*events: object, done: bool = True) -> httpx.Response:
    body = "".join(f"data: {json.dumps(e) if not isinstance(e, str) else e}\n\n" for e in events)
    if done:
        body += "data: [DONE]\n\n"
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body.encode())


def delta(text: str | None = None, finish: str | None = None) -> dict:
    d = {} if text is None else {"content": text}
    return {"choices": [{"index": 0, "delta": d, "finish_reason": finish}]}


def test_chat_sends_an_openai_request_and_parses_the_answer():
    server = Server(httpx.Response(200, json=OK_BODY))
    result = server.engine(api_key="s3cret", seed=7).chat(HI, max_tokens=9, stop=["\n\n"])
    assert result.text == "hello" and result.finish_reason == "stop" and result.usage == Usage(5, 1)
    request = server.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "http://engine.test:8000/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer s3cret"
    body = json.loads(request.content)
    assert body == {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 9,
        "temperature": 0.0,
        "stream": False,
        "seed": 7,
        "stop": ["\n\n"],
    }


def test_no_authorization_header_without_a_key():
    server = Server(httpx.Response(200, json=OK_BODY))
    server.engine().chat(HI)
    assert "authorization" not in server.requests[0].headers


def test_5xx_is_retried_with_exponential_backoff_then_succeeds():
    server = Server(httpx.Response(503), httpx.Response(502), httpx.Response(200, json=OK_BODY))
    assert server.engine().chat(HI).text == "hello"
    assert len(server.requests) == 3
    assert server.sleeps == [0.5, 1.0]


def test_429_honours_retry_after():
    server = Server(
        httpx.Response(429, headers={"retry-after": "2"}, json={"error": {"message": "slow down"}}),
        httpx.Response(200, json=OK_BODY),
    )
    assert server.engine().chat(HI).text == "hello"
    assert server.sleeps == [2.0]


def test_persistent_5xx_becomes_unavailable_after_bounded_retries():
    server = Server(httpx.Response(500, json={"error": {"message": "CUDA out of memory"}}))
    with pytest.raises(EngineUnavailable) as err:
        server.engine(max_retries=2).chat(HI)
    assert len(server.requests) == 3
    assert server.sleeps == [0.5, 1.0]
    assert "HTTP 500: CUDA out of memory" in err.value.message
    assert "after 3 attempts" in err.value.message


def test_connection_refused_is_retried_then_unavailable():
    refused = httpx.ConnectError("[Errno 111] Connection refused")
    server = Server(refused)
    with pytest.raises(EngineUnavailable, match="connection refused") as err:
        server.engine(max_retries=1).chat(HI)
    assert len(server.requests) == 2
    assert "base_url" in (err.value.hint or "")


def test_timeouts_are_retried():
    server = Server(httpx.ReadTimeout("slow"), httpx.Response(200, json=OK_BODY))
    assert server.engine().chat(HI).text == "hello"
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("status", "body", "shown", "hint"),
    [
        (400, {"error": {"message": "max_tokens must be positive"}}, "max_tokens must be positive", "remote_model"),
        (401, {"error": "invalid api key"}, "invalid api key", "api_key_env"),
        (404, {"detail": "Not Found"}, "Not Found", "/v1"),
        (
            422,
            {"detail": [{"loc": ["body", "messages"], "msg": "field required"}]},
            "body.messages: field required",
            "remote_model",
        ),
        (400, "plain text failure", "plain text failure", "remote_model"),
    ],
)
def test_4xx_is_not_retried_and_carries_the_servers_message(status, body, shown, hint):
    response = httpx.Response(status, json=body) if isinstance(body, dict) else httpx.Response(status, text=body)
    server = Server(response)
    with pytest.raises(EngineError) as err:
        server.engine().chat(HI)
    assert not isinstance(err.value, EngineUnavailable)
    assert len(server.requests) == 1 and server.sleeps == []
    assert f"HTTP {status}" in err.value.message and shown in err.value.message
    assert hint in (err.value.hint or "")


@pytest.mark.parametrize(
    ("response", "what"),
    [
        (httpx.Response(200, text="<html>proxy login</html>"), "not JSON"),
        (httpx.Response(200, json={"choices": []}), "no choices[0].message"),
        (httpx.Response(200, json={"object": "list"}), "no choices[0].message"),
        (httpx.Response(200, json={"choices": [{"message": {"content": 42}}], "usage": {}}), "not a string"),
        (httpx.Response(200, json={"choices": [{"message": {"content": "x"}}]}), "no usage"),
        (
            httpx.Response(200, json={"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens": "many"}}),
            "no usage",
        ),
    ],
)
def test_malformed_answers_are_engine_errors(response, what):
    with pytest.raises(EngineError, match="malformed") as err:
        Server(response).engine().chat(HI)
    assert what in err.value.message


def test_redirects_are_not_followed():
    server = Server(httpx.Response(307, headers={"location": "http://elsewhere.example/v1/chat/completions"}))
    with pytest.raises(EngineError, match="redirect"):
        server.engine().chat(HI)
    assert len(server.requests) == 1


def test_stream_parses_sse_with_usage_chunk():
    server = Server(
        sse(
            delta("Hel"),
            delta("lo"),
            delta(None, "stop"),
            {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}},
        )
    )
    chunks = list(server.engine().stream(HI))
    assert [c.text for c in chunks] == ["Hel", "lo", ""]
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage == Usage(5, 2)
    body = json.loads(server.requests[0].content)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_stream_without_usage_counts_content_chunks():
    server = Server(sse(delta("a"), delta("b"), delta("c"), delta(None, "length")))
    last = list(server.engine().stream(HI))[-1]
    assert last.finish_reason == "length" and last.usage == Usage(0, 3)


def test_stream_is_retried_before_the_first_byte():
    server = Server(httpx.Response(503), sse(delta("ok"), delta(None, "stop")))
    assert "".join(c.text for c in server.engine().stream(HI)) == "ok"
    assert server.sleeps == [0.5]


@pytest.mark.parametrize(
    ("response", "match"),
    [
        (sse("{not json"), "not JSON"),
        (sse({"error": {"message": "model crashed"}}), "model crashed"),
        (sse({"choices": [{"delta": "text"}]}), "no choices\\[0\\].delta"),
        (sse({"object": "x"}), "no choices list"),
        (sse(delta("cut"), done=False), "ended without"),
    ],
)
def test_stream_failures_are_engine_errors(response, match):
    with pytest.raises(EngineError, match=match):
        list(Server(response).engine().stream(HI))


def test_stream_http_error_before_start():
    server = Server(httpx.Response(400, json={"error": {"message": "bad stop"}}))
    with pytest.raises(EngineError, match="bad stop"):
        list(server.engine().stream(HI))


def test_list_models():
    server = Server(httpx.Response(200, json={"object": "list", "data": [{"id": "a"}, {"id": "b"}]}))
    assert server.engine().list_models() == ["a", "b"]
    assert str(server.requests[0].url) == "http://engine.test:8000/v1/models"


def test_invalid_base_url_is_refused():
    with pytest.raises(EngineError, match="not an http"):
        OpenAIEngine("ftp://host/v1", "m")


def test_real_connection_refused_on_loopback():
    """No fake: a closed loopback port gives a fast, clear EngineUnavailable."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends
    sleeps: list[float] = []
    engine = OpenAIEngine(f"http://127.0.0.1:{port}/v1", "m", max_retries=2, backoff_s=0.01, sleep=sleeps.append)
    with pytest.raises(EngineUnavailable, match=r"connection refused.*after 3 attempts"):
        engine.chat(HI)
    assert sleeps == [0.01, 0.02]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"), max_size=20),
        min_size=1,
        max_size=6,
    )
)
def test_sse_data_roundtrip(payloads):
    """Any payload lines, framed as SSE (with comments and other fields mixed in), come back intact."""
    lines: list[str] = [": keep-alive", "event: message"]
    for payload in payloads:
        lines += [f"data: {payload}", "id: 1", ""]
    assert list(iter_sse_data(lines)) == payloads


def test_sse_multiline_data_and_trailing_event():
    assert list(iter_sse_data(["data: a", "data:b", "", "data", "", "data: tail"])) == ["a\nb", "", "tail"]
