"""The official ``openai`` client against a live uvicorn server on loopback (streaming and not)."""

from __future__ import annotations

import httpx
import openai
import pytest

from .helpers import leaks


def _client(server, home, user: str = "bob", **kwargs) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=home.tokens[user], max_retries=0, timeout=60, **kwargs)


QUESTION = "Where is the fuel depot for HARBOR LANTERN?"


def test_models_list(live):
    home, server = live
    models = _client(server, home).models.list()
    assert [m.id for m in models.data] == ["echo-engine"]


def test_non_streaming_completion_is_marked_and_cited(live):
    home, server = live
    completion = _client(server, home).chat.completions.create(
        model="enclave", messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": QUESTION}]
    )
    content = completion.choices[0].message.content
    enclave = completion.model_extra["enclave"]
    banner = enclave["classification"]["banner"]
    assert banner == "NATO RESTRICTED"
    assert content.startswith(banner + "\n\n(NR) ") and content.rstrip().endswith(banner)
    assert "Kestrel Ridge" in content  # bob may read the logistics document
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.total_tokens > 0
    assert isinstance(enclave["audit_id"], int)
    assert enclave["refused"] is False
    cited_docs = {c["document_id"] for c in enclave["citations"]}
    assert home.documents["restricted.txt"] in cited_docs
    assert {"n", "chunk_id", "quote", "support", "portion_mark", "title"} <= set(enclave["citations"][0])
    entry = home.audit.entry(enclave["audit_id"])
    assert entry["action"] == "ask" and entry["actor"] == "bob"


def test_streaming_sends_banner_first_then_tokens_then_enclave(live):
    home, server = live
    stream = _client(server, home).chat.completions.create(
        model="enclave", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    first, last = chunks[0], chunks[-1]
    assert first.choices[0].delta.role == "assistant"
    assert first.model_extra["enclave"]["classification"]["banner"] == "NATO RESTRICTED"
    assert first.choices[0].delta.content == "NATO RESTRICTED\n\n"
    assert len(chunks) > 5, "tokens arrive as separate deltas"
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["enclave"]["audit_id"] is not None
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text.startswith("NATO RESTRICTED\n\n(NR) ")
    assert text.endswith("\n\nNATO RESTRICTED")
    assert "Kestrel Ridge" in text


def test_stream_bytes_end_with_done(live):
    home, server = live
    with httpx.stream(
        "POST",
        f"{server.url}/v1/chat/completions",
        headers=home.headers("bob"),
        timeout=60,
        json={"model": "enclave", "stream": True, "messages": [{"role": "user", "content": QUESTION}]},
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"


def test_ceiling_from_extra_body_and_header(live):
    home, server = live
    for client, extra in (
        (_client(server, home, "alice"), {"extra_body": {"enclave": {"ceiling": "NATO UNCLASSIFIED"}}}),
        (_client(server, home, "alice", default_headers={"X-Enclave-Ceiling": "NATO UNCLASSIFIED"}), {}),
    ):
        completion = client.chat.completions.create(
            model="enclave",
            messages=[{"role": "user", "content": "HARBOR LANTERN reserve battalion and fuel depot"}],
            **extra,
        )
        enclave = completion.model_extra["enclave"]
        assert enclave["classification"]["label"]["level_name"] == "NATO UNCLASSIFIED"
        content = completion.choices[0].message.content
        assert (
            leaks(str(completion.model_dump()), {"public.txt"}, "HARBOR LANTERN reserve battalion and fuel depot") == []
        )
        assert "CANARYPUBLICALPHA" in content


def test_nothing_relevant_is_a_plain_answer(live):
    home, server = live
    completion = _client(server, home).chat.completions.create(
        model="enclave", messages=[{"role": "user", "content": "What is the recipe for Bavarian pretzels?"}]
    )
    enclave = completion.model_extra["enclave"]
    assert enclave["citations"] == [] and enclave["sources"] == []
    assert "do not answer this question" in completion.choices[0].message.content


def test_auth_errors_are_openai_exceptions(live):
    home, server = live
    bad = openai.OpenAI(base_url=f"{server.url}/v1", api_key="enc_not-a-real-token-at-all-000000", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as err:
        bad.models.list()
    assert err.value.body["code"] == "invalid_api_key"
    with pytest.raises(openai.PermissionDeniedError):
        _client(server, home, "audrey").chat.completions.create(
            model="enclave", messages=[{"role": "user", "content": QUESTION}]
        )
    with pytest.raises(openai.NotFoundError):
        _client(server, home).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
    with pytest.raises(openai.BadRequestError):
        _client(server, home).chat.completions.create(model="enclave", messages=[{"role": "system", "content": "x"}])
