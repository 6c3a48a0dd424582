"""The embedded engine through the real llama.cpp and the bundled SmolLM2 model."""

from __future__ import annotations

import threading

import pytest

from enclave.config import BUNDLED_MODEL_ID
from enclave.engines import ChatMessage, Engine
from enclave.engines.models import BUNDLED_MODEL_SHA256
from enclave.errors import EngineError

pytestmark = pytest.mark.slow

QUESTION = [ChatMessage("user", "What is the capital of France? Answer in one sentence.")]


def test_engine_satisfies_the_protocol(llama_engine):
    assert isinstance(llama_engine, Engine)
    assert llama_engine.model_id == BUNDLED_MODEL_ID
    assert llama_engine.model_sha256 == BUNDLED_MODEL_SHA256


def test_chat_answers_with_usage(llama_engine):
    result = llama_engine.chat(QUESTION, max_tokens=40)
    assert "Paris" in result.text
    assert result.finish_reason == "stop"
    assert result.model_id == BUNDLED_MODEL_ID
    assert result.usage.prompt_tokens > 10
    assert 0 < result.usage.completion_tokens < 40
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens


def test_chat_is_deterministic(llama_engine):
    prompt = [ChatMessage("user", "Write one sentence about the sea.")]
    assert llama_engine.chat(prompt, max_tokens=30) == llama_engine.chat(prompt, max_tokens=30)


def test_stream_yields_the_same_text_and_usage_as_chat(llama_engine):
    result = llama_engine.chat(QUESTION, max_tokens=40)
    chunks = list(llama_engine.stream(QUESTION, max_tokens=40))
    assert len(chunks) > 2
    assert all(c.finish_reason is None and c.usage is None for c in chunks[:-1])
    assert "".join(c.text for c in chunks) == result.text
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage == result.usage


def test_max_tokens_stops_with_length(llama_engine):
    result = llama_engine.chat([ChatMessage("user", "Count from one to fifty in words.")], max_tokens=4)
    assert result.finish_reason == "length"
    assert result.usage.completion_tokens == 4
    last = list(llama_engine.stream([ChatMessage("user", "Count from one to fifty in words.")], max_tokens=4))[-1]
    assert last.finish_reason == "length"
    assert last.usage.completion_tokens == 4


def test_stop_sequence_cuts_the_answer(llama_engine):
    full = llama_engine.chat(QUESTION, max_tokens=40).text
    cut = llama_engine.chat(QUESTION, max_tokens=40, stop=["Paris"]).text
    assert "Paris" not in cut
    assert full.startswith(cut)


def test_system_message_changes_the_answer(llama_engine):
    plain = llama_engine.chat(QUESTION, max_tokens=30).text
    steered = llama_engine.chat([ChatMessage("system", "You always answer in French."), *QUESTION], max_tokens=30).text
    assert plain != steered


def test_concurrent_calls_are_serialised_and_correct(llama_engine):
    """One Llama is not thread-safe; the engine's lock must make parallel callers see sequential results."""
    prompts = [[ChatMessage("user", f"Say the number {n} and nothing else.")] for n in (1, 2, 3)]
    expected = [llama_engine.chat(p, max_tokens=12).text for p in prompts]
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            if i % 2:
                results[i] = "".join(c.text for c in llama_engine.stream(prompts[i % 3], max_tokens=12))
            else:
                results[i] = llama_engine.chat(prompts[i % 3], max_tokens=12).text
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert [results[i] for i in range(6)] == [expected[i % 3] for i in range(6)]


def test_prompt_larger_than_the_context_is_an_engine_error(llama_engine):
    huge = [ChatMessage("user", "word " * (llama_engine.n_ctx + 100))]
    with pytest.raises(EngineError, match="context window"):
        llama_engine.chat(huge, max_tokens=5)
    with pytest.raises(EngineError, match="context window"):
        list(llama_engine.stream(huge, max_tokens=5))
    assert "Paris" in llama_engine.chat(QUESTION, max_tokens=40).text  # still usable afterwards


def test_empty_message_list_is_refused(llama_engine):
    with pytest.raises(EngineError, match="at least one message"):
        llama_engine.chat([])


def test_abandoned_stream_releases_the_engine(llama_engine):
    stream = llama_engine.stream(QUESTION, max_tokens=40)
    first = next(stream)
    assert first.text
    stream.close()  # the caller stops reading early
    done = threading.Event()
    threading.Thread(target=lambda: (llama_engine.chat(QUESTION, max_tokens=5), done.set()), daemon=True).start()
    assert done.wait(timeout=60), "the engine lock was not released by the abandoned stream"
