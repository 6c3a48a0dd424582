"""Fixtures for engine tests: an isolated home, the real bundled model, a real llama.cpp server on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from enclave.config import BUNDLED_MODEL_ID, Settings, load_settings
from enclave.engines.models import BUILTIN_MODELS, resolve_path

# One llama.cpp thread: on a shared, oversubscribed CI machine several threads spin on each other's
# barriers and run many times slower; one thread is fast and predictable for these short generations.
ONE_THREAD = {"ENCLAVE_ENGINE__N_THREADS": "1"}


def write_config(home: Path, text: str) -> Settings:
    (home / "enclave.toml").write_text(text, encoding="utf-8")
    return load_settings(home, environ={})


@pytest.fixture(scope="session")
def bundled_model_path() -> Path:
    path = resolve_path(BUILTIN_MODELS[BUNDLED_MODEL_ID].path)
    assert path.is_file(), f"bundled model missing at {path}: run `make install`"
    return path


@pytest.fixture(scope="session")
def llama_engine(bundled_model_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """One real embedded engine for the session (loading costs ~0.3 s and ~100 MB)."""
    from enclave.engines import create_engine

    settings = load_settings(tmp_path_factory.mktemp("engine-home"), environ=ONE_THREAD)
    engine = create_engine(settings)
    yield engine
    engine.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def llama_server(bundled_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real OpenAI-compatible server (``python -m llama_cpp.server``) on loopback; yields its /v1 URL."""
    pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python's server extras are not installed")
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HTTP_PROXY", "HTTPS_PROXY", "http_", "https_"))}
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(bundled_model_path),
        "--model_alias", BUNDLED_MODEL_ID,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--n_threads", "1", "--n_threads_batch", "1", "--seed", "42",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 90
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}"
                )
            try:
                if httpx.get(f"{base_url}/models", timeout=1.0, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start in 90 s:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


ENCLAVE_BIN = Path(sys.executable).with_name("enclave")


@pytest.fixture
def enclave_cli(home: Path):
    """Run the installed ``enclave`` console script in a subprocess against the test home."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVE_")}
        full_env.update({"ENCLAVE_HOME": str(home), "COLUMNS": "200", "NO_COLOR": "1", **ONE_THREAD, **(env or {})})
        return subprocess.run(
            [str(ENCLAVE_BIN), *args], env=full_env, capture_output=True, text=True, timeout=180, check=False
        )

    return run


def assert_clean_failure(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Non-zero exit, the expected words on stderr, and no Python traceback anywhere."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert "error:" in result.stderr, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr
