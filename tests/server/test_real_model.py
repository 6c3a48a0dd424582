"""Through the real thing: the bundled SmolLM2 model (llama.cpp), real guards, `enclave serve` as a process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import openai
import pytest

from enclave.audit import open_audit

from .conftest import build_home
from .helpers import CORPUS, LiveServer, free_port, leaks, readable_files

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_home(tmp_path_factory):
    home = build_home(tmp_path_factory.mktemp("real") / "home", len(CORPUS), guard=True)
    yield home
    home.close()


@pytest.fixture(scope="module")
def real_server(real_home):
    from enclave.server import create_app

    with LiveServer(create_app(real_home.settings)) as server:  # builds the real assistant at start-up
        yield server


def _client(server, home, user):
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=home.tokens[user], max_retries=0, timeout=300)


def test_real_model_answers_marked_and_cited(real_home, real_server):
    question = "Where is the fuel depot supporting HARBOR LANTERN?"
    completion = _client(real_server, real_home, "bob").chat.completions.create(
        model="enclave", messages=[{"role": "user", "content": question}]
    )
    enclave = completion.model_extra["enclave"]
    assert completion.model.startswith("smollm2")
    banner = enclave["classification"]["banner"]
    content = completion.choices[0].message.content
    assert content.startswith(banner) and content.rstrip().endswith(banner)
    assert enclave["sources"], "the logistics document is relevant and readable"
    allowed = {real_home.documents[f] for f in readable_files("bob")}
    assert {s["document_id"] for s in enclave["sources"]} <= allowed
    assert leaks(json.dumps(completion.model_dump()), readable_files("bob"), question, strong_only=True) == []
    assert real_home.audit.entry(enclave["audit_id"])["details"]["model_sha256"]


def test_real_model_streams_banner_first(real_home, real_server):
    question = "Where does the reserve battalion for HARBOR LANTERN land?"
    chunks = list(
        _client(real_server, real_home, "carol").chat.completions.create(
            model="enclave", messages=[{"role": "user", "content": question}], stream=True
        )
    )
    first = chunks[0].model_extra["enclave"]
    final = chunks[-1].model_extra["enclave"]
    assert chunks[0].choices[0].delta.content == first["classification"]["banner"] + "\n\n"
    assert final["classification"] == first["classification"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    # carol is a partner-nation user: the NATO-only reserve plan must not reach her in any form
    assert leaks(text + json.dumps(final), readable_files("carol"), question, strong_only=True) == [], text
    assert {s["document_id"] for s in final["sources"]} <= {real_home.documents[f] for f in readable_files("carol")}


def test_enclave_serve_records_start_and_stop_and_signs_a_head(real_home, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "enclave", "--home", str(real_home.settings.home), "serve", "--port", str(port),
         "--log-level", "warning"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "enclave serve did not come up"
            time.sleep(0.5)
        r = httpx.post(
            f"http://127.0.0.1:{port}/v1/search", headers=real_home.headers("bob"), json={"query": "fuel depot"}
        )
        assert r.status_code == 200 and r.json()["data"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    # uvicorn shuts down gracefully, then re-raises the captured SIGTERM (exit status -15)
    assert proc.returncode in (0, -signal.SIGTERM), out
    assert "Traceback" not in out, out
    log = open_audit(real_home.settings, readonly=True)
    try:
        actions = [e["action"] for e in log.entries(action="server.*")]
        assert actions[-2:] == ["server.start", "server.stop"]
        assert log.latest_head()["tree_size"] == log.size(), "closing the log signs a head covering everything"
    finally:
        log.close()
