"""The OpenAI-compatible engine against a real ``llama_cpp.server`` on loopback, with the egress guard on."""

from __future__ import annotations

from pathlib import Path

import pytest

from enclave.cli.common import engine_hosts
from enclave.config import BUNDLED_MODEL_ID, load_settings
from enclave.engines import ChatMessage, create_engine
from enclave.engines.openai_http import OpenAIEngine
from enclave.errors import EgressBlocked, EngineError, EngineUnavailable
from enclave.offline import EgressGuard

from .conftest import write_config

pytestmark = pytest.mark.slow

QUESTION = [ChatMessage("user", "What is the capital of France? Answer in one sentence.")]


@pytest.fixture
def guard():
    """The real egress guard, installed for the test (loopback only) and removed afterwards."""
    g = EgressGuard()
    g.install()
    yield g
    g.uninstall()


@pytest.fixture
def remote(llama_server: str, home: Path, guard):
    settings = write_config(home, f'[engine]\nkind = "openai"\nbase_url = "{llama_server}"\nmax_retries = 1\n')
    engine = create_engine(settings)
    yield engine
    engine.close()


def test_factory_builds_the_http_engine_for_kind_openai(remote):
    assert isinstance(remote, OpenAIEngine)
    assert remote.model_id == BUNDLED_MODEL_ID
    assert remote.model_sha256 is None


def test_chat_through_a_real_server(remote):
    result = remote.chat(QUESTION, max_tokens=40)
    assert "Paris" in result.text
    assert result.finish_reason == "stop"
    assert result.usage.prompt_tokens > 10 and result.usage.completion_tokens > 0


def test_stream_through_a_real_server_matches_chat(remote):
    result = remote.chat(QUESTION, max_tokens=40)
    chunks = list(remote.stream(QUESTION, max_tokens=40))
    assert len(chunks) > 2
    assert "".join(c.text for c in chunks) == result.text
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_length_limit_through_a_real_server(remote):
    result = remote.chat([ChatMessage("user", "Count from one to fifty in words.")], max_tokens=3)
    assert result.finish_reason == "length" and result.usage.completion_tokens == 3


def test_wrong_base_url_is_a_4xx_with_the_servers_message(llama_server: str, home: Path, guard):
    """A common misconfiguration: base_url without /v1. The server's 404 is shown, with a hint, no retries."""
    root = llama_server.removesuffix("/v1")
    settings = write_config(home, f'[engine]\nkind = "openai"\nbase_url = "{root}"\n')
    with pytest.raises(EngineError) as err:
        create_engine(settings).chat(QUESTION, max_tokens=5)
    assert not isinstance(err.value, EngineUnavailable)
    assert "HTTP 404: Not Found" in err.value.message
    assert "/v1" in (err.value.hint or "")


def test_server_side_failure_is_reported_with_its_message(remote):
    """llama_cpp.server answers an unknown role with HTTP 500 (after validation fails): retried, then reported."""
    with pytest.raises(EngineUnavailable) as err:
        remote.chat([ChatMessage("robot", "hi")], max_tokens=5)  # type: ignore[arg-type]  # no such role
    assert "HTTP 500" in err.value.message and "validation error" in err.value.message
    assert "after 2 attempts" in err.value.message
    assert len(err.value.message) < 800  # a server traceback is cut, not dumped on the user


def test_list_models_on_a_real_server(remote):
    assert BUNDLED_MODEL_ID in remote.list_models()


def test_guard_allows_the_configured_engine_host_and_blocks_others(llama_server: str, home: Path, guard):
    """Only the engine host from the config is allowed; an engine pointed elsewhere never sends a packet."""
    connects: list[object] = []
    guard.real_connect = lambda sock, address: connects.append(address)
    guard.real_connect_ex = lambda sock, address: connects.append(address) or 0

    settings = write_config(
        home, '[engine]\nkind = "openai"\nbase_url = "http://198.51.100.7:8000/v1"\nmax_retries = 0\n'
    )
    assert engine_hosts(settings) == ["198.51.100.7"]
    engine = create_engine(settings)
    with pytest.raises(EgressBlocked, match=r"198\.51\.100\.7"):
        engine.chat(QUESTION, max_tokens=5)  # guard not told about this host: refused
    assert connects == []

    settings = write_config(home, '[engine]\nkind = "openai"\nbase_url = "http://gpu-cluster.example:8000/v1"\n')
    with pytest.raises(EgressBlocked, match=r"gpu-cluster\.example"):
        create_engine(settings).chat(QUESTION, max_tokens=5)  # DNS lookup itself is refused
    assert connects == []


def test_unreachable_engine_through_the_factory(home: Path):
    settings = load_settings(
        home,
        environ={
            "ENCLAVE_ENGINE__KIND": "openai",
            "ENCLAVE_ENGINE__BASE_URL": "http://127.0.0.1:9/v1",
            "ENCLAVE_ENGINE__MAX_RETRIES": "1",
            "ENCLAVE_ENGINE__BACKOFF_S": "0",
        },
    )
    with pytest.raises(EngineUnavailable, match=r"cannot reach the engine at http://127\.0\.0\.1:9/v1"):
        create_engine(settings).chat(QUESTION)
