"""``enclave models``, ``doctor`` and ``chat`` through the real console script and the real model."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from pathlib import Path

import pytest

from enclave.config import BUNDLED_MODEL_ID
from enclave.engines.models import BUNDLED_MODEL_SHA256

from .conftest import assert_clean_failure

QUESTION = "What is the capital of France? Answer in one sentence."


def site_model(home: Path, data: bytes, pin: str | None = None) -> str:
    """A [models.site] table (and engine.model = site) for a file holding ``data``; returns the real hash."""
    path = home / "site.gguf"
    path.write_bytes(data)
    os.chmod(path, 0o600)
    actual = hashlib.sha256(data).hexdigest()
    text = (home / "enclave.toml").read_text().replace(f'model = "{BUNDLED_MODEL_ID}"', 'model = "site"')
    (home / "enclave.toml").write_text(text + f'\n[models.site]\npath = "{path}"\nsha256 = "{pin or actual}"\n')
    return actual


@pytest.fixture
def initialised(enclave_cli, home: Path) -> Path:
    result = enclave_cli("init")
    assert result.returncode == 0, result.stderr
    return home


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- models ---------------------------------------------------------------------------------
def test_models_list_json(enclave_cli, initialised: Path):
    result = enclave_cli("models", "list", "--json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["id"] == BUNDLED_MODEL_ID and row["active"] and row["present"] and row["source"] == "built-in"
    assert row["sha256"] == BUNDLED_MODEL_SHA256 and row["path"].endswith("SmolLM2-135M-Instruct.Q4_1.gguf")


def test_models_list_table(enclave_cli, initialised: Path):
    result = enclave_cli("models", "list")
    assert result.returncode == 0 and BUNDLED_MODEL_ID in result.stdout and "built-in" in result.stdout


def test_models_verify_all_ok(enclave_cli, initialised: Path):
    result = enclave_cli("models", "verify", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["models"][0]["actual"] == BUNDLED_MODEL_SHA256


def test_models_verify_reports_a_mismatch_and_exits_1(enclave_cli, initialised: Path):
    actual = site_model(initialised, b"GGUF swapped", pin="e" * 64)
    result = enclave_cli("models", "verify", "--json")
    assert result.returncode == 1
    report = {m["id"]: m for m in json.loads(result.stdout)["models"]}
    assert report[BUNDLED_MODEL_ID]["ok"] is True
    assert report["site"]["ok"] is False
    assert "e" * 64 in report["site"]["error"] and actual in report["site"]["error"]
    text = enclave_cli("models", "verify", "site")
    assert text.returncode == 1 and "FAILED" in text.stdout and "site.gguf" in text.stdout


def test_models_verify_unknown_id(enclave_cli, initialised: Path):
    assert_clean_failure(enclave_cli("models", "verify", "nope"), "unknown model 'nope'")


# -- doctor ---------------------------------------------------------------------------------
def test_doctor_all_green(enclave_cli, initialised: Path):
    result = enclave_cli("doctor", "--json")
    assert result.returncode == 0, result.stdout
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert report["ok"] and all(c["ok"] for c in checks.values())
    assert set(checks) == {"config", "home", "home permissions", "egress guard", "offline switches", "engine", "model"}
    assert BUNDLED_MODEL_SHA256 in checks["model"]["detail"] and "verified" in checks["model"]["detail"]
    assert checks["egress guard"]["detail"].startswith("on")
    assert report["versions"]["llama-cpp-python"] and report["versions"]["enclave"]


def test_doctor_table_output(enclave_cli, initialised: Path):
    result = enclave_cli("doctor")
    assert result.returncode == 0
    assert "egress guard" in result.stdout and "llama-cpp-python" in result.stdout


@pytest.mark.parametrize(
    ("setup", "failing", "words"),
    [
        (lambda h: os.chmod(h / "enclave.toml", 0o644), "home permissions", "accessible to group/others"),
        (lambda h: site_model(h, b"GGUF swapped", pin="f" * 64), "model", "does not match its pinned SHA-256"),
        (lambda h: site_model(h, b"GGUF") and (h / "site.gguf").unlink(), "model", "does not exist"),
    ],
    ids=["loose-permissions", "wrong-hash", "missing-file"],
)
def test_doctor_fails_when_something_is_wrong(enclave_cli, initialised: Path, setup, failing, words):
    setup(initialised)
    result = enclave_cli("doctor", "--json")
    assert result.returncode == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks[failing]["ok"] is False and words in checks[failing]["detail"]


def test_doctor_reports_a_disabled_egress_guard(enclave_cli, initialised: Path):
    text = (initialised / "enclave.toml").read_text().replace("enabled = true", "enabled = false")
    (initialised / "enclave.toml").write_text(text)
    result = enclave_cli("doctor", "--json")
    assert result.returncode == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["egress guard"]["ok"] is False and "disabled" in checks["egress guard"]["detail"]


def test_doctor_without_a_home(enclave_cli, home: Path):
    result = enclave_cli("doctor", "--json")
    assert result.returncode == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["home"]["ok"] is False and "enclave init" in checks["home"]["hint"]


def test_doctor_with_an_unreachable_remote_engine(enclave_cli, initialised: Path):
    env = {"ENCLAVE_ENGINE__KIND": "openai", "ENCLAVE_ENGINE__BASE_URL": f"http://127.0.0.1:{closed_port()}/v1"}
    result = enclave_cli("doctor", "--json", env=env)
    assert result.returncode == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["engine"]["ok"] is False and "connection refused" in checks["engine"]["detail"]


def test_doctor_with_a_malformed_config(enclave_cli, initialised: Path):
    config = initialised / "enclave.toml"
    config.write_text(config.read_text().replace('kind = "llamacpp"', 'kind = "gpt"'))
    result = enclave_cli("doctor")
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    assert "config" in result.stdout and "FAIL" in result.stdout and "engine.kind" in result.stdout


# -- chat -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_chat_plain_and_json(enclave_cli, initialised: Path):
    plain = enclave_cli("chat", QUESTION)
    assert plain.returncode == 0, plain.stderr
    assert "Paris" in plain.stdout
    data = json.loads(enclave_cli("chat", "--json", QUESTION).stdout)
    assert data["text"] == plain.stdout.rstrip("\n")
    assert data["model"] == BUNDLED_MODEL_ID and data["model_sha256"] == BUNDLED_MODEL_SHA256
    assert data["finish_reason"] == "stop" and data["usage"]["completion_tokens"] > 0


@pytest.mark.slow
def test_chat_stream_text_and_ndjson(enclave_cli, initialised: Path):
    plain = enclave_cli("chat", QUESTION).stdout
    streamed = enclave_cli("chat", "--stream", QUESTION)
    assert streamed.returncode == 0 and streamed.stdout == plain
    events = [
        json.loads(line)
        for line in enclave_cli("chat", "--stream", "--json", "--max-tokens", "3", QUESTION).stdout.splitlines()
    ]
    assert len(events) == 4  # three tokens, then the summary
    assert events[-1]["finish_reason"] == "length" and events[-1]["usage"]["completion_tokens"] == 3
    assert events[-1]["timings"]["first_token_s"] <= events[-1]["timings"]["generate_s"]


@pytest.mark.slow
def test_chat_through_a_real_openai_compatible_server(enclave_cli, initialised: Path, llama_server: str):
    env = {"ENCLAVE_ENGINE__KIND": "openai", "ENCLAVE_ENGINE__BASE_URL": llama_server}
    data = json.loads(enclave_cli("chat", "--json", QUESTION, env=env).stdout)
    assert "Paris" in data["text"] and data["model_sha256"] is None


def test_chat_with_a_missing_model_file(enclave_cli, initialised: Path):
    site_model(initialised, b"GGUF")
    (initialised / "site.gguf").unlink()
    assert_clean_failure(enclave_cli("chat", "hi"), "site.gguf", "does not exist", "hint:")


def test_chat_with_a_wrong_hash(enclave_cli, initialised: Path):
    actual = site_model(initialised, b"GGUF tampered", pin="1" * 64)
    assert_clean_failure(enclave_cli("chat", "hi"), "site.gguf", "1" * 64, actual)


def test_chat_with_a_file_that_is_not_gguf(enclave_cli, initialised: Path):
    site_model(initialised, b"<html>404 from a mirror</html>")
    assert_clean_failure(enclave_cli("chat", "hi"), "not a GGUF file")


@pytest.mark.slow
def test_chat_with_a_corrupt_gguf(enclave_cli, initialised: Path, bundled_model_path: Path):
    with bundled_model_path.open("rb") as src:
        site_model(initialised, src.read(1 << 20))
    assert_clean_failure(enclave_cli("chat", "hi"), "could not load model file", "site.gguf")


def test_chat_with_an_unreachable_engine(enclave_cli, initialised: Path):
    port = closed_port()
    env = {
        "ENCLAVE_ENGINE__KIND": "openai",
        "ENCLAVE_ENGINE__BASE_URL": f"http://127.0.0.1:{port}/v1",
        "ENCLAVE_ENGINE__MAX_RETRIES": "1",
        "ENCLAVE_ENGINE__BACKOFF_S": "0",
    }
    assert_clean_failure(enclave_cli("chat", "hi", env=env), f"127.0.0.1:{port}", "connection refused", "base_url")


def test_doctor_lists_the_hosts_the_guard_allows(enclave_cli, initialised: Path):
    """The CLI installs the guard with the configured engine host and [egress] allow, nothing else."""
    env = {
        "ENCLAVE_ENGINE__KIND": "openai",
        "ENCLAVE_ENGINE__BASE_URL": "http://127.0.0.1:9/v1",
        "ENCLAVE_EGRESS__ALLOW": '["approved.internal"]',
    }
    result = enclave_cli("doctor", "--json", env=env)
    guard = {c["name"]: c for c in json.loads(result.stdout)["checks"]}["egress guard"]
    assert guard["ok"] and guard["detail"] == "on: loopback + 127.0.0.1, approved.internal"
